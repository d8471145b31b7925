import Histogram
import ParleyModelAPI
import ParleyProtocol
import Synchronization

/// The synthetic model called in-process, with no cluster in between: the floor that the whole
/// cluster's figures are compared with.
enum InProcessReference {
    static func run(options: BenchOptions, concurrency: Int) async -> ReportRow {
        let model = SyntheticModel(
            configuration: .init(
                timeToFirstToken: .milliseconds(options.ttftMilliseconds), tokensPerSecond: options.tokensPerSecond))
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(options.seconds))
        let start = clock.now
        let results = await withTaskGroup(of: Measurements.self) { group in
            for caller in 0..<concurrency {
                group.addTask {
                    var measurements = Measurements()
                    var number = 0
                    try? await Task.sleep(for: options.rampUp * caller / concurrency)
                    while clock.now < deadline {
                        number += 1
                        let request = ModelRequest(
                            requestID: "ref-\(caller)-\(number)", userID: "u\(caller)", model: "synthetic",
                            messages: [ChatMessage(role: "user", content: "Load test prompt \(number)")],
                            sampling: SamplingOptions(maxTokens: options.tokens))
                        let begin = clock.now
                        var first = true
                        do {
                            for try await event in try model.generate(request) {
                                if case .token = event {
                                    if first { measurements.ttft.append(begin.duration(to: clock.now)) }
                                    first = false
                                    measurements.tokens += 1
                                }
                            }
                            measurements.completed += 1
                        } catch {
                            measurements.failed += 1
                        }
                    }
                    return measurements
                }
            }
            var all = Measurements()
            for await part in group { all.merge(part) }
            return all
        }
        let elapsed = seconds(start.duration(to: clock.now))
        var histogram = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        for value in results.ttft { histogram.record(UInt64(max(1, micros(value)))) }
        return ReportRow(
            label: "in-process model", streams: concurrency, completedPerSecond: Double(results.completed) / elapsed,
            ttftP50: Double(histogram.valueAtPercentile(50)) / 1000, ttftP99: Double(histogram.valueAtPercentile(99)) / 1000,
            tokensPerSecond: Double(results.tokens) / elapsed, cpuPerStream: nil, failed: results.failed, added: nil)
    }

    struct Measurements: Sendable {
        var ttft: [Duration] = []
        var tokens = 0
        var completed = 0
        var failed = 0

        mutating func merge(_ other: Measurements) {
            ttft += other.ttft
            tokens += other.tokens
            completed += other.completed
            failed += other.failed
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    let (s, atto) = duration.components
    return Double(s) + Double(atto) / 1e18
}

func micros(_ duration: Duration) -> Int64 {
    let (s, atto) = duration.components
    return s * 1_000_000 + atto / 1_000_000_000_000
}

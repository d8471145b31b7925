import Distributed
import Foundation
import ParleyCluster

/// Round trip, concurrent calls and stream throughput against a server child process.
func benchCalls(into report: inout Report, streams: Bool, calls: Bool) async throws {
    let child = try ChildProcess(arguments: ["serve"])
    defer { child.kill() }
    guard let ready = await child.firstLine(startingWith: "READY"), let port = Int(ready[0]),
        let uid = UInt64(ready[1])
    else { throw ClusterError(.nodeDown, "server child did not start") }
    var settings = ClusterSettings(name: "bench-client")
    settings.runsMembership = false
    let system = try await ClusterSystem.start(settings: settings, logger: quietLogger())
    let serverNode = ClusterNode(name: "bench-server", address: NodeAddress(host: "127.0.0.1", port: port), uid: uid)
    let target = try BenchTarget.resolve(id: ClusterActorID(node: serverNode, path: BenchTarget.path), using: system)

    if calls {
        print("remote calls (sequential round trip)…")
        for i in 0..<3000 { _ = try await target.ping(i) }
        var samples: [Duration] = []
        samples.reserveCapacity(20000)
        let clock = ContinuousClock()
        for i in 0..<20000 {
            let start = clock.now
            _ = try await target.ping(i)
            samples.append(start.duration(to: clock.now))
        }
        samples.sort()
        let p50 = quantile(samples, 0.5).microseconds
        report.add("round trip p50", "\(format(p50)) µs", goal: "≤ 60 µs", met: p50 <= 60)
        report.add("round trip p99", "\(format(quantile(samples, 0.99).microseconds)) µs")

        print("remote calls (64 concurrent callers, 3 s)…")
        let stopAt = ContinuousClock.now.advanced(by: .seconds(3))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    var count = 0
                    while ContinuousClock.now < stopAt {
                        for i in 0..<50 { _ = try await target.ping(i) }
                        count += 50
                    }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        let rate = Double(total) / start.duration(to: .now).seconds
        report.add("calls/s, 64 callers", format(rate, 0), goal: "≥ 100000", met: rate >= 100_000)
    }

    if streams {
        print("stream of small elements…")
        _ = try await consume(target.numbers(100_000))
        let count = 2_000_000
        let start = ContinuousClock.now
        let received = try await consume(target.numbers(count))
        precondition(received == count, "stream delivered \(received) of \(count)")
        let rate = Double(count) / start.duration(to: .now).seconds
        report.add("stream elements/s", format(rate, 0), goal: "≥ 1000000", met: rate >= 1_000_000)
    }
    await system.shutdown()
}

private func consume(_ stream: RemoteStream<Int>) async throws -> Int {
    var count = 0
    for try await _ in stream { count += 1 }
    return count
}

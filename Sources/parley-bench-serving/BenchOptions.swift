import Foundation

/// Command-line options of the serving benchmark.
struct BenchOptions {
    var concurrencies = [1, 64, 256]
    var layouts: [Deployment.Layout] = [.allInOne, .perRole]
    var seconds = 10
    var tokens = 16
    var ttftMilliseconds = 20
    var tokensPerSecond = 1000.0
    var store = true
    /// How long one answer takes the synthetic model (first token, then the rest at its pace).
    var answerDuration: Duration {
        .milliseconds(ttftMilliseconds) + .microseconds(Int64(Double(max(0, tokens - 1)) / tokensPerSecond * 1_000_000))
    }

    /// Over how long the streams' first requests are spread: one answer's duration (at most a quarter
    /// of a run). Started all at once, streams of equal length stay in step and arrive in bursts of
    /// `concurrency` requests, which measures the burst, not the path.
    var rampUp: Duration { min(answerDuration, .seconds(seconds) / 4) }

    /// Set in the benchmark's own child process that serves the bare HTTP reference on this port.
    var serveBare: Int?

    static let usage = """
        usage: parley-bench-serving [--streams 1,64,256] [--layouts all-in-one,per-role] [--seconds 10]
                                    [--tokens 16] [--ttft-ms 20] [--tps 1000] [--no-store]
        """

    static func parse(_ arguments: [String]) -> BenchOptions {
        var options = BenchOptions()
        var iterator = arguments.dropFirst().makeIterator()
        func value(_ flag: String) -> String {
            guard let value = iterator.next() else { fail("\(flag) needs a value") }
            return value
        }
        while let flag = iterator.next() {
            switch flag {
            case "--streams": options.concurrencies = value(flag).split(separator: ",").compactMap { Int($0) }
            case "--layouts":
                options.layouts = value(flag).split(separator: ",").map {
                    guard let layout = Deployment.Layout(rawValue: String($0)) else { fail("unknown layout \($0)") }
                    return layout
                }
            case "--seconds": options.seconds = Int(value(flag)) ?? options.seconds
            case "--tokens": options.tokens = Int(value(flag)) ?? options.tokens
            case "--ttft-ms": options.ttftMilliseconds = Int(value(flag)) ?? options.ttftMilliseconds
            case "--tps": options.tokensPerSecond = Double(value(flag)) ?? options.tokensPerSecond
            case "--no-store": options.store = false
            case "--serve-bare": options.serveBare = Int(value(flag))
            case "--help", "-h":
                print(usage)
                exit(0)
            default: fail("unknown option \(flag)\n\(usage)")
            }
        }
        guard !options.concurrencies.isEmpty, options.concurrencies.allSatisfy({ $0 > 0 }) else {
            fail("--streams needs positive counts")
        }
        return options
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("parley-bench-serving: \(message)\n".utf8))
    exit(1)
}

/// The 1-minute load average from /proc/loadavg.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
}

/// The executables this benchmark starts: `parley` and `parley-load` from the same build folder,
/// and itself (the bare HTTP reference).
struct Binaries {
    var parley: String
    var load: String
    var bench: String

    static func nextTo(_ argument0: String) -> Binaries {
        let folder = URL(fileURLWithPath: argument0).deletingLastPathComponent().path
        let binaries = Binaries(
            parley: folder + "/parley", load: folder + "/parley-load",
            bench: URL(fileURLWithPath: argument0).standardizedFileURL.path)
        for path in [binaries.parley, binaries.load] where !FileManager.default.isExecutableFile(atPath: path) {
            fail("\(path) is missing: build the parley and parley-load products too (tools/bench-serving does)")
        }
        return binaries
    }
}

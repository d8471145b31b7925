import Foundation
import ParleyCluster

// parley-bench-cluster: the cluster runtime's benchmark (tools/bench-cluster). Without arguments it
// runs every measurement, spawning its own server and member processes; `serve` and `member` are
// those child modes.
let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "serve":
    try await runServer()
case "burn":
    runBurner(threads: Int(arguments[1]) ?? 2)
case "member":
    try await runMember(name: arguments[1], port: Int(arguments[2])!, seedPort: arguments.count > 3 ? Int(arguments[3]) : nil)
default:
    let only = Set(arguments)
    var report = Report()
    if only.isEmpty || only.contains("calls") || only.contains("streams") {
        try await benchCalls(into: &report, streams: only.isEmpty || only.contains("streams"),
                             calls: only.isEmpty || only.contains("calls"))
    }
    if only.isEmpty || only.contains("codec") { benchCodec(into: &report) }
    if only.isEmpty || only.contains("detection") { try await benchDetection(into: &report) }
    // Not part of the default run: it takes minutes (`saturation [SECONDS]`, default 300).
    if let at = arguments.firstIndex(of: "saturation") {
        let seconds = arguments.count > at + 1 ? Int(arguments[at + 1]) ?? 300 : 300
        try await benchSaturation(into: &report, seconds: seconds)
    }
    report.print()
}

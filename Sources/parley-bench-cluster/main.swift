import Foundation
import ParleyCluster

// parley-bench-cluster: the cluster runtime's benchmark (tools/bench-cluster). Without arguments it
// runs every measurement, spawning its own server and member processes; `serve` and `member` are
// those child modes.
let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "serve":
    try await runServer()
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
    report.print()
}

// tools/bench-serving: streams through a whole Parley (synthetic model) at several concurrencies,
// next to the same synthetic model called in-process and behind a bare HTTP endpoint (no cluster:
// what HTTP and the load generator alone add); all roles in one process and one process per role.
// See BenchOptions for the knobs.
import Foundation

let options = BenchOptions.parse(CommandLine.arguments)
if let port = options.serveBare {
    try await BareHTTPServer.run(port: port, options: options)
    exit(0)
}
let binaries = Binaries.nextTo(CommandLine.arguments[0])
print("Parley serving benchmark — synthetic model: first token after \(options.ttftMilliseconds) ms, "
    + "\(Int(options.tokensPerSecond)) tokens/s, \(options.tokens) tokens per answer, \(options.seconds) s per run, "
    + "store \(options.store ? "on" : "off"); each run's streams start spread over "
    + "\(Int(seconds(options.rampUp) * 1000)) ms (one answer's length), not all at once")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadAverage())")
print("")

var rows: [ReportRow] = []
for concurrency in options.concurrencies {
    let reference = await InProcessReference.run(options: options, concurrency: concurrency)
    rows.append(reference)
    print(ReportRow.header)
    print(reference.line)
    for layout in [.bareHTTP] + options.layouts {
        do {
            let deployment = try Deployment.start(layout, options: options, binaries: binaries, users: concurrency)
            defer { deployment.stop() }
            let row = try deployment.measure(concurrency: concurrency, options: options, binaries: binaries, reference: reference)
            rows.append(row)
            print(row.line)
        } catch {
            print("\(layout.rawValue) at \(concurrency) streams failed: \(error)")
        }
    }
    print("")
}
print(ReportRow.goals)

import Foundation
import ParleyTestSupport

/// A Parley started for one benchmark run: every role in one `parley dev` process, or one
/// `parley node` process per role, on loopback with free ports and a fresh data folder.
final class Deployment {
    enum Layout: String {
        case allInOne = "all-in-one"
        case perRole = "per-role"
        /// The synthetic model behind a bare HTTP endpoint, no cluster (``BareHTTPServer``).
        case bareHTTP = "HTTP, no cluster"
    }

    let layout: Layout
    let url: String
    let keys: [String]
    /// The process that holds the gateway (all roles in `all-in-one`).
    let gateway: Process
    private let processes: [Process]
    private let folder: String

    private init(layout: Layout, url: String, keys: [String], gateway: Process, processes: [Process], folder: String) {
        self.layout = layout
        self.url = url
        self.keys = keys
        self.gateway = gateway
        self.processes = processes
        self.folder = folder
    }

    /// Starts `layout` with `users` API keys (one user each, so per-user limits never bind) and
    /// waits until the gateway serves a completion.
    static func start(_ layout: Layout, options: BenchOptions, binaries: Binaries, users: Int) throws -> Deployment {
        let folder = NSTemporaryDirectory() + "parley-bench-serving-\(getpid())-\(layout.rawValue)"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let keys = (0..<max(1, users)).map { "pk-bench-\($0)-\(UInt32.random(in: 0...UInt32.max))" }
        let keysFile = folder + "/api-keys"
        try keys.enumerated().map { "\($1) bench-user-\($0)" }.joined(separator: "\n")
            .write(toFile: keysFile, atomically: true, encoding: .utf8)
        let slots = String(max(64, users * 2))
        let model = [
            "--model", "synthetic", "--synthetic-ttft", String(options.ttftMilliseconds),
            "--synthetic-tps", String(options.tokensPerSecond),
        ]
        let http = try freePort()
        let url = "http://127.0.0.1:\(http)"
        var processes: [Process] = []
        let gateway: Process
        do {
            switch layout {
            case .bareHTTP:
                gateway = try launch(
                    binaries.bench,
                    ["--serve-bare", String(http), "--ttft-ms", String(options.ttftMilliseconds),
                     "--tps", String(options.tokensPerSecond)], log: folder + "/bare.log")
                processes.append(gateway)
            case .allInOne:
                gateway = try launch(
                    binaries.parley,
                    ["dev", "--http", "127.0.0.1:\(http)", "--data", folder + "/data", "--api-keys", keysFile,
                     "--rate-limit", "100000000", "--worker-slots", slots] + model, log: folder + "/dev.log")
                processes.append(gateway)
            case .perRole:
                let roles = ["gateway", "completion", "worker", "proxy", "model", "conversation"]
                let ports = try roles.map { _ in try freePort() }
                let seed = "127.0.0.1:\(ports[0])"
                var first: Process?
                for (index, role) in roles.enumerated() {
                    var arguments = [
                        "node", "--name", role, "--roles", role, "--listen", "127.0.0.1:\(ports[index])",
                        "--log-level", "warning",
                    ]
                    if index > 0 { arguments += ["--seed", seed] }
                    switch role {
                    case "gateway": arguments += ["--http", "127.0.0.1:\(http)", "--api-keys", keysFile]
                    case "completion": arguments += ["--rate-limit", "100000000"]
                    case "worker": arguments += ["--worker-slots", slots]
                    case "model": arguments += model
                    case "conversation": arguments += ["--data", folder + "/conversation"]
                    default: break
                    }
                    let process = try launch(binaries.parley, arguments, log: folder + "/\(role).log")
                    processes.append(process)
                    if first == nil { first = process }
                }
                gateway = first!
            }
            let deployment = Deployment(
                layout: layout, url: url, keys: keys, gateway: gateway, processes: processes, folder: folder)
            try deployment.waitUntilServing(load: binaries.load)
            return deployment
        } catch {
            for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw error
        }
    }

    /// Kills every process and removes the data folder.
    func stop() {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs `parley-load` with `concurrency` users and no think time for the benchmark's duration,
    /// and measures the gateway process's CPU time meanwhile.
    func measure(concurrency: Int, options: BenchOptions, binaries: Binaries, reference: ReportRow) throws -> ReportRow {
        var arguments = [
            "--url", url, "--users", String(concurrency), "--duration", String(options.seconds), "--think-time", "0",
            "--model", "synthetic", "--max-tokens", String(options.tokens), "--json", "--quiet",
            "--ramp-up", String(seconds(options.rampUp)),
        ]
        if !options.store { arguments.append("--no-store") }
        for key in keys.prefix(concurrency) { arguments += ["--api-key", key] }
        let cpuBefore = ParleyProcess.cpuSeconds(of: gateway.processIdentifier)
        let output = try runToEnd(binaries.load, arguments)
        let cpuAfter = ParleyProcess.cpuSeconds(of: gateway.processIdentifier)
        guard let object = try JSONSerialization.jsonObject(with: output) as? [String: Any],
            let streams = object["streams"] as? [String: Any], let tokens = object["tokens"] as? [String: Any],
            let ttft = object["time_to_first_token_ms"] as? [String: Any]
        else { throw BenchError("parley-load printed no JSON report: \(String(decoding: output, as: UTF8.self))") }
        let completed = streams["completed"] as? Int ?? 0
        let failed = (streams["failed"] as? Int ?? 0)
        let p50 = ttft["p50"] as? Double ?? 0
        let p99 = ttft["p99"] as? Double ?? 0
        return ReportRow(
            label: layout.rawValue, streams: concurrency, completedPerSecond: streams["per_second"] as? Double ?? 0,
            ttftP50: p50, ttftP99: p99, tokensPerSecond: tokens["per_second"] as? Double ?? 0,
            cpuPerStream: completed > 0 ? (cpuAfter - cpuBefore) / Double(completed) * 1000 : nil, failed: failed,
            added: (p50 - reference.ttftP50, p99 - reference.ttftP99))
    }

    /// Polls one small completion until it succeeds (at most 60 s).
    private func waitUntilServing(load: String) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if processes.contains(where: { !$0.isRunning }) {
                throw BenchError("a \(layout.rawValue) process exited while starting; logs in \(folder)")
            }
            let arguments = [
                "--url", url, "--api-key", keys[0], "--users", "1", "--requests", "1", "--duration", "5",
                "--model", "synthetic", "--max-tokens", "2", "--json", "--quiet", "--no-store",
            ]
            if let output = try? runToEnd(load, arguments),
                let object = try? JSONSerialization.jsonObject(with: output) as? [String: Any],
                (object["streams"] as? [String: Any])?["completed"] as? Int == 1
            {
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw BenchError("\(layout.rawValue) did not serve within 60 s; logs in \(folder)")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port that was free a moment ago (bound to port 0, then closed).
func freePort() throws -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw BenchError("socket() failed") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
        }
    }
    guard bound else { throw BenchError("bind() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Starts `path ARGUMENTS` with its output going to `log`.
func launch(_ path: String, _ arguments: [String], log: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

/// Runs `path ARGUMENTS` to its end and answers its standard output.
func runToEnd(_ path: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return data
}

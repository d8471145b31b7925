import Foundation
import ParleyTestSupport

/// Three (or more) `parley node --roles conversation` processes on loopback: data folders under one
/// temporary root, a shared cluster key, `c0` the seed of the others. With `faultControl`, every
/// node runs with its own `PARLEY_FAULT_FILE` (the partition test hook of `parley node`), so a
/// test can cut and heal links with ``cut(_:)``.
final class ConversationNodes: @unchecked Sendable {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-conv-\(UUID().uuidString)")
    let keyFile: String
    let faultControl: Bool
    var processes: [String: ParleyProcess] = [:]
    var ports: [String: Int] = [:]

    init(faultControl: Bool = false) throws {
        self.faultControl = faultControl
        keyFile = try temporaryKeyFile("conversation-process-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    var seed: String { "127.0.0.1:\(ports["c0"]!)" }
    var clientArguments: [String] { ["--seed", seed, "--cluster-key", keyFile] }

    /// Client arguments that join through node `name` instead of the seed.
    func clientArguments(through name: String) -> [String] {
        ["--seed", "127.0.0.1:\(ports[name]!)", "--cluster-key", keyFile]
    }

    func faultFile(_ name: String) -> URL { root.appendingPathComponent("fault-\(name)") }

    /// Starts (or restarts, on its old port and folder) node `name`; with fault control, also
    /// waits until its signal handler is armed.
    func start(_ name: String) async throws {
        var arguments = [
            "node", "--name", name, "--roles", "conversation", "--listen", "127.0.0.1:\(ports[name] ?? 0)",
            "--data", root.appendingPathComponent(name).path, "--cluster-key", keyFile, "--log-level", "warning",
        ]
        if name != "c0" { arguments += ["--seed", seed] }
        var environment: [String: String] = [:]
        if faultControl {
            if !FileManager.default.fileExists(atPath: faultFile(name).path) { try Data().write(to: faultFile(name)) }
            environment["PARLEY_FAULT_FILE"] = faultFile(name).path
        }
        let process = try ParleyProcess(arguments, environment: environment)
        processes[name] = process
        let line = try await process.waitForLine(containing: "listening on", timeout: .seconds(30))
        let words = line.split(separator: " ")
        guard let at = words.firstIndex(of: "on"), let port = Int(words[at + 1].split(separator: ":").last ?? "") else {
            throw TestFailure("unexpected ready line: \(line)")
        }
        ports[name] = port
        if faultControl { _ = try await process.waitForLine(containing: "fault control armed", timeout: .seconds(10)) }
    }

    /// Makes each node of `drops` drop frames from the nodes listed for it (an empty list heals
    /// that node): writes its fault file, sends SIGUSR1 and waits until the node confirms.
    func cut(_ drops: [String: [String]]) async throws {
        for (name, peers) in drops {
            guard let process = processes[name], process.isRunning else { continue }
            let confirmation = "drops frames from [\(peers.sorted().joined(separator: ","))]"
            let before = process.output.filter { $0.contains(confirmation) }.count
            try Data(peers.joined(separator: "\n").utf8).write(to: faultFile(name))
            Foundation.kill(process.pid, SIGUSR1)
            let deadline = ContinuousClock.now + .seconds(10)
            while process.output.filter({ $0.contains(confirmation) }).count <= before {
                guard ContinuousClock.now < deadline else { throw TestFailure("\(name) did not confirm \(confirmation)") }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// The member statuses (name → status of its newest entry) as node `name` sees them, or `nil`
    /// when it does not answer.
    func view(from name: String) async -> [String: String]? {
        guard let port = ports[name], processes[name]?.isRunning == true,
            let process = try? ParleyProcess(
                ["cluster", "status", "--seed", "127.0.0.1:\(port)", "--json", "--timeout", "2", "--cluster-key", keyFile])
        else { return nil }
        defer { process.kill() }
        guard let line = try? await process.waitForLine(containing: "{\"", timeout: .seconds(5)),
            let status = try? JSONDecoder().decode(ClusterStatusJSON.self, from: Data(line.utf8))
        else { return nil }
        var result: [String: (incarnation: UInt64, status: String)] = [:]
        for member in status.members {
            // A restarted node is a new member under the same name: keep the live entry.
            if let known = result[member.name], known.status == "alive" { continue }
            result[member.name] = (member.incarnation, member.status)
        }
        return result.mapValues(\.status)
    }

    func stop() {
        for process in processes.values { process.kill() }
        try? FileManager.default.removeItem(at: root)
        try? FileManager.default.removeItem(atPath: keyFile)
    }
}

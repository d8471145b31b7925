import Foundation
import ParleyTestSupport
import Synchronization
import Testing

/// `parley cluster status --json` as decoded by the tests (DESIGN.md's shape).
struct ClusterStatusJSON: Decodable {
    struct Member: Decodable {
        var name: String
        var address: String
        var roles: [String]
        var status: String
        var incarnation: UInt64
        var region: String?
        var uid: String?
    }

    var `self`: String
    var members: [Member]
}

/// A few `parley node` processes on loopback with free ports, sharing one cluster key; the first is
/// the seed of the others. `killAll()` kills every process it started.
final class NodeCluster: @unchecked Sendable {
    let names: [String]
    let roles: [String: String]
    /// More arguments per node (HTTP address, model, data folder, …).
    let extraArguments: [String: [String]]
    let keyFile: String
    private(set) var processes: [String: ParleyProcess] = [:]
    private(set) var ports: [String: Int] = [:]
    private(set) var uids: [String: String] = [:]
    private var helpers: [ParleyProcess] = []

    var seedAddress: String { "127.0.0.1:\(ports[names[0]]!)" }
    var keyArguments: [String] { ["--cluster-key", keyFile] }

    init(names: [String], roles: [String], extraArguments: [String: [String]] = [:]) async throws {
        self.names = names
        self.roles = Dictionary(uniqueKeysWithValues: zip(names, roles))
        self.extraArguments = extraArguments
        self.keyFile = try temporaryKeyFile("test-cluster-key-\(UUID().uuidString)")
        do {
            for name in names { try await start(name, port: 0) }
        } catch {
            killAll()
            throw error
        }
    }

    /// Starts (or starts again) node `name` on `port` and waits for its ready line.
    private func start(_ name: String, port: Int) async throws {
        var arguments = ["node", "--name", name, "--listen", "127.0.0.1:\(port)"] + keyArguments
        if let roles = roles[name], !roles.isEmpty { arguments += ["--roles", roles] }
        if name != names[0] { arguments += ["--seed", seedAddress] }
        arguments += extraArguments[name] ?? []
        let process = try ParleyProcess(arguments)
        processes[name] = process
        // "parley node NAME listening on HOST:PORT uid HEX roles …"
        let line = try await process.waitForLine(containing: "listening on", timeout: .seconds(30))
        let words = line.split(separator: " ").map(String.init)
        guard let at = words.firstIndex(of: "on"), let uidAt = words.firstIndex(of: "uid"),
            let port = Int(words[at + 1].split(separator: ":").last ?? "")
        else { throw TestFailure("unexpected ready line: \(line)") }
        ports[name] = port
        uids[name] = words[uidAt + 1]
    }

    /// SIGKILL, without a restart.
    func kill(_ name: String) {
        processes[name]?.kill()
    }

    /// SIGKILL then start again on the same port (a new incarnation).
    func restart(_ name: String) async throws {
        processes[name]?.kill()
        try await start(name, port: ports[name]!)
    }

    func killAll() {
        for process in processes.values { process.kill() }
        for process in helpers { process.kill() }
        try? FileManager.default.removeItem(atPath: keyFile)
    }

    /// One `parley cluster status --json` answer from the seed.
    func status(from node: String? = nil) async throws -> ClusterStatusJSON {
        let address = node.map { "127.0.0.1:\(ports[$0]!)" } ?? seedAddress
        let process = try ParleyProcess(
            ["cluster", "status", "--seed", address, "--json", "--timeout", "2"] + keyArguments)
        defer { process.kill() }
        let line = try await process.waitForLine(containing: "{\"members\"", timeout: .seconds(10))
        return try JSONDecoder().decode(ClusterStatusJSON.self, from: Data(line.utf8))
    }

    /// Polls the seed's status (every 200 ms) until `condition` holds, failing after `limit`.
    @discardableResult
    func waitForStatus(
        within limit: Duration, _ condition: (ClusterStatusJSON) -> Bool
    ) async throws -> ClusterStatusJSON {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var last: ClusterStatusJSON?
        while ContinuousClock.now < deadline {
            if let status = try? await status() {
                if condition(status) { return status }
                last = status
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure(
            "status condition not met within \(limit); last: \(last.map { $0.members.map { "\($0.name) \($0.status)" } } ?? [])")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension ParleyProcess {
    /// Waits (polling the output every 50 ms) for a line that contains every one of `parts`.
    @discardableResult
    func waitForLine(containing first: String, and second: String, timeout: Duration) async throws -> String {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if let line = output.first(where: { $0.contains(first) && $0.contains(second) }) { return line }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure(
            "no line with \"\(first)\" and \"\(second)\" within \(timeout); last output:\n"
                + output.suffix(30).joined(separator: "\n"))
    }
}

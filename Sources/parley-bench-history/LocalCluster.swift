import Distributed
import Foundation
import Logging
import ParleyCluster
import ParleyConversation
import ParleyProtocol
import ParleyTestSupport

/// Three (or more) `parley node --roles conversation` processes on loopback with their own data
/// folders and a shared cluster key, plus a client `ClusterSystem` (no roles) that joins them to
/// call their `ConversationStore`s and read their partition digests. `stop()` kills every process.
final class LocalCluster: @unchecked Sendable {
    let root: URL
    let names: [String]
    let keyFile: String
    private(set) var processes: [String: ParleyProcess] = [:]
    private(set) var ports: [String: Int] = [:]
    private(set) var client: ClusterSystem!

    init(root: URL, names: [String], seed: String? = nil, keyFile: String? = nil) {
        self.root = root
        self.names = names
        self.keyFile = keyFile ?? root.appendingPathComponent("cluster-key").path
    }

    /// Starts every node (the first is the seed of the others) and the client, and waits until
    /// the client sees every node as a `conversation` member.
    func start() async throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: keyFile) {
            try Data("bench-cluster-key-\(UUID().uuidString)\n".utf8).write(to: URL(fileURLWithPath: keyFile))
        }
        for name in names { try await startNode(name) }
        var settings = ClusterSettings(name: "client-\(getpid())", seeds: [seedAddress])
        settings.apiVersion = parleyAPIVersion
        settings.clusterKey = Array(
            String(decoding: FileManager.default.contents(atPath: keyFile)!, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        client = try await ClusterSystem.start(
            settings: settings, logger: Logger(label: "client", factory: { _ in SwiftLogNoOpLogHandler() }))
        client.allowParleyProtocols()
        try await waitForRing(names: Set(names))
        for name in names { try await waitForStore(name) }
    }

    /// Waits (polling every 50 ms) until the `ConversationStore` of `name` answers: a node is a
    /// ring member as soon as it joined, a little before its conversation role has opened the
    /// database and registered the store.
    func waitForStore(_ name: String, within limit: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + limit
        while true {
            do {
                _ = try await store(name).listConversations(owner: "bench-readiness-probe", limit: 1, cursor: nil)
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw BenchFailure("the store of \(name) never answered: \(error)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    var seedAddress: NodeAddress { NodeAddress(host: "127.0.0.1", port: ports[names[0]]!) }

    /// Starts `name` (again) on its folder; on a restart, on its old port.
    func startNode(_ name: String) async throws {
        let port = ports[name] ?? 0
        var arguments = [
            "node", "--name", name, "--roles", "conversation", "--listen", "127.0.0.1:\(port)",
            "--data", root.appendingPathComponent(name).path, "--cluster-key", keyFile, "--log-level", "warning",
        ]
        if name != names[0] { arguments += ["--seed", seedAddress.description] }
        let process = try ParleyProcess(arguments)
        processes[name] = process
        let line = try await process.waitForLine(containing: "listening on", timeout: .seconds(60))
        let words = line.split(separator: " ")
        guard let at = words.firstIndex(of: "on"), let port = Int(words[at + 1].split(separator: ":").last ?? "") else {
            throw BenchFailure("unexpected ready line: \(line)")
        }
        ports[name] = port
    }

    /// CPU seconds used so far by the node processes together.
    var nodesCPUSeconds: Double { processes.values.reduce(0) { $0 + $1.cpuSeconds } }

    /// SIGKILL of one node.
    func kill(_ name: String) { processes[name]?.kill() }

    func stop() async {
        for process in processes.values { process.kill() }
        await client?.shutdown()
    }

    /// The live conversation members as the client sees them, by name.
    var liveNodes: [String: ClusterNode] {
        var nodes: [String: ClusterNode] = [:]
        for member in client.members where member.status == .alive && member.roles.contains("conversation") {
            nodes[member.node.name] = member.node
        }
        return nodes
    }

    /// Waits (polling every 50 ms) until the client's conversation ring holds exactly `names`.
    func waitForRing(names: Set<String>, within limit: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + limit
        while Set(client.ring(role: "conversation").nodes.map(\.name)) != names {
            guard ContinuousClock.now < deadline else { throw BenchFailure("ring never held \(names.sorted())") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The store of a live node (by name) as a remote stub.
    func store(_ name: String) throws -> $ConversationStoreProtocol {
        guard let node = liveNodes[name] else { throw BenchFailure("\(name) is not a live member") }
        return try $ConversationStoreProtocol.resolve(id: ClusterActorID(node: node, path: ConversationStore.path), using: client)
    }

    /// Digests of every live node, by name (nodes that do not answer are left out).
    func digests() async -> [String: [PartitionDigest]] {
        var result: [String: [PartitionDigest]] = [:]
        for (name, node) in liveNodes {
            if let digests = try? await ClusterSystem.withCallTimeout(.seconds(5), {
                try await ReplicaProbe.digests(of: node, using: client)
            }) {
                result[name] = digests
            }
        }
        return result
    }

    /// Whether every one of `names` answered with the same digests.
    func digestsAgree(_ names: [String]) async -> Bool {
        let all = await digests()
        guard let first = all[names[0]] else { return false }
        return names.allSatisfy { all[$0] == first }
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import Foundation
import Logging
import ParleyCluster
import ParleyConversation
import ParleyProtocol
import Synchronization

/// `parley-bench-history drive …`: a client cluster member that drives and checks conversation
/// nodes for the multi-process tests (Tests/ParleyIntegrationTests/Conversation). Every command
/// takes `--seed HOST:PORT --cluster-key FILE`.
///
/// - `drive load --owners N --writers W --nodes N`: waits for N conversation nodes, creates one
///   conversation per owner (printing `conversation OWNER ID`), prints `load started`, then appends
///   forever through all nodes in turn, printing `ack OWNER CONVERSATION MESSAGE` for every
///   acknowledged append. `--conversations FILE` appends to the conversations of the
///   `conversation` lines of FILE instead of creating new ones; `--only A,B` writes through those
///   nodes only.
/// - `drive verify --acks FILE`: reads the `ack` lines of FILE and reads every conversation back
///   through every live conversation node; prints `verified N acknowledged messages, M missing`
///   (exit status 1 when M > 0).
/// - `drive converge --nodes N --within SECONDS`: waits until N conversation nodes answer with
///   equal partition digests; prints `converged after MS ms` (exit status 1 on timeout).
/// - `drive digest --only A,B`: waits for those nodes and prints `digest NODE ROWS FINGERPRINT`
///   for each (a fingerprint of its partition digests).
///
/// Also: `--name NAME` (the client's member name, default `driver-PID`) and `--drop A,B` (the
/// client drops every frame from those nodes: its side of a test partition, see
/// `ClusterSystem.dropFrames(fromNodesNamed:)`).
enum Driver {
    static func run(_ arguments: [String]) async throws -> Int32 {
        var named: [String: String] = [:]
        var i = 1
        while i + 1 < arguments.count {
            named[String(arguments[i].drop { $0 == "-" })] = arguments[i + 1]
            i += 2
        }
        guard let seedText = named["seed"], let seed = NodeAddress(parsing: seedText), let keyFile = named["cluster-key"]
        else { throw BenchFailure("drive needs --seed HOST:PORT and --cluster-key FILE") }
        var settings = ClusterSettings(name: named["name"] ?? "driver-\(getpid())", seeds: [seed])
        settings.apiVersion = parleyAPIVersion
        settings.clusterKey = Array(
            String(decoding: FileManager.default.contents(atPath: keyFile) ?? Data(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        let system = try await ClusterSystem.start(
            settings: settings, logger: Logger(label: "driver", factory: { _ in SwiftLogNoOpLogHandler() }))
        system.allowParleyProtocols()
        system.dropFrames(fromNodesNamed: Set(list(named["drop"])))
        defer { Task { await system.shutdown() } }
        let nodes = Int(named["nodes"] ?? "3") ?? 3
        switch arguments[0] {
        case "load":
            let only = Set(list(named["only"]))
            let existing = try named["conversations"].map(conversations(listedIn:))
            try await load(
                system, nodes: nodes, owners: Int(named["owners"] ?? "16")!, writers: Int(named["writers"] ?? "8")!,
                only: only, existing: existing)
            return 0
        case "verify":
            try await waitForNodes(system, count: nodes)
            return try await verify(system, acks: named["acks"] ?? "")
        case "digest":
            return try await digest(system, only: list(named["only"]))
        case "converge":
            return try await converge(system, nodes: nodes, within: .seconds(Double(named["within"] ?? "10")!))
        default:
            throw BenchFailure("unknown drive command \(arguments[0])")
        }
    }

    /// The comma-separated items of `text` (none when `nil`).
    static func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The `conversation OWNER ID` lines of the file at `path`, as owner → conversation id.
    static func conversations(listedIn path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw BenchFailure("cannot read \(path)") }
        var result: [String: String] = [:]
        for entry in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let words = entry.split(separator: " ").map(String.init)
            if words.count == 3, words[0] == "conversation" { result[words[1]] = words[2] }
        }
        guard !result.isEmpty else { throw BenchFailure("no conversation lines in \(path)") }
        return result
    }

    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func conversationNodes(_ system: ClusterSystem) -> [ClusterNode] {
        system.members.filter { $0.status == .alive && $0.roles.contains("conversation") }.map(\.node)
            .sorted { $0.name < $1.name }
    }

    static func waitForNodes(_ system: ClusterSystem, count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while conversationNodes(system).count < count || system.ring(role: "conversation").nodes.count < count {
            guard ContinuousClock.now < deadline else { throw BenchFailure("fewer than \(count) conversation nodes") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    static func store(on node: ClusterNode, _ system: ClusterSystem) throws -> $ConversationStoreProtocol {
        try $ConversationStoreProtocol.resolve(id: ClusterActorID(node: node, path: ConversationStore.path), using: system)
    }

    static func load(
        _ system: ClusterSystem, nodes: Int, owners count: Int, writers: Int, only: Set<String>,
        existing: [String: String]?
    ) async throws {
        try await waitForNodes(system, count: nodes)
        @Sendable func conversationNodes(_ system: ClusterSystem) -> [ClusterNode] {
            Driver.conversationNodes(system).filter { only.isEmpty || only.contains($0.name) }
        }
        let owners = existing.map { $0.keys.sorted() } ?? (0..<count).map { "driver-user-\($0)" }
        var conversations: [String: String] = existing ?? [:]
        if existing == nil {
            for (index, owner) in owners.enumerated() {
                let targets = conversationNodes(system)
                let id = try await store(on: targets[index % targets.count], system)
                    .createConversation(owner: owner, title: owner, model: nil).id
                conversations[owner] = id
                line("conversation \(owner) \(id)")
            }
        }
        let ids = conversations
        line("load started")
        await withTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    var step = 0
                    while true {
                        step += 1
                        let owner = owners[(w + step * writers) % owners.count]
                        let targets = conversationNodes(system)
                        guard !targets.isEmpty else {
                            try? await Task.sleep(for: .milliseconds(10))
                            continue
                        }
                        do {
                            let message = try await ClusterSystem.withCallTimeout(.seconds(5)) {
                                try await store(on: targets[(w + step) % targets.count], system).appendMessage(
                                    owner: owner, conversationID: ids[owner]!,
                                    MessageDraft(role: .user, content: "writer \(w) step \(step)"))
                            }
                            line("ack \(owner) \(ids[owner]!) \(message.id)")
                        } catch {
                            line("failed \(owner): \(error)")
                        }
                    }
                }
            }
        }
    }

    static func verify(_ system: ClusterSystem, acks path: String) async throws -> Int32 {
        let text = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        var expected: [String: (owner: String, ids: Set<String>)] = [:]
        var total = 0
        for entry in text.split(separator: "\n") {
            let words = entry.split(separator: " ").map(String.init)
            guard words.count == 4, words[0] == "ack" else { continue }
            expected[words[2], default: (words[1], [])].ids.insert(words[3])
            total += 1
        }
        var missing = 0
        for node in conversationNodes(system) {
            let store = try store(on: node, system)
            var missingHere = 0
            for (conversation, entry) in expected {
                let details = try await store.conversation(owner: entry.owner, id: conversation)
                missingHere += entry.ids.subtracting(details.messages.map(\.id)).count
            }
            line("read through \(node.name): \(missingHere) of \(total) acknowledged messages missing")
            missing += missingHere
        }
        line("verified \(total) acknowledged messages, \(missing) missing")
        return missing == 0 && total > 0 ? 0 : 1
    }

    static func digest(_ system: ClusterSystem, only: [String]) async throws -> Int32 {
        let deadline = ContinuousClock.now + .seconds(30)
        for name in only {
            while true {
                if let node = conversationNodes(system).first(where: { $0.name == name }),
                    let answer = try? await ClusterSystem.withCallTimeout(.seconds(2), {
                        try await ReplicaProbe.digests(of: node, using: system)
                    })
                {
                    var fingerprint: UInt64 = 0xcbf2_9ce4_8422_2325
                    for byte in answer.map({ "\($0)" }).joined(separator: "|").utf8 {
                        fingerprint = (fingerprint ^ UInt64(byte)) &* 0x100_0000_01b3
                    }
                    line("digest \(name) \(answer.reduce(0) { $0 + $1.rowCount }) \(String(fingerprint, radix: 16))")
                    break
                }
                guard ContinuousClock.now < deadline else { throw BenchFailure("no digests from \(name)") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return 0
    }

    static func converge(_ system: ClusterSystem, nodes: Int, within limit: Duration) async throws -> Int32 {
        let start = ContinuousClock.now
        try await waitForNodes(system, count: nodes)
        var last: [String: [PartitionDigest]] = [:]
        while ContinuousClock.now < start + limit {
            var digests: [String: [PartitionDigest]] = [:]
            for node in conversationNodes(system) {
                if let answer = try? await ClusterSystem.withCallTimeout(.seconds(2), {
                    try await ReplicaProbe.digests(of: node, using: system)
                }) {
                    digests[node.name] = answer
                }
            }
            last = digests
            if digests.count >= nodes, Set(digests.values.map { $0.map { "\($0)" } }).count == 1 {
                line("converged after \(Int((ContinuousClock.now - start).seconds * 1000)) ms")
                return 0
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        line("diverged: " + last.map { "\($0.key) \($0.value.count) partitions \($0.value.reduce(0) { $0 + $1.rowCount }) rows" }.joined(separator: "; "))
        return 1
    }
}

import Foundation
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Synchronization
import Testing

/// Three conversation nodes in one process: placement, replicated writes, crash under load,
/// restart catch-up and divergent writes healing.
@Suite("Conversation replication across nodes", .serialized)
struct ReplicationClusterTests {
    /// The store of `member` as a remote stub seen from `caller` (the gateway's path).
    func remoteStore(_ member: ReplicaCluster.Member, from caller: ReplicaCluster.Member) throws
        -> $ConversationStoreProtocol
    {
        try $ConversationStoreProtocol.resolve(id: member.store.id, using: caller.system!)
    }

    @Test func writeOnOneReadFromAnother() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()

            let writer = try remoteStore(cluster[0], from: cluster[1])
            let summary = try await writer.createConversation(owner: "alice", title: "Trip", model: "m")
            let first = try await writer.appendMessage(
                owner: "alice", conversationID: summary.id, MessageDraft(role: .user, content: "hello replicas"))
            _ = try await writer.appendMessage(
                owner: "alice", conversationID: summary.id, MessageDraft(role: .assistant, content: "hi"))

            // Acknowledged on two replicas; the conversation read (with read repair) sees it anywhere.
            for index in 0..<3 {
                let reader = try remoteStore(cluster[index], from: cluster[(index + 1) % 3])
                let details = try await reader.conversation(owner: "alice", id: summary.id)
                #expect(details.messages.map(\.content) == ["hello replicas", "hi"])
                let page = try await reader.listConversations(owner: "alice", limit: nil, cursor: nil)
                if index == 0 { #expect(page.data.map(\.id).contains(summary.id)) }
            }
            // Another owner sees nothing of it, on any node.
            await #expect(throws: (any Error).self) {
                _ = try await remoteStore(cluster[2], from: cluster[0]).conversation(owner: "mallory", id: summary.id)
            }
            // Every replica ends up with identical partitions.
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            let onThird = try await cluster[2].database.visibleBranch(owner: "alice", conversationID: summary.id)
            #expect(onThird.first?.id == first.id)
            // Search works through the wire.
            let hits = try await remoteStore(cluster[2], from: cluster[1]).search(
                owner: "alice", ConversationSearchRequest(query: "replicas"))
            #expect(hits.data.map(\.messageID) == [first.id])
        }
    }

    /// A replica crashes in the middle of a write load: every write acknowledged before or after
    /// is readable afterwards; the restarted node's digests equal the others' within 10 s.
    @Test func crashUnderLoadLosesNoAcknowledgedWrite() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owners = (0..<8).map { "user-\($0)" }
            var conversations: [String: String] = [:]
            for owner in owners {
                conversations[owner] = try await cluster[0].store.createConversation(owner: owner, title: owner, model: nil).id
            }
            let conversationIDs = conversations
            // Every replica holds the conversations before the load (a write reaching a replica the
            // conversation has not reached yet depends on a read repair that may time out on a loaded
            // machine; that is not what this test is about).
            try await eventually(within: .seconds(10), "conversations on every replica") { try await cluster.digestsAgree() }

            let acknowledged = Acknowledged()
            let stores = [cluster[0].store, cluster[1].store]  // node 2 is the one that crashes
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for worker in 0..<8 {
                        group.addTask {
                            for step in 0..<60 {
                                let owner = owners[(worker + step) % owners.count]
                                let store = stores[(worker + step) % stores.count]
                                do {
                                    let message = try await store.appendMessage(
                                        owner: owner, conversationID: conversationIDs[owner]!,
                                        MessageDraft(role: .user, content: "w\(worker) s\(step)"))
                                    acknowledged.add(owner: owner, id: message.id)
                                } catch {
                                    acknowledged.fail(error)
                                }
                            }
                        }
                    }
                }
            }
            // Crash node 2 once the load is under way.
            try await eventually(within: .seconds(20), "load started") { acknowledged.all.count >= 40 }
            await cluster.stop(2)
            await load.value
            let acked = acknowledged.all
            #expect(acked.count == 8 * 60, "writes to live coordinators are all acknowledged; failures: \(acknowledged.failures)")

            // Every acknowledged write is readable from each surviving node.
            for index in 0..<2 {
                for owner in owners {
                    let details = try await cluster[index].store.conversation(owner: owner, id: conversationIDs[owner]!)
                    let ids = Set(details.messages.map(\.id))
                    for write in acked where write.owner == owner {
                        #expect(ids.contains(write.id), "node \(index) misses an acknowledged write")
                    }
                }
            }

            // Restart node 2 on its data folder: it catches up without any manual step.
            let restarted = ContinuousClock.now
            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "digests agree after restart") { try await cluster.digestsAgree() }
            let catchUp = ContinuousClock.now - restarted
            print("replication: restarted node converged in \(catchUp) (\(acked.count) acknowledged writes under a crash)")
            for owner in owners {
                let details = try await cluster[2].database.conversation(owner: owner, id: conversationIDs[owner]!)
                #expect(details.messages.count == acked.filter { $0.owner == owner }.count)
            }
        }
    }

    /// Node 2 is cut off (stopped); both sides write to the same conversations (messages, a
    /// rename on each side, a deletion on the cut-off side); after healing, all replicas hold
    /// identical content.
    @Test func divergentWritesConverge() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let store = cluster[0].store
            let shared = try await store.createConversation(owner: "bob", title: "shared", model: nil)
            let doomed = try await store.createConversation(owner: "bob", title: "doomed", model: nil)
            _ = try await store.appendMessage(owner: "bob", conversationID: shared.id, MessageDraft(role: .user, content: "before"))
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }

            await cluster.stop(2)
            try await cluster.waitForRing()
            // The majority side writes.
            _ = try await cluster[1].store.appendMessage(
                owner: "bob", conversationID: shared.id, MessageDraft(role: .assistant, content: "majority side"))
            _ = try await cluster[0].store.update(owner: "bob", id: shared.id, patch: ConversationPatch(title: "renamed A"))
            // The cut-off side writes to its own database (as a node accepting writes while isolated).
            let isolated = try ConversationDatabase(
                configuration: .init(path: cluster[2].folder.appendingPathComponent("conversations.sqlite").path),
                logger: ReplicaCluster.logger)
            _ = try await isolated.appendMessage(
                owner: "bob", conversationID: shared.id, NewMessage(role: .user, content: "minority side"))
            _ = try await isolated.update(owner: "bob", id: shared.id, patch: ConversationPatch(pinned: true))
            try await isolated.deleteConversation(owner: "bob", id: doomed.id)
            let isolatedDigests = try await isolated.digests()
            #expect(try await isolatedDigests != cluster[0].database.digests())

            // Heal.
            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "digests agree after healing") { try await cluster.digestsAgree() }
            var views: [ConversationDetails] = []
            for index in 0..<3 {
                views.append(try await cluster[index].database.conversation(owner: "bob", id: shared.id))
                await #expect(throws: ConversationError.self) {
                    _ = try await cluster[index].database.conversation(owner: "bob", id: doomed.id)
                }
            }
            #expect(Set(views[0].messages.map(\.content)) == ["before", "majority side", "minority side"])
            #expect(views[0].summary.title == "renamed A")
            #expect(views[0].summary.pinned)
            #expect(views.allSatisfy { $0 == views[0] })
            withExtendedLifetime(isolated) {}
        }
    }

    /// Not a pass/fail figure: replicated appends per second on three in-process nodes.
    @Test func measureReplicatedAppends() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owners = (0..<32).map { "bench-\($0)" }
            var ids: [String] = []
            for owner in owners { ids.append(try await cluster[0].store.createConversation(owner: owner, title: "b", model: nil).id) }
            let conversationIDs = ids
            let perWorker = 100
            let store = cluster[0].store
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<owners.count {
                    group.addTask {
                        for step in 0..<perWorker {
                            _ = try await store.appendMessage(
                                owner: owners[worker], conversationID: conversationIDs[worker],
                                MessageDraft(role: .user, content: "message \(step) of a realistic length, some words"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let total = owners.count * perWorker
            print("replication: \(total) replicated appends in \(elapsed) = \(Int(Double(total) / seconds))/s (3 in-process nodes, 32 writers)")
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
        }
    }
}

/// Writes acknowledged so far, shared by the writer tasks.
final class Acknowledged: Sendable {
    private let writes = Mutex<[(owner: String, id: String)]>([])

    private let errors = Mutex<[String]>([])

    func add(owner: String, id: String) { writes.withLock { $0.append((owner, id)) } }

    func fail(_ error: any Error) { errors.withLock { $0.append(String(describing: error)) } }

    var failures: [String] { errors.withLock { $0 } }

    var all: [(owner: String, id: String)] { writes.withLock { $0 } }
}

import Foundation
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// Replication beyond plain writes: batched pushes, hints that survive a coordinator restart, and
/// the generation log replicated so a resume works after its primary node is gone.
@Suite("Conversation replication: batching, durable hints, generation log", .serialized)
struct ReplicationDurabilityTests {
    /// Index of the member that is the primary replica of `owner`'s partition.
    func primary(of owner: String, in cluster: ReplicaCluster) throws -> Int {
        let router = cluster[0].node!.router
        let name = try #require(router.replicas(ofPartition: router.database.partition(ofOwner: owner)).first).name
        return try #require(cluster.members.firstIndex { $0.name == name })
    }

    @Test func concurrentWritesShareRemoteCallsAndAllReachEveryReplica() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owners = (0..<32).map { "batch-\($0)" }
            var ids: [String] = []
            for owner in owners { ids.append(try await cluster[0].store.createConversation(owner: owner, title: "b", model: nil).id) }
            let conversationIDs = ids
            let store = cluster[0].store
            let before = cluster[0].node!.router.currentStats
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in owners.indices {
                    group.addTask {
                        for step in 0..<20 {
                            _ = try await store.appendMessage(
                                owner: owners[worker], conversationID: conversationIDs[worker],
                                MessageDraft(role: .user, content: "message \(step)"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            // A write returns after its first replica took it; the push to the other one may still be
            // on its way (anti-entropy may even have delivered its rows already): wait for every outcome.
            let router = cluster[0].node!.router
            try await eventually(within: .seconds(10), "every push answered") {
                let stats = router.currentStats
                return stats.pushesAcknowledged + stats.pushesFailed - before.pushesAcknowledged - before.pushesFailed
                    >= 2 * owners.count * 20
            }
            let stats = router.currentStats
            let pushes = stats.pushesAcknowledged - before.pushesAcknowledged
            let calls = stats.pushCalls - before.pushCalls
            // 640 writes, each pushed to two replicas; concurrent ones travel together (a push that
            // timed out on a loaded machine became a hint instead).
            #expect(pushes + stats.pushesFailed - before.pushesFailed >= 2 * owners.count * 20)
            #expect(calls * 2 <= pushes, "\(pushes) pushes in \(calls) calls")
        }
    }

    @Test func hintsSurviveACoordinatorRestartAndAreHandedOver() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let conversation = try await cluster[0].store.createConversation(owner: "hinted", title: "h", model: nil)
            _ = try await cluster[0].store.appendMessage(
                owner: "hinted", conversationID: conversation.id, MessageDraft(role: .user, content: "kept for later"))
            let absent = cluster[2].system!.node
            await cluster.stop(2)
            // A push to the stopped replica fails and is stored as a hint.
            let rows = ReplicaBatchWire(try await cluster[0].database.replicationRows(conversationID: conversation.id))
            let delivered = await cluster[0].node!.router.send([rows], to: absent)
            #expect(!delivered)
            // (The background pushes of the writes above may have missed the replica too.)
            let hints = try await cluster[0].node!.router.pendingHints()
            #expect(hints >= 1)
            // The coordinator crashes and comes back: the hints are still there.
            await cluster.stop(0)
            try await cluster.start(0)
            #expect(try await cluster[0].node!.router.pendingHints() == hints)
            // The replica returns on its address: the hint is handed over and dropped.
            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "hint delivered") {
                try await cluster[0].node!.router.pendingHints() == 0
            }
            #expect(cluster[0].node!.router.currentStats.hintsDelivered == hints)
            let onReplica = try await cluster[2].database.conversation(owner: "hinted", id: conversation.id)
            #expect(onReplica.messages.map(\.content) == ["kept for later"])
        }
    }

    @Test func aRestartedNodeResumesTheChangeFeedInsteadOfPullingSnapshots() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let conversation = try await cluster[0].store.createConversation(owner: "resumer", title: "r", model: nil)
            _ = try await cluster[0].store.appendMessage(
                owner: "resumer", conversationID: conversation.id, MessageDraft(role: .user, content: "before"))
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            // Node 2's anti-entropy finds it in step with its peers and remembers their feed positions
            // (of both: a peer without a stored cursor would send a snapshot after the restart).
            try await eventually(within: .seconds(10), "node 2 knows its peers' feeds") {
                let fromFirst = try await cluster[2].database.replicaCursors(peer: cluster[0].database.identity)
                let fromSecond = try await cluster[2].database.replicaCursors(peer: cluster[1].database.identity)
                return !fromFirst.isEmpty && !fromSecond.isEmpty
            }
            await cluster.stop(2)
            try await cluster.waitForRing()
            for step in 0..<20 {
                _ = try await cluster[step % 2].store.appendMessage(
                    owner: "resumer", conversationID: conversation.id, MessageDraft(role: .user, content: "missed \(step)"))
            }
            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "digests agree after the restart") { try await cluster.digestsAgree() }
            let stats = cluster[2].node!.router.currentStats
            #expect(stats.snapshotChunksApplied == 0, "the stored cursors make a restart resume the change feed")
            let details = try await cluster[2].database.conversation(owner: "resumer", id: conversation.id)
            #expect(details.messages.count == 21)
        }
    }

    @Test func generationLogIsReplicatedAndResumesAfterItsPrimaryDies() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owner = "streamer"
            let primaryIndex = try primary(of: owner, in: cluster)
            let primary = cluster[primaryIndex].store
            let conversation = try await primary.createConversation(owner: owner, title: "s", model: nil)
            let question = try await primary.appendMessage(
                owner: owner, conversationID: conversation.id, MessageDraft(role: .user, content: "say hello"))
            _ = try await primary.startGeneration(
                owner: owner, requestID: "req-1", conversationID: conversation.id, parentID: question.id, model: "m",
                producer: "completion-1")
            #expect(try await primary.appendGenerationEvents(owner: owner, requestID: "req-1", fromSeq: 1, texts: ["Hel", "lo"]) == 2)
            // Every replica logs the events (one acknowledged, the other in the background: until the
            // run reaches it, that replica answers "no such generation").
            try await eventually(within: .seconds(10), "events on every replica") {
                for member in cluster.members {
                    guard
                        let (_, events) = try? await member.database.readGenerationEvents(
                            owner: owner, requestID: "req-1", afterSeq: 0),
                        events.count == 2
                    else { return false }
                }
                return true
            }

            // The primary dies mid-answer; a client resumes through another node, the producer goes on.
            await cluster.stop(primaryIndex)
            let other = cluster[(primaryIndex + 1) % 3].store
            let page = try await other.readGenerationEvents(owner: owner, requestID: "req-1", afterSeq: 1, limit: 100)
            #expect(page.events.map(\.text) == ["lo"])
            #expect(page.run.status == .streaming)
            #expect(try await other.appendGenerationEvents(owner: owner, requestID: "req-1", fromSeq: 3, texts: [" world"]) == 3)
            let answer = try await other.finishGeneration(
                owner: owner, requestID: "req-1", status: .complete, promptTokens: 3, completionTokens: 3)
            #expect(answer?.content == "Hello world")
            #expect(answer?.parentID == question.id)

            // The stored answer and the finished run reach the other survivor.
            let third = cluster[(primaryIndex + 2) % 3]
            try await eventually(within: .seconds(10), "answer on the other survivor") {
                let details = try await third.database.conversation(owner: owner, id: conversation.id)
                return details.messages.map(\.content) == ["say hello", "Hello world"]
            }
            let (run, events) = try await third.database.readGenerationEvents(owner: owner, requestID: "req-1", afterSeq: 0)
            #expect(run.status == .complete)
            #expect(events.map(\.text) == ["Hel", "lo", " world"])
        }
    }
}

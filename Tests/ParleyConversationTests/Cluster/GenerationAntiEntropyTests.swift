import Foundation
import GRDB
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Synchronization
import Testing

/// A replica that was away while an answer streamed gets the run and its log through
/// anti-entropy alone (no pushes reach it, no hints are kept for it, nothing reads there).
@Suite("Generation runs converge through anti-entropy", .serialized)
struct GenerationAntiEntropyTests {
    /// An owner whose partition's primary replica is not member 2 (the one that goes away).
    func ownerNotLedBy2(_ cluster: ReplicaCluster) throws -> (owner: String, primary: Int) {
        let router = cluster[0].node!.router
        for n in 0..<200 {
            let owner = "streamer-\(n)"
            let name = try #require(router.replicas(ofPartition: router.database.partition(ofOwner: owner)).first).name
            let index = try #require(cluster.members.firstIndex { $0.name == name })
            if index != 2 { return (owner, index) }
        }
        throw ConditionTimedOut(description: "no owner led by another node")
    }

    /// Drops every stored hint on the running members, so only anti-entropy can repair member 2.
    func dropHints(_ cluster: ReplicaCluster) async throws {
        for member in cluster.members where member.isRunning {
            try await member.database.pool.write { db in try db.execute(sql: "DELETE FROM replica_hints") }
        }
    }

    func log(_ database: ConversationDatabase, owner: String, _ requestID: String) async throws
        -> (run: GenerationRun, events: [GenerationLogEvent])
    {
        try await database.readGenerationEvents(owner: owner, requestID: requestID, afterSeq: 0, limit: 10_000)
    }

    @Test func aReplicaAwayForAWholeRunGetsItThroughAntiEntropy() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let (owner, primaryIndex) = try ownerNotLedBy2(cluster)
            let store = cluster[primaryIndex].store
            let conversation = try await store.createConversation(owner: owner, title: "s", model: nil)
            let question = try await store.appendMessage(
                owner: owner, conversationID: conversation.id, MessageDraft(role: .user, content: "a long answer, please"))
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }

            await cluster.stop(2)
            try await cluster.waitForRing()
            _ = try await store.startGeneration(
                owner: owner, requestID: "whole", conversationID: conversation.id, parentID: question.id, model: "m",
                producer: "completion-1")
            for seq in 1...5 {
                _ = try await store.appendGenerationEvents(
                    owner: owner, requestID: "whole", fromSeq: Int64(seq), texts: ["part \(seq). "])
            }
            let answer = try await store.finishGeneration(
                owner: owner, requestID: "whole", status: .complete, promptTokens: 4, completionTokens: 10)
            try await dropHints(cluster)

            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "digests agree after the return") { try await cluster.digestsAgree() }
            let restored = try await log(cluster[2].database, owner: owner, "whole")
            #expect(restored.run.status == .complete)
            #expect(restored.events.map(\.text) == (1...5).map { "part \($0). " })
            #expect(restored.run == (try await log(cluster[primaryIndex].database, owner: owner, "whole")).run)
            let details = try await cluster[2].database.conversation(owner: owner, id: conversation.id)
            #expect(details.messages.last?.id == answer?.id)
            #expect(cluster[2].node!.router.currentStats.readRepairs == 0)
        }
    }

    @Test func aReplicaAwayForTheTailOfARunGetsItThroughAntiEntropy() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let (owner, primaryIndex) = try ownerNotLedBy2(cluster)
            let store = cluster[primaryIndex].store
            _ = try await store.startGeneration(
                owner: owner, requestID: "tail", conversationID: nil, parentID: nil, model: "m", producer: "completion-1")
            _ = try await store.appendGenerationEvents(owner: owner, requestID: "tail", fromSeq: 1, texts: ["Once", " upon"])
            // Member 2 has the head of the log and knows both peers' feed positions.
            try await eventually(within: .seconds(10), "the head on member 2") {
                let events = try? await log(cluster[2].database, owner: owner, "tail").events
                return events?.count == 2
            }
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            try await eventually(within: .seconds(10), "member 2 knows its peers' feeds") {
                let first = try await cluster[2].database.replicaCursors(peer: cluster[0].database.identity)
                let second = try await cluster[2].database.replicaCursors(peer: cluster[1].database.identity)
                return !first.isEmpty && !second.isEmpty
            }

            await cluster.stop(2)
            try await cluster.waitForRing()
            _ = try await store.appendGenerationEvents(owner: owner, requestID: "tail", fromSeq: 3, texts: [" a", " time"])
            _ = try await store.finishGeneration(
                owner: owner, requestID: "tail", status: .cancelled, promptTokens: nil, completionTokens: nil)
            try await dropHints(cluster)

            try await cluster.start(2)
            try await cluster.waitForRing()
            try await eventually(within: .seconds(10), "digests agree after the return") { try await cluster.digestsAgree() }
            let restored = try await log(cluster[2].database, owner: owner, "tail")
            #expect(restored.run.status == .cancelled && restored.run.lastSeq == 4)
            #expect(restored.events.map(\.text) == ["Once", " upon", " a", " time"])
            let stats = cluster[2].node!.router.currentStats
            #expect(stats.snapshotChunksApplied == 0, "the tail came through the change feed")
            #expect(stats.changeRowsPulled > 0)
        }
    }

    /// Waits until `member` has finished `rounds` more anti-entropy rounds.
    func rounds(_ rounds: Int, of member: ReplicaCluster.Member) async throws {
        let router = member.node!.router
        let target = router.currentStats.antiEntropyRounds + rounds
        try await eventually(within: .seconds(10), "\(rounds) anti-entropy rounds") {
            router.currentStats.antiEntropyRounds >= target
        }
    }

    @Test func aPrunedLogStaysPrunedWhileOtherReplicasStillHoldIt() async throws {
        let cluster = ReplicaCluster(count: 3)
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            let owner = "pruned"
            let store = cluster[1].store
            let conversation = try await store.createConversation(owner: owner, title: "p", model: nil)
            _ = try await store.startGeneration(
                owner: owner, requestID: "done", conversationID: conversation.id, parentID: nil, model: "m",
                producer: "completion-1")
            _ = try await store.appendGenerationEvents(owner: owner, requestID: "done", fromSeq: 1, texts: ["kept ", "answer"])
            _ = try await store.finishGeneration(
                owner: owner, requestID: "done", status: .complete, promptTokens: nil, completionTokens: nil)
            try await eventually(within: .seconds(10), "digests agree") { try await cluster.digestsAgree() }
            try await eventually(within: .seconds(10), "member 0 knows its peers' feeds") {
                let first = try await cluster[0].database.replicaCursors(peer: cluster[1].database.identity)
                let second = try await cluster[0].database.replicaCursors(peer: cluster[2].database.identity)
                return !first.isEmpty && !second.isEmpty
            }

            // Member 0 prunes first; its peers' change feeds do not bring the run back.
            let cutoff = Date().addingTimeInterval(1)
            try await cluster[0].database.pruneGenerations(finishedBefore: cutoff)
            await expectCode(.notFound) { try await log(cluster[0].database, owner: owner, "done") }
            try await rounds(3, of: cluster[0])
            await expectCode(.notFound) { try await log(cluster[0].database, owner: owner, "done") }
            #expect(try await log(cluster[1].database, owner: owner, "done").run.status == .complete)

            // Nor do their snapshots, when member 0 has forgotten where their feeds stood.
            let router = cluster[0].node!.router
            let chunksBefore = router.currentStats.snapshotChunksApplied
            router.cursors.withLock { $0.removeAll() }
            try await eventually(within: .seconds(10), "a snapshot from a peer") {
                router.currentStats.snapshotChunksApplied > chunksBefore
            }
            await expectCode(.notFound) { try await log(cluster[0].database, owner: owner, "done") }

            // Once the others prune by the same cutoff, all agree; the answer stays everywhere.
            for index in [1, 2] {
                try await cluster[index].database.pruneGenerations(finishedBefore: cutoff)
            }
            try await eventually(within: .seconds(10), "digests agree after the prune") { try await cluster.digestsAgree() }
            for member in cluster.members {
                let details = try await member.database.conversation(owner: owner, id: conversation.id)
                #expect(details.messages.last?.content == "kept answer")
            }
        }
    }

    @Test func aPeerThatKeepsLogsForAnotherTimeIsReportedOnce() async throws {
        let cluster = ReplicaCluster(count: 3) { index, settings in
            settings.generationLogRetention = .seconds(index == 2 ? 3_600 : 86_400)
        }
        try await cluster.shutDownAfter {
            try await cluster.start()
            try await cluster.waitForRing()
            func mismatches(_ index: Int) -> Int { cluster[index].node!.router.currentStats.retentionMismatches }
            // Members 0 and 1 each see member 2 differ; member 2 sees both of them.
            try await eventually(within: .seconds(10), "the differences seen") {
                mismatches(0) == 1 && mismatches(1) == 1 && mismatches(2) == 2
            }
            // Once per peer incarnation, not every round.
            try await rounds(3, of: cluster[0])
            #expect(mismatches(0) == 1 && mismatches(2) == 2)
        }
    }
}

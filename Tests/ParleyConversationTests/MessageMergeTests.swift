import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// One answer stored differently on two replicas (a stream cut off from part of them) converges to
/// one version everywhere, with search, change feed and digests in step.
@Suite struct MessageMergeTests {
    private func answer(_ id: String, conversation: String, parent: String, body: String, status: String)
        -> MessageRecord
    {
        MessageRecord(
            id: id, conversationID: conversation, owner: "alice", parentID: parent, role: "assistant", body: body,
            model: "synthetic", promptTokens: 3, completionTokens: Int64(body.split(separator: " ").count),
            status: status, createdAt: 1_749_999_990_000)
    }

    private func hits(_ db: ConversationDatabase, _ query: String) async throws -> [String] {
        try await db.search(owner: "alice", ConversationSearchRequest(query: query)).data.map(\.messageID)
    }

    @Test func theMoreFinishedVersionWinsOnEveryReplicaInAnyOrder() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "alice", title: "cut off")
        let question = try await a.db.appendTurns(owner: "alice", conversationID: c.id, ["tell me a story"])[0]
        let p = a.db.partition(ofOwner: "alice")
        try await b.db.apply(try await everything(a.db, partition: p))

        // The answer's stream reached A to its end, but B only kept what it had when cut off.
        let id = "0195b7c0-0000-7000-8000-00000000a115"
        let complete = answer(id, conversation: c.id, parent: question.id, body: "once upon a time dragons sang", status: "complete")
        let partial = answer(id, conversation: c.id, parent: question.id, body: "once upon a tim", status: "interrupted")
        try await a.db.apply(ReplicationBatch(partition: p, messages: [complete]))
        try await b.db.apply(ReplicationBatch(partition: p, messages: [partial]))
        #expect(try await hits(b.db, "tim") == [id])
        #expect(try await a.db.digest(partition: p) != (try await b.db.digest(partition: p)))

        // Heal: each side gets the other's rows; fresh replicas get them in both orders, twice.
        let fromA = try await everything(a.db, partition: p)
        let fromB = try await everything(b.db, partition: p)
        let x = try TemporaryDatabase()
        let y = try TemporaryDatabase()
        try await a.db.apply(fromB)
        try await b.db.apply(fromA)
        try await x.db.apply(fromA)
        try await x.db.apply(fromB)
        try await y.db.apply(fromB)
        try await y.db.apply(fromA)
        try await y.db.apply(fromB)

        let replicas = [a.db, b.db, x.db, y.db]
        var digests: [PartitionDigest] = []
        for db in replicas {
            let digest = try await db.digest(partition: p)
            #expect(try await db.recomputeDigest(partition: p) == digest)  // maintained digest = the rows
            digests.append(digest)
            let stored = try await db.conversation(owner: "alice", id: c.id).messages.first { $0.id == id }
            #expect(stored?.content == complete.body)
            #expect(stored?.status == .complete)
            #expect(try await hits(db, "dragons") == [id])
            #expect(try await hits(db, "tim").isEmpty)  // the losing version left the index
        }
        #expect(Set(digests).count == 1)
        #expect(digests[0].rowCount == 3)  // the conversation, the question, one answer

        // B's change feed carries the winning version, so its other replicas learn it too.
        let fromHealedB = try await everything(b.db, partition: p)
        #expect(fromHealedB.messages.filter { $0.id == id } == [complete])
    }

    @Test func theRuleIsCommutativeAndIgnoresAVersionOfAnotherMessage() {
        let one = answer("m1", conversation: "c", parent: "q", body: "abc", status: "interrupted")
        let two = answer("m1", conversation: "c", parent: "q", body: "abd", status: "interrupted")
        let done = answer("m1", conversation: "c", parent: "q", body: "ab", status: "complete")
        #expect(MergeRules.merge(one, two) == MergeRules.merge(two, one))
        #expect(MergeRules.merge(one, done) == done)
        #expect(MergeRules.merge(done, one) == done)
        #expect(MergeRules.merge(MergeRules.merge(one, two), done) == MergeRules.merge(one, MergeRules.merge(two, done)))
        #expect(MergeRules.merge(one, one) == one)
        var foreign = done
        foreign.owner = "mallory"
        #expect(!MergeRules.winsOver(foreign, one))
    }
}

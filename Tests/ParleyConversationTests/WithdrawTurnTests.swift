import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// `withdrawTurn`: a continued chat's turn that the model refused before its answer started is
/// hidden for good — from every read, on every replica — and the chat goes on from where it was.
@Suite struct WithdrawTurnTests {
    private func hits(_ db: ConversationDatabase, _ query: String) async throws -> [String] {
        try await db.search(owner: "alice", ConversationSearchRequest(query: query)).data.map(\.messageID)
    }

    @Test func aWithdrawnTurnIsGoneFromEveryReadAndTheLeafGoesBack() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "alice", title: "rivers")
        let kept = try await t.db.appendTurns(owner: "alice", conversationID: c.id, ["how do rivers form", "from rain"])
        let refusedTurn = TurnStart(
            requestID: "refused-1", conversationID: c.id, newChatTitle: nil, parentID: kept[1].id,
            messages: [MessageDraft(role: .user, content: "an enormous pasted quarterly report")], model: "m",
            producer: "node-a")
        _ = try await t.db.startTurn(owner: "alice", refusedTurn)
        try await t.db.finishGeneration(owner: "alice", requestID: "refused-1", status: .interrupted)
        #expect(try await t.db.conversation(owner: "alice", id: c.id).messages.count == 4)
        #expect(try await hits(t.db, "quarterly").count == 1)

        try await t.db.withdrawTurn(owner: "alice", requestID: "refused-1", storedMessages: 1)
        let details = try await t.db.conversation(owner: "alice", id: c.id)
        #expect(details.messages.map(\.id) == kept.map(\.id))
        #expect(details.summary.currentMessageID == kept[1].id)
        #expect(try await t.db.visibleBranch(owner: "alice", conversationID: c.id).map(\.id) == kept.map(\.id))
        #expect(try await t.db.messages(owner: "alice", conversationID: c.id).data.map(\.id) == kept.map(\.id))
        #expect(try await hits(t.db, "quarterly").isEmpty)
        let p = t.db.partition(ofOwner: "alice")
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
        // A withdrawn message cannot be continued or shown by id.
        let run = try await t.db.readGenerationEvents(owner: "alice", requestID: "refused-1", afterSeq: 0).run
        await #expect(throws: ConversationError.self) {
            _ = try await t.db.visibleBranch(owner: "alice", conversationID: c.id, leafID: run.messageID)
        }
        // Again: nothing changes. The next message follows the kept answer.
        try await t.db.withdrawTurn(owner: "alice", requestID: "refused-1", storedMessages: 1)
        try await t.db.withdrawTurn(owner: "alice", requestID: "refused-1", storedMessages: -1)  // bad input: no trap
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
        let next = try await t.db.appendTurns(owner: "alice", conversationID: c.id, ["and then?"])
        #expect(next[0].parentID == kept[1].id)

        // A turn without messages of its own (a regenerated answer) withdraws its answer only.
        _ = try await t.db.startTurn(
            owner: "alice",
            TurnStart(
                requestID: "regen-1", conversationID: c.id, newChatTitle: nil, parentID: next[0].id, messages: [],
                model: "m", producer: "node-a"))
        try await t.db.finishGeneration(owner: "alice", requestID: "regen-1", status: .interrupted)
        try await t.db.withdrawTurn(owner: "alice", requestID: "regen-1", storedMessages: 0)
        #expect(try await t.db.visibleBranch(owner: "alice", conversationID: c.id).map(\.id) == kept.map(\.id) + [next[0].id])
    }

    @Test func theTombstoneReachesOtherReplicasAndWinsOverTheirVersion() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "alice", title: "t")
        let kept = try await a.db.appendTurns(owner: "alice", conversationID: c.id, ["q1", "a1"])
        _ = try await a.db.startTurn(
            owner: "alice",
            TurnStart(
                requestID: "r", conversationID: c.id, newChatTitle: nil, parentID: kept[1].id,
                messages: [MessageDraft(role: .user, content: "refused question")], model: "m", producer: "n"))
        try await a.db.finishGeneration(owner: "alice", requestID: "r", status: .interrupted)
        let p = a.db.partition(ofOwner: "alice")
        try await b.db.apply(try await everything(a.db, partition: p))  // B has the turn, not withdrawn
        try await a.db.withdrawTurn(owner: "alice", requestID: "r", storedMessages: 1)

        // Every row of each side, generation runs included (`everything` reads messages only).
        var fromA = try await everything(a.db, partition: p)
        fromA.generationRuns = try await a.db.changes(partition: p, after: 0, limit: 1_000).generationRuns
        let fromB = try await everything(b.db, partition: p)
        try await b.db.apply(fromA)
        try await a.db.apply(fromB)  // B's older versions do not bring the turn back
        for db in [a.db, b.db] {
            let details = try await db.conversation(owner: "alice", id: c.id)
            #expect(details.messages.map(\.id) == kept.map(\.id))
            #expect(details.summary.currentMessageID == kept[1].id)
            #expect(try await hits(db, "refused").isEmpty)
            #expect(try await db.recomputeDigest(partition: p) == db.digest(partition: p))
        }
        #expect(try await a.db.digest(partition: p) == b.db.digest(partition: p))
    }
}

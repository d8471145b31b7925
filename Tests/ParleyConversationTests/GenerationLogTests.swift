import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct GenerationLogTests {
    @Test func eventsReplayFromAnySequenceAndFinishIntoAMessage() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        let question = try await t.db.appendTurns(owner: "u", conversationID: c.id, ["Tell me a story"])[0]
        let run = try await t.db.startGeneration(
            owner: "u", requestID: "req-1", conversationID: c.id, model: "smollm2", producer: "node-a")
        #expect(run.parentID == question.id && run.status == .streaming)
        try await t.db.appendGenerationEvents(owner: "u", requestID: "req-1", fromSeq: 1, ["Once", " upon"])
        // A resent batch overlapping what is stored is accepted and deduplicated.
        #expect(try await t.db.appendGenerationEvents(owner: "u", requestID: "req-1", fromSeq: 2, [" upon", " a time"]) == 3)
        await expectCode(.conflict) {
            try await t.db.appendGenerationEvents(owner: "u", requestID: "req-1", fromSeq: 9, ["gap"])
        }
        let (_, tail) = try await t.db.readGenerationEvents(owner: "u", requestID: "req-1", afterSeq: 1)
        #expect(tail == [GenerationLogEvent(seq: 2, text: " upon"), GenerationLogEvent(seq: 3, text: " a time")])
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "intruder", requestID: "req-1", afterSeq: 0) }
        let answer = try #require(try await t.db.finishGeneration(owner: "u", requestID: "req-1", status: .complete, completionTokens: 4))
        #expect(answer.content == "Once upon a time" && answer.status == .complete && answer.parentID == question.id)
        #expect(answer.id == run.messageID)
        #expect(try await t.db.finishGeneration(owner: "u", requestID: "req-1", status: .cancelled) == answer)
        await expectCode(.conflict) {
            try await t.db.appendGenerationEvents(owner: "u", requestID: "req-1", fromSeq: 4, ["late"])
        }
        #expect(try await t.db.conversation(owner: "u", id: c.id).summary.currentMessageID == answer.id)
    }

    @Test func orphanedRunsAreInterrupted() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        try await t.db.appendTurns(owner: "u", conversationID: c.id, ["q1"])
        _ = try await t.db.startGeneration(owner: "u", requestID: "dead", conversationID: c.id, model: nil, producer: "node-gone")
        _ = try await t.db.startGeneration(owner: "u", requestID: "alive", conversationID: nil, model: nil, producer: "node-live")
        _ = try await t.db.startGeneration(owner: "u", requestID: "stuck", conversationID: nil, model: nil, producer: "node-live")
        try await t.db.appendGenerationEvents(owner: "u", requestID: "dead", fromSeq: 1, ["partial ans"])
        t.clock.advance(seconds: 30)
        try await t.db.appendGenerationEvents(owner: "u", requestID: "alive", fromSeq: 1, ["tick"])
        let interrupted = try await t.db.interruptOrphanedGenerations(liveProducers: ["node-live"], idleTimeout: .seconds(20), goneGrace: .seconds(5))
        #expect(Set(interrupted) == ["dead", "stuck"])
        let stored = try await t.db.conversation(owner: "u", id: c.id).messages.last
        #expect(stored?.content == "partial ans" && stored?.status == .interrupted)
        #expect(try await t.db.readGenerationEvents(owner: "u", requestID: "dead", afterSeq: 0).run.status == .interrupted)
        #expect(try await t.db.readGenerationEvents(owner: "u", requestID: "alive", afterSeq: 0).run.status == .streaming)
        #expect(try await t.db.interruptOrphanedGenerations(liveProducers: ["node-live"], idleTimeout: .seconds(20), goneGrace: .seconds(5)).isEmpty)
    }

    @Test func aRunOfAProducerNotYetSeenAliveIsLeftAloneWhileItWrites() async throws {
        // A completion node restarted under its old name starts runs before every conversation
        // node has seen it come back: its fresh runs are no orphans.
        let t = try TemporaryDatabase()
        _ = try await t.db.startGeneration(owner: "u", requestID: "fresh", conversationID: nil, model: nil, producer: "comp2")
        t.clock.advance(seconds: 3)
        try await t.db.appendGenerationEvents(owner: "u", requestID: "fresh", fromSeq: 1, ["tok"])
        t.clock.advance(seconds: 4)
        #expect(try await t.db.interruptOrphanedGenerations(liveProducers: [], idleTimeout: .seconds(60), goneGrace: .seconds(5)).isEmpty)
        t.clock.advance(seconds: 2)
        #expect(try await t.db.interruptOrphanedGenerations(liveProducers: [], idleTimeout: .seconds(60), goneGrace: .seconds(5)) == ["fresh"])
    }
}

@Suite struct GenerationLogLimitTests {
    @Test func answersAreBoundedAndDeletionDropsTheLog() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        _ = try await t.db.startGeneration(owner: "u", requestID: "big", conversationID: c.id, model: nil, producer: "p")
        let chunk = String(repeating: "x", count: 600_000)
        try await t.db.appendGenerationEvents(owner: "u", requestID: "big", fromSeq: 1, [chunk])
        await expectCode(.tooLarge) {
            try await t.db.appendGenerationEvents(owner: "u", requestID: "big", fromSeq: 2, [chunk])
        }
        await expectCode(.invalidInput) {
            try await t.db.appendGenerationEvents(owner: "u", requestID: "big", fromSeq: 0, ["x"])
        }
        await expectCode(.conflict) {
            try await t.db.startGeneration(owner: "intruder", requestID: "big", conversationID: nil, model: nil, producer: "p")
        }
        try await t.db.deleteConversation(owner: "u", id: c.id)
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "u", requestID: "big", afterSeq: 0) }
    }
}

import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// A user message draft (its own parent fields are set to show they are ignored by a turn).
private func user(_ text: String, model: String? = nil) -> MessageDraft {
    MessageDraft(role: .user, content: text, parentID: "not-a-message", asRoot: true, model: model)
}

private func turn(
    _ requestID: String, conversationID: String? = nil, newChat title: String? = nil, parentID: String? = nil,
    _ messages: [MessageDraft] = [], model: String? = "m", producer: String = "node-a"
) -> TurnStart {
    TurnStart(
        requestID: requestID, conversationID: conversationID, newChatTitle: title, parentID: parentID,
        messages: messages, model: model, producer: producer)
}

/// `startTurn`: a turn's conversation, messages and generation log start in one write.
@Suite struct TurnStartTests {
    @Test func aNewChatStoresItsConversationMessagesAndRunInOneTransaction() async throws {
        let t = try TemporaryDatabase()
        let before = t.db.writes.stats.transactions
        let messages = [MessageDraft(role: .system, content: "Be brief."), user("Plan a trip", model: "ignored")]
        let capture = ChangeCapture()
        let (run, created) = try await ChangeCapture.$current.withValue(capture) {
            try await t.db.startTurn(owner: "alice", turn("chat-1", newChat: "Trip", messages))
        }
        #expect(t.db.writes.stats.transactions - before == 1)
        #expect(created)
        let conversationID = DeterministicID.forChatRequest(owner: "alice", requestID: "chat-1")
        #expect(run.conversationID == conversationID)
        #expect(run.status == .streaming && run.lastSeq == 0 && run.model == "m" && run.producer == "node-a")

        let details = try await t.db.conversation(owner: "alice", id: conversationID)
        #expect(details.summary.title == "Trip")
        #expect(details.messages.map(\.content) == ["Be brief.", "Plan a trip"])
        #expect(details.messages.map(\.role) == [.system, .user])
        // Chained root first: the drafts' own parent fields are not used.
        #expect(details.messages[0].parentID == nil)
        #expect(details.messages[1].parentID == details.messages[0].id)
        #expect(details.messages[1].model == "ignored")
        #expect(run.parentID == details.messages[1].id)
        #expect(details.summary.currentMessageID == details.messages[1].id)
        // The new conversation's row is written once, as it stands after its messages.
        let batch = capture.batch(partition: t.db.partition(ofOwner: "alice"))
        #expect(batch.conversations.count == 1)
        #expect(batch.conversations.first?.currentMessageID == details.messages[1].id)
        #expect(batch.messages.count == 2 && batch.generationRuns.count == 1)
        let p = t.db.partition(ofOwner: "alice")
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
        // It is the conversation every attempt of the request is given.
        let same = try await t.db.conversationForRequest(owner: "alice", requestID: "chat-1", title: "other")
        #expect(same.id == conversationID && same.title == "Trip")
        #expect(try await t.db.readGenerationEvents(owner: "alice", requestID: "chat-1", afterSeq: 0).run == run)
    }

    @Test func anExistingConversationBranchesFromTheParentOrStartsARoot() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        let (q1, a1) = try await t.db.appendTurns(owner: "u", conversationID: c.id, ["q1", "a1"]).pair

        // Branching from a1: the new question replies to it, the answer to the question.
        let next = try await t.db.startTurn(owner: "u", turn("next", conversationID: c.id, parentID: a1.id, [user("q2")]))
        let q2 = try #require(try await t.db.conversation(owner: "u", id: c.id).messages.last)
        #expect(next.created && q2.content == "q2" && q2.parentID == a1.id)
        #expect(next.run.parentID == q2.id && next.run.conversationID == c.id)

        // An edit of the first question: parent nil makes the new question a root.
        let edit = try await t.db.startTurn(owner: "u", turn("edit", conversationID: c.id, [user("q1, edited")]))
        let root = try #require(try await t.db.conversation(owner: "u", id: c.id).messages.last)
        #expect(root.content == "q1, edited" && root.parentID == nil && edit.run.parentID == root.id)
        #expect(try await t.db.visibleBranch(owner: "u", conversationID: c.id).map(\.id) == [root.id])

        // A regeneration stores no message: the answer replies to the parent, beside a1.
        let count = try await t.db.conversation(owner: "u", id: c.id).messages.count
        let again = try await t.db.startTurn(owner: "u", turn("regen", conversationID: c.id, parentID: q1.id))
        #expect(again.run.parentID == q1.id)
        #expect(try await t.db.conversation(owner: "u", id: c.id).messages.count == count)
        let answer = try #require(
            try await t.db.finishGeneration(owner: "u", requestID: "regen", appending: ["a1'"], fromSeq: 1, status: .complete))
        #expect(answer.parentID == q1.id && answer.content == "a1'")
        #expect(try await t.db.visibleBranch(owner: "u", conversationID: c.id).map(\.content) == ["q1", "a1'"])

        // The parent must be in the conversation; nothing is stored otherwise.
        await expectCode(.notFound) {
            try await t.db.startTurn(owner: "u", turn("stray", conversationID: c.id, parentID: "missing", [user("q")]))
        }
        await expectCode(.notFound) {
            try await t.db.startTurn(owner: "u", turn("stray", conversationID: c.id, parentID: "missing"))
        }
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "u", requestID: "stray", afterSeq: 0) }
        #expect(try await t.db.conversation(owner: "u", id: c.id).messages.count == count + 1)
    }

    @Test func anUnstoredTurnOnlyStartsTheLog() async throws {
        let t = try TemporaryDatabase()
        let (run, created) = try await t.db.startTurn(owner: "u", turn("loose"))
        #expect(created && run.conversationID == nil && run.parentID == nil)
        #expect(try await t.db.listConversations(owner: "u").data.isEmpty)
        #expect(try await t.db.finishGeneration(owner: "u", requestID: "loose", appending: ["hi"], fromSeq: 1, status: .complete) == nil)
        #expect(try await t.db.readGenerationEvents(owner: "u", requestID: "loose", afterSeq: 0).events.map(\.text) == ["hi"])
        // Messages need a conversation to be stored in.
        await expectCode(.invalidInput) { try await t.db.startTurn(owner: "u", turn("loose-2", [user("q")])) }
    }

    @Test func aRepeatedRequestAnswersItsRunAndWritesNothing() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "alice")
        let first = try await t.db.startTurn(owner: "alice", turn("chat-1", newChat: "Trip", [user("Plan a trip")]))
        let conversationID = try #require(first.run.conversationID)
        let digest = try await t.db.digest(partition: p)
        // A retry, even with other messages and another producer, changes nothing.
        let retry = try await t.db.startTurn(
            owner: "alice", turn("chat-1", newChat: "Other", [user("a"), user("b")], producer: "node-b"))
        #expect(!retry.created && retry.run == first.run)
        let existing = try await t.db.startTurn(owner: "alice", turn("chat-1", conversationID: conversationID, [user("c")]))
        #expect(!existing.created && existing.run == first.run)
        #expect(try await t.db.conversation(owner: "alice", id: conversationID).messages.map(\.content) == ["Plan a trip"])
        #expect(try await t.db.digest(partition: p) == digest)
        // A run started by startGeneration is answered the same way.
        let started = try await t.db.startGeneration(owner: "alice", requestID: "gen", conversationID: nil, model: nil, producer: "n")
        let resumed = try await t.db.startTurn(owner: "alice", turn("gen"))
        #expect(resumed.run == started && !resumed.created)
        // Another owner's request id is refused, and nothing of theirs is stored.
        await expectCode(.conflict) { try await t.db.startTurn(owner: "bob", turn("chat-1", newChat: "Mine", [user("x")])) }
        #expect(try await t.db.listConversations(owner: "bob").data.isEmpty)
    }

    @Test func aDeletedConversationIsNotFoundAndFailedTurnsWriteNothing() async throws {
        let t = try TemporaryDatabase()
        let first = try await t.db.startTurn(owner: "u", turn("chat", newChat: "x", [user("q")]))
        let conversationID = try #require(first.run.conversationID)
        try await t.db.deleteConversation(owner: "u", id: conversationID)
        // The run went with its conversation; a retry of the request finds the conversation deleted.
        await expectCode(.notFound) { try await t.db.startTurn(owner: "u", turn("chat", newChat: "x", [user("q")])) }
        await expectCode(.deleted) {
            try await t.db.startTurn(owner: "u", turn("later", conversationID: conversationID, [user("q")]))
        }
        await expectCode(.deleted) { try await t.db.startTurn(owner: "u", turn("later", conversationID: conversationID)) }
        await expectCode(.notFound) { try await t.db.startTurn(owner: "intruder", turn("other", conversationID: conversationID)) }
        // A new chat whose parent is not there: the conversation created in the same write is rolled back.
        await expectCode(.notFound) {
            try await t.db.startTurn(owner: "u", turn("orphan", newChat: "x", parentID: "missing", [user("q")]))
        }
        #expect(try await t.db.listConversations(owner: "u").data.isEmpty)
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "u", requestID: "later", afterSeq: 0) }
    }

    @Test func invalidTurnsAreRefusedBeforeAnythingIsWritten() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        let long = String(repeating: "x", count: 300)
        let cases: [(owner: String, turn: TurnStart, code: ConversationError.Code)] = [
            ("", turn("r", newChat: "x"), .invalidInput),
            ("u", turn(""), .invalidInput),
            ("u", turn(String(repeating: "r", count: 129)), .invalidInput),
            ("u", turn("r\u{0}"), .invalidInput),
            ("u", turn("r", producer: ""), .invalidInput),
            ("u", turn("r", producer: long), .invalidInput),
            ("u", turn("r", model: long), .tooLarge),
            ("u", turn("r", newChat: String(repeating: "t", count: ConversationLimits.maxTitleBytes + 1)), .tooLarge),
            ("u", turn("r", newChat: "a\u{0}"), .invalidInput),
            ("u", turn("r", conversationID: c.id, newChat: "both"), .invalidInput),
            ("u", turn("r", [user("no conversation")]), .invalidInput),
            ("u", turn("r", conversationID: c.id, parentID: "p\u{0}"), .invalidInput),
            ("u", turn("r", conversationID: c.id, [user("nul \u{0}")]), .invalidInput),
            ("u", turn("r", conversationID: c.id, [MessageDraft(role: MessageRole(rawValue: "robot"), content: "x")]), .invalidInput),
            ("u", turn("r", conversationID: c.id, [user("x", model: long)]), .tooLarge),
            ("u", turn("r", conversationID: c.id, [user(String(repeating: "x", count: ConversationLimits.maxContentBytes + 1))]), .tooLarge),
        ]
        for (owner, turn, code) in cases {
            await expectCode(code) { try await t.db.startTurn(owner: owner, turn) }
        }
        #expect(try await t.db.listConversations(owner: "u").data.map(\.id) == [c.id])
        #expect(try await t.db.conversation(owner: "u", id: c.id).messages.isEmpty)
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0) }
    }
}

/// `finishGeneration(appending:)`: the last events and the end of the run in one write.
@Suite struct FinishWithEventsTests {
    @Test func theLastEventsAreLoggedAndTheAnswerIsTheirConcatenation() async throws {
        let t = try TemporaryDatabase()
        let started = try await t.db.startTurn(owner: "u", turn("r", newChat: "x", [user("Tell me a story")]))
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["Once"])
        let before = t.db.writes.stats.transactions
        let answer = try #require(
            try await t.db.finishGeneration(
                owner: "u", requestID: "r", appending: [" upon", " a time"], fromSeq: 2, status: .complete,
                promptTokens: 3, completionTokens: 4))
        #expect(t.db.writes.stats.transactions - before == 1)
        #expect(answer.content == "Once upon a time" && answer.status == .complete && answer.completionTokens == 4)
        #expect(answer.id == started.run.messageID && answer.parentID == started.run.parentID)
        let log = try await t.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0)
        #expect(log.run.status == .complete && log.run.lastSeq == 3)
        #expect(log.events.map(\.text) == ["Once", " upon", " a time"])

        // The same call again (a retry whose first answer was lost) answers the stored message.
        let repeated = try await t.db.finishGeneration(
            owner: "u", requestID: "r", appending: [" upon", " a time"], fromSeq: 2, status: .complete)
        #expect(repeated == answer)
        // So does finishing with no texts, whatever the status.
        #expect(try await t.db.finishGeneration(owner: "u", requestID: "r", appending: [], fromSeq: 9, status: .cancelled) == answer)
        // New text for a finished run is refused, as an append is.
        await expectCode(.conflict) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: [" late"], fromSeq: 4, status: .complete)
        }
        #expect(try await t.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0) == log)
        let conversationID = try #require(started.run.conversationID)
        #expect(try await t.db.conversation(owner: "u", id: conversationID).messages.map(\.content) == ["Tell me a story", "Once upon a time"])
    }

    @Test func aFailedAppendFinishesNothing() async throws {
        let t = try TemporaryDatabase()
        let started = try await t.db.startTurn(owner: "u", turn("r", newChat: "x", [user("q")]))
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["a", "b"])
        await expectCode(.conflict) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: ["gap"], fromSeq: 5, status: .complete)
        }
        let big = String(repeating: "x", count: ConversationLimits.maxContentBytes)
        await expectCode(.tooLarge) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: [big], fromSeq: 3, status: .complete)
        }
        await expectCode(.invalidInput) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: ["x"], fromSeq: 0, status: .complete)
        }
        await expectCode(.invalidInput) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: ["\u{0}"], fromSeq: 3, status: .complete)
        }
        await expectCode(.invalidInput) {
            try await t.db.finishGeneration(owner: "u", requestID: "r", appending: ["c"], fromSeq: 3, status: .streaming)
        }
        await expectCode(.notFound) {
            try await t.db.finishGeneration(owner: "intruder", requestID: "r", appending: ["c"], fromSeq: 3, status: .complete)
        }
        let log = try await t.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0)
        #expect(log.run.status == .streaming && log.run.lastSeq == 2 && log.events.map(\.text) == ["a", "b"])
        let conversationID = try #require(started.run.conversationID)
        #expect(try await t.db.conversation(owner: "u", id: conversationID).messages.map(\.content) == ["q"])
        // An overlapping resend is accepted: the stored events are kept, the new one logged.
        let answer = try await t.db.finishGeneration(
            owner: "u", requestID: "r", appending: ["b", "c"], fromSeq: 2, status: .cancelled)
        #expect(answer?.content == "abc" && answer?.status == .cancelled)
    }
}

extension Array {
    /// The first two elements (the array has at least two).
    fileprivate var pair: (Element, Element) { (self[0], self[1]) }
}

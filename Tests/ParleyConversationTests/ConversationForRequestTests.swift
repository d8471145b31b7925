import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// A new chat's conversation is keyed by its request: every attempt of the request gets the same one.
@Suite struct ConversationForRequestTests {
    @Test func everyAttemptOfARequestGetsTheSameConversation() async throws {
        let t = try TemporaryDatabase()
        let first = try await t.db.conversationForRequest(owner: "alice", requestID: "chatcmpl-1", title: "Hello")
        let again = try await t.db.conversationForRequest(owner: "alice", requestID: "chatcmpl-1", title: "Other title")
        #expect(again == first)  // unchanged, title included
        let other = try await t.db.conversationForRequest(owner: "alice", requestID: "chatcmpl-2", title: "Hello")
        let bobs = try await t.db.conversationForRequest(owner: "bob", requestID: "chatcmpl-1", title: "Hello")
        #expect(Set([first.id, other.id, bobs.id]).count == 3)
        #expect(try await t.db.listConversations(owner: "alice").data.count == 2)
        #expect(try await t.db.listConversations(owner: "bob").data.map(\.id) == [bobs.id])
    }

    @Test func aDeletedOneIsNotFoundAndBadRequestIDsAreRefused() async throws {
        let t = try TemporaryDatabase()
        let conversation = try await t.db.conversationForRequest(owner: "alice", requestID: "r", title: "x")
        try await t.db.deleteConversation(owner: "alice", id: conversation.id)
        let gone = await #expect(throws: ConversationError.self) {
            try await t.db.conversationForRequest(owner: "alice", requestID: "r", title: "x")
        }
        #expect(gone?.code == .notFound)
        for bad in ["", "a\u{0}b", String(repeating: "r", count: 300)] {
            let refused = await #expect(throws: ConversationError.self) {
                try await t.db.conversationForRequest(owner: "alice", requestID: bad, title: "x")
            }
            #expect(refused?.code == .invalidInput)
        }
    }
}

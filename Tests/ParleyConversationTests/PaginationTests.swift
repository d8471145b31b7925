import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct PaginationTests {
    @Test func conversationListPagesNewestFirstPinnedFirst() async throws {
        let t = try TemporaryDatabase()
        var created: [String] = []
        for i in 0..<12 {
            t.clock.advance(seconds: 1)
            created.append(try await t.db.createConversation(owner: "u", title: "c\(i)").id)
        }
        t.clock.advance(seconds: 1)
        _ = try await t.db.update(owner: "u", id: created[3], patch: ConversationPatch(pinned: true))
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await t.db.listConversations(owner: "u", limit: 5, cursor: cursor)
            #expect(page.data.count <= 5)
            seen += page.data.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        #expect(seen == [created[3]] + created.reversed().filter { $0 != created[3] })
        #expect(try await t.db.listConversations(owner: "u", limit: 12).nextCursor == nil)
        #expect(try await t.db.listConversations(owner: "other", limit: 5).data.isEmpty)
    }

    @Test(arguments: [MessageOrder.oldestFirst, .newestFirst])
    func messagePagesStayStableWhileAppending(order: MessageOrder) async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        var original: [String] = []
        for i in 0..<17 {
            t.clock.advance(seconds: 0.01)
            original += try await t.db.appendTurns(owner: "u", conversationID: c.id, ["m\(i)"]).map(\.id)
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await t.db.messages(owner: "u", conversationID: c.id, order: order, limit: 4, cursor: cursor)
            seen += page.data.map(\.id)
            cursor = page.nextCursor
            t.clock.advance(seconds: 0.01)
            try await t.db.appendTurns(owner: "u", conversationID: c.id, ["appended while paging"])
        } while cursor != nil && seen.count < 100
        if order == .oldestFirst {
            #expect(Array(seen.prefix(17)) == original)  // then the appended ones follow
            #expect(Set(seen).count == seen.count)
        } else {
            #expect(seen == original.reversed())  // newer appends are before the cursor: never repeated
        }
        await expectCode(.invalidCursor) {
            let other = try await t.db.messages(owner: "u", conversationID: c.id, order: .newestFirst, limit: 1)
            return try await t.db.messages(owner: "u", conversationID: c.id, order: .oldestFirst, cursor: other.nextCursor)
        }
    }

    @Test func visibleBranchFollowsParentsOnly() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        let first = try await t.db.appendTurns(owner: "u", conversationID: c.id, ["q1", "a1", "q2", "a2"])
        // Edit q2: a sibling branch from a1; regenerate its answer twice.
        let q2b = try await t.db.appendMessage(owner: "u", conversationID: c.id,
                                              NewMessage(role: .user, content: "q2 edited", parent: .message(first[1].id)))
        _ = try await t.db.appendMessage(owner: "u", conversationID: c.id, NewMessage(role: .assistant, content: "a2 for edit"))
        let regenerated = try await t.db.appendMessage(owner: "u", conversationID: c.id, NewMessage(
            role: .assistant, content: "a2 regenerated", parent: .message(q2b.id)))
        let visible = try await t.db.visibleBranch(owner: "u", conversationID: c.id)
        #expect(visible.map(\.content) == ["q1", "a1", "q2 edited", "a2 regenerated"])
        #expect(visible.last?.id == regenerated.id)
        let old = try await t.db.visibleBranch(owner: "u", conversationID: c.id, leafID: first[3].id)
        #expect(old.map(\.content) == ["q1", "a1", "q2", "a2"])
        await expectCode(.notFound) {
            try await t.db.visibleBranch(owner: "u", conversationID: c.id, leafID: "0190a0b0-c0d0-7e00-8000-000000000001")
        }
        await expectCode(.notFound) { try await t.db.visibleBranch(owner: "v", conversationID: c.id) }
        // Switching the visible branch is a versioned conversation change.
        _ = try await t.db.update(owner: "u", id: c.id, patch: ConversationPatch(currentMessageID: first[3].id))
        #expect(try await t.db.visibleBranch(owner: "u", conversationID: c.id).last?.id == first[3].id)
    }

    @Test func branchQueryUsesIndexLookupsOnly() async throws {
        let t = try TemporaryDatabase()
        let details = try await t.db.pool.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + ConversationDatabase.branchSQL, arguments: ["x", "y"])
                .map { $0["detail"] as String }
        }
        // Every access to `messages` is a keyed search, never a scan of the conversation's rows.
        let messageAccesses = details.filter { $0.contains(" m ") || $0.contains("messages") }
        #expect(!messageAccesses.isEmpty)
        #expect(messageAccesses.allSatisfy { !$0.hasPrefix("SCAN m") && !$0.hasPrefix("SCAN messages") }, "\(details)")
    }
}

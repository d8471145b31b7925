import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct StorageTests {
    @Test func createAppendAndReadBack() async throws {
        let t = try TemporaryDatabase()
        let conversation = try await t.db.createConversation(owner: "alice", title: "Trip", model: "smollm2")
        let messages = try await t.db.appendTurns(
            owner: "alice", conversationID: conversation.id, ["Plan a trip to Lisbon", "Day one: Alfama."])
        let details = try await t.db.conversation(owner: "alice", id: conversation.id)
        #expect(details.messages == messages)
        #expect(details.summary.currentMessageID == messages[1].id)
        #expect(messages[1].parentID == messages[0].id)
        #expect(messages[0].parentID == nil)
        #expect(details.summary.title == "Trip")
    }

    @Test func idsAreTimeOrderedUUIDv7() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let texts = (0..<20).map { "message \($0)" }
        let ids = try await t.db.appendTurns(owner: "a", conversationID: c.id, texts).map(\.id)
        #expect(ids == ids.sorted())
        #expect(ids.allSatisfy { UUIDText.isWellFormed($0) && Array($0)[14] == "7" })
    }

    @Test func ownersAreIsolated() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "alice", title: "secret")
        try await t.db.appendTurns(owner: "alice", conversationID: c.id, ["my secret plan"])
        await #expect(throws: ConversationError.self) { try await t.db.conversation(owner: "bob", id: c.id) }
        await #expect(throws: ConversationError.self) {
            try await t.db.messages(owner: "bob", conversationID: c.id)
        }
        await #expect(throws: ConversationError.self) {
            try await t.db.appendMessage(owner: "bob", conversationID: c.id, NewMessage(role: .user, content: "x"))
        }
        await #expect(throws: ConversationError.self) { try await t.db.deleteConversation(owner: "bob", id: c.id) }
        await #expect(throws: ConversationError.self) {
            try await t.db.update(owner: "bob", id: c.id, patch: ConversationPatch(title: "pwned"))
        }
        #expect(try await t.db.listConversations(owner: "bob").data.isEmpty)
        #expect(try await t.db.search(owner: "bob", ConversationSearchRequest(query: "secret")).data.isEmpty)
        // Still intact for its owner.
        #expect(try await t.db.conversation(owner: "alice", id: c.id).summary.title == "secret")
        #expect(try await t.db.search(owner: "alice", ConversationSearchRequest(query: "secret")).data.count == 1)
    }

    @Test func errorsCarryCodes() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let huge = String(repeating: "x", count: 10_000_000)
        do {
            _ = try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: huge))
            Issue.record("a 10 MB message was accepted")
        } catch let error as ConversationError {
            #expect(error.code == .tooLarge)
            #expect(error.message.contains("1048576"))
        }
        await expectCode(.notFound) { try await t.db.conversation(owner: "a", id: "nope") }
        await expectCode(.notFound) {
            try await t.db.appendMessage(
                owner: "a", conversationID: c.id, NewMessage(role: .user, content: "x", parent: .message("missing")))
        }
        await expectCode(.invalidInput) {
            try await t.db.appendMessage(
                owner: "a", conversationID: c.id, NewMessage(role: MessageRole(rawValue: "hacker"), content: "x"))
        }
        await expectCode(.invalidInput) { try await t.db.createConversation(owner: "") }
        await expectCode(.invalidInput) {
            try await t.db.appendMessage(
                owner: "a", conversationID: c.id, NewMessage(role: .assistant, content: "x", status: .streaming))
        }
        await expectCode(.invalidCursor) { try await t.db.listConversations(owner: "a", cursor: "garbage!!") }
        #expect(throws: ConversationError.self) { try Validation.utf8([0x66, 0xFF, 0xFE, 0x6F]) }
        #expect(try Validation.utf8(Array("héllo".utf8)) == "héllo")
    }

    @Test func contentIsStoredExactly() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let tricky = "emoji:👩‍👩‍👧 rtl:\u{202E}abc quote:' \"; DROP TABLE messages; -- \u{E000}x\u{E001}"
        let stored = try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: tricky))
        let back = try await t.db.conversation(owner: "a", id: c.id).messages
        #expect(back.map(\.content) == [tricky])
        #expect(back.first == stored)
        await expectCode(.invalidInput) {
            try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: "a\u{0}b"))
        }
        // Replacement characters from repaired bytes are fine too.
        let repaired = String(decoding: [0x61, 0xC3, 0x28, 0xFF], as: UTF8.self)
        _ = try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: repaired))
    }

    @Test func survivesReopen() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a", title: "durable")
        let written = try await t.db.appendTurns(owner: "a", conversationID: c.id, ["one", "two", "three"])
        let reopened = try t.reopen()
        t.clock.advance(seconds: 1)  // a restart takes time; ids are time-ordered across processes
        let details = try await reopened.conversation(owner: "a", id: c.id)
        #expect(details.messages == written)
        // New ids after a restart still sort after the old ones, and the HLC did not go back.
        let more = try await reopened.appendTurns(owner: "a", conversationID: c.id, ["four"])
        #expect(more[0].id > written[2].id)
        #expect(try await reopened.search(owner: "a", ConversationSearchRequest(query: "three")).data.count == 1)
    }

    @Test func concurrentAppendsAreAllKept() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let db = t.db
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await db.appendMessage(
                        owner: "a", conversationID: c.id, NewMessage(role: .user, content: "parallel \(i)", parent: .root)
                    ).id
                }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 200)
        let stats = t.db.writes.stats
        #expect(stats.writes == 201)  // + the create
        #expect(stats.transactions < stats.writes, "concurrent appends were batched: \(stats)")
        let stored = try await db.conversation(owner: "a", id: c.id).messages
        #expect(Set(stored.map(\.id)) == ids)
    }

    @Test func idempotentAppendWithPreassignedID() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let id = "0190a0b0-c0d0-7e00-8000-000000000001"
        let first = try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: "hi", id: id))
        let again = try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: "hi", id: id))
        #expect(first == again)
        await expectCode(.conflict) {
            try await t.db.appendMessage(owner: "a", conversationID: c.id, NewMessage(role: .user, content: "other", id: id))
        }
        #expect(try await t.db.conversation(owner: "a", id: c.id).messages.count == 1)
    }

    @Test func renamePinAndDelete() async throws {
        let t = try TemporaryDatabase()
        let a = try await t.db.createConversation(owner: "u", title: "first")
        t.clock.advance(seconds: 1)
        let b = try await t.db.createConversation(owner: "u", title: "second")
        #expect(try await t.db.listConversations(owner: "u").data.map(\.id) == [b.id, a.id])
        t.clock.advance(seconds: 1)
        _ = try await t.db.update(owner: "u", id: a.id, patch: ConversationPatch(title: "renamed", pinned: true))
        t.clock.advance(seconds: 1)
        try await t.db.appendTurns(owner: "u", conversationID: b.id, ["newer activity"])
        let list = try await t.db.listConversations(owner: "u").data
        #expect(list.map(\.id) == [a.id, b.id])  // pinned first despite b's newer update
        #expect(list[0].title == "renamed" && list[0].pinned)
        try await t.db.deleteConversation(owner: "u", id: b.id)
        try await t.db.deleteConversation(owner: "u", id: b.id)  // idempotent
        #expect(try await t.db.listConversations(owner: "u").data.map(\.id) == [a.id])
        await expectCode(.deleted) { try await t.db.conversation(owner: "u", id: b.id) }
        #expect(try await t.db.search(owner: "u", ConversationSearchRequest(query: "newer")).data.isEmpty)
    }

    @Test func theWriterAndTheReadersGetTheirOwnPageCaches() async throws {
        let t = try TemporaryDatabase { $0.writerCacheKiB = 3_000; $0.readerCacheKiB = 7_000 }
        let writer = try await t.db.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
        let reader = try await t.db.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA cache_size") }
        #expect(writer == -3_000)
        #expect(reader == -7_000)
    }
}

func expectCode<T>(
    _ code: ConversationError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        Issue.record("expected error \(code), got success", sourceLocation: sourceLocation)
    } catch let error as ConversationError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected ConversationError \(code), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct IndexIntegrityTests {
    @Test func searchIndexStaysConsistentThroughDeletes() async throws {
        let t = try TemporaryDatabase()
        var ids: [String] = []
        for n in 0..<5 {
            let c = try await t.db.createConversation(owner: "owner\(n % 2)")
            try await t.db.appendTurns(owner: "owner\(n % 2)", conversationID: c.id, ["secret number \(n) here", "answer \(n)"])
            ids.append(c.id)
        }
        try await t.db.deleteConversation(owner: "owner0", id: ids[4])  // the newest rows: their rowids could be reused
        try await t.db.deleteConversation(owner: "owner1", id: ids[1])
        let c = try await t.db.createConversation(owner: "owner1")
        try await t.db.appendTurns(owner: "owner1", conversationID: c.id, ["fresh text"])
        try await t.db.pool.write { db in
            try db.execute(sql: "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        }
        #expect(try await t.db.search(owner: "owner0", ConversationSearchRequest(query: "secret")).data.count == 2)
        #expect(try await t.db.search(owner: "owner0", ConversationSearchRequest(query: "fresh")).data.isEmpty)
        #expect(try await t.db.search(owner: "owner1", ConversationSearchRequest(query: "secret")).data.count == 1)
    }

}

/// The search index is written once per transaction (after its writes, before its commit): rows
/// inserted and purged in the same transaction, and rows of a rolled-back savepoint, never reach
/// it, and rows inserted earlier in the transaction are indexed with it.
@Suite struct IndexPerTransactionTests {
    func message(_ writer: StorageWriter, conversation: String, owner: String, _ body: String) -> MessageRecord {
        MessageRecord(
            id: writer.newID(), conversationID: conversation, owner: owner, parentID: nil, role: "user", body: body,
            model: nil, promptTokens: nil, completionTokens: nil, status: "complete", createdAt: writer.nowMillis)
    }

    @Test func rowsOfOneTransactionAreIndexedTogetherAndPurgesStayConsistent() async throws {
        let t = try TemporaryDatabase()
        let doomed = try await t.db.createConversation(owner: "pat")
        let kept = try await t.db.createConversation(owner: "pat")
        try await t.db.appendTurns(owner: "pat", conversationID: doomed.id, ["older indexed words"])
        let writer = t.db.writer
        try await t.db.write { db in
            // A message of a write whose savepoint rolls back.
            try db.inSavepoint {
                try writer.insertMessage(db, message(writer, conversation: kept.id, owner: "pat", "vanished words"))
                return .rollback
            }
            try writer.insertMessage(db, message(writer, conversation: kept.id, owner: "pat", "survivor words"))
            try writer.insertMessage(db, message(writer, conversation: doomed.id, owner: "pat", "burst words"))
            // The conversation is deleted in the same transaction: its older (indexed) and new
            // (not yet indexed) messages go.
            var tombstone = try writer.loadConversation(db, id: doomed.id)!
            tombstone.deletedVersion = writer.tick()
            try writer.mergeConversation(db, tombstone)
            try writer.insertMessage(db, message(writer, conversation: kept.id, owner: "pat", "latecomer words"))
        }
        try await t.db.pool.write { db in
            try db.execute(sql: "INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)")
        }
        func hits(_ query: String) async throws -> Int {
            try await t.db.search(owner: "pat", ConversationSearchRequest(query: query)).data.count
        }
        #expect(try await hits("words") == 2)
        #expect(try await hits("survivor") == 1)
        #expect(try await hits("latecomer") == 1)
        #expect(try await hits("vanished") == 0)
        #expect(try await hits("burst") == 0)
        #expect(try await hits("older") == 0)
        let indexed = try await t.db.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM messages_fts") }
        #expect(indexed == 2)
    }
}

/// A full disk: writes fail with `storageFull` and store nothing of themselves, the database stays
/// usable, and writes succeed again once there is room. (SQLite's page limit stands in for the disk.)
@Suite struct FullDiskTests {
    @Test func aFullDiskRefusesWritesWholeAndTheyWorkAgainOnceThereIsRoom() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u", title: "before")
        try await t.db.appendTurns(owner: "u", conversationID: c.id, ["stored before the disk filled"])
        let pages = try await t.db.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        try await t.db.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = \(pages)") }

        let big = String(repeating: "a long message that needs new pages. ", count: 4000)
        await expectCode(.storageFull) {
            try await t.db.appendMessage(owner: "u", conversationID: c.id, NewMessage(role: .user, content: big))
        }
        await expectCode(.storageFull) {
            try await t.db.startTurn(
                owner: "u",
                TurnStart(
                    requestID: "chatcmpl-full", conversationID: nil, newChatTitle: "new", parentID: nil,
                    messages: [MessageDraft(role: .user, content: big)], model: "m", producer: "n"))
        }
        // Nothing of the refused writes is stored; what was stored before is intact and readable.
        let details = try await t.db.conversation(owner: "u", id: c.id)
        #expect(details.messages.map(\.content) == ["stored before the disk filled"])
        #expect(try await t.db.listConversations(owner: "u").data.map(\.id) == [c.id])
        await expectCode(.notFound) { try await t.db.readGenerationEvents(owner: "u", requestID: "chatcmpl-full", afterSeq: 0) }
        let p = t.db.partition(ofOwner: "u")
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))

        // Room again: the same writes succeed.
        try await t.db.pool.write { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        let stored = try await t.db.appendMessage(owner: "u", conversationID: c.id, NewMessage(role: .user, content: big))
        #expect(try await t.db.conversation(owner: "u", id: c.id).messages.last?.id == stored.id)
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
    }
}

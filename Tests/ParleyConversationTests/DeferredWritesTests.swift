import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// Digest changes are written once per transaction and user numbers are remembered between
/// writes: a write that fails must leave neither behind.
@Suite struct DeferredWritesTests {
    static let boom = ConversationError(.conflict, "boom")

    @Test func aFailedWriteLeavesNoDigestChangeAndNoUserNumber() async throws {
        let t = try TemporaryDatabase()
        let writer = t.db.writer
        let kept = try await t.db.createConversation(owner: "ghost", title: "kept")
        let p = t.db.partition(ofOwner: "ghost")
        // Many writes at once share transactions; every other one fails after changing rows
        // (a conversation merged, a user created and read back).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                group.addTask {
                    if n % 2 == 0 {
                        _ = try await t.db.appendMessage(
                            owner: "ghost", conversationID: kept.id, NewMessage(role: .user, content: "kept \(n)"))
                        return
                    }
                    do {
                        try await t.db.write { db in
                            let version = writer.tick()
                            try writer.mergeConversation(
                                db,
                                ConversationRecord(
                                    id: "doomed-\(n)", owner: "phantom-\(n)", createdAt: 1, updatedAt: 1, title: "x",
                                    titleVersion: version, pinned: false, pinnedVersion: .zero, currentMessageID: nil,
                                    model: nil, leafVersion: version, deletedVersion: .zero))
                            _ = try writer.userNumber(db, owner: "phantom-\(n)")
                            _ = try writer.userNumber(db, owner: "phantom-\(n)")
                            throw Self.boom
                        }
                        Issue.record("the write should have failed")
                    } catch let error as ConversationError where error.code == .conflict {}
                }
            }
            try await group.waitForAll()
        }
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
        for digest in try await t.db.digests() {
            #expect(try await t.db.recomputeDigest(partition: digest.partition) == digest)
        }
        // A phantom user that a failed write created and read is created again for real.
        let c = try await t.db.createConversation(owner: "phantom-1")
        _ = try await t.db.appendMessage(owner: "phantom-1", conversationID: c.id, NewMessage(role: .user, content: "zebra crossing"))
        let stored = try await t.db.pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT count(*) FROM users WHERE id = 'phantom-1'")
        }
        #expect(stored == 1)
        #expect(try await t.db.search(owner: "phantom-1", ConversationSearchRequest(query: "zebra")).data.count == 1)
        #expect(try await t.db.conversation(owner: "ghost", id: kept.id).messages.count == 20)
    }
}

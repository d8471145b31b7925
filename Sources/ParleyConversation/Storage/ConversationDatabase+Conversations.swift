import Foundation
import GRDB
package import ParleyProtocol

extension ConversationDatabase {
    /// Creates an empty conversation owned by `owner`.
    package func createConversation(owner: String, title: String = "New chat", model: String? = nil)
        async throws -> ConversationSummary
    {
        try Validation.owner(owner)
        try Validation.title(title)
        let writer = self.writer
        return try await write { db in
            try Self.insertNewConversation(db, writer: writer, id: writer.newID(), owner: owner, title: title, model: model)
                .summary
        }
    }

    /// Stores a new, empty conversation row (the id is not in use) and answers it.
    private static func insertNewConversation(
        _ db: Database, writer: StorageWriter, id: String, owner: String, title: String, model: String?
    ) throws -> ConversationRecord {
        let record = try newConversation(db, writer: writer, id: id, owner: owner, title: title, model: model)
        try writer.mergeConversation(db, record, previous: nil)
        return record
    }

    /// A new, empty conversation (the id is not in use) for the caller to store in this
    /// transaction; its owner is registered.
    private static func newConversation(
        _ db: Database, writer: StorageWriter, id: String, owner: String, title: String, model: String?
    ) throws -> ConversationRecord {
        let version = writer.tick()
        let now = version.milliseconds
        _ = try writer.userNumber(db, owner: owner)
        return ConversationRecord(
            id: id, owner: owner, createdAt: now, updatedAt: now, title: title,
            titleVersion: version, pinned: false, pinnedVersion: .zero, currentMessageID: nil, model: model,
            leafVersion: version, deletedVersion: .zero)
    }

    /// The conversation a new chat's request starts, under an id derived from the owner and the
    /// request id: the first call creates it, later calls return it unchanged (a resubmission of a
    /// request whose first attempt stored its turn and then died). `not_found` once it is deleted.
    package func conversationForRequest(owner: String, requestID: String, title: String) async throws
        -> ConversationSummary
    {
        try Validation.owner(owner)
        try Validation.title(title)
        try Validation.noNUL(requestID)
        guard !requestID.isEmpty, requestID.utf8.count <= 256 else {
            throw ConversationError(.invalidInput, "a request id is 1 to 256 bytes")
        }
        let writer = self.writer
        return try await write { db in
            try Self.conversationForRequest(db, writer: writer, owner: owner, requestID: requestID, title: title).summary
        }
    }

    /// `conversationForRequest` within a write transaction (inputs validated by the caller).
    static func conversationForRequest(
        _ db: Database, writer: StorageWriter, owner: String, requestID: String, title: String
    ) throws -> ConversationRecord {
        let found = try chatOfRequest(db, writer: writer, owner: owner, requestID: requestID, title: title)
        if found.isNew { try writer.mergeConversation(db, found.record, previous: nil) }
        return found.record
    }

    /// The conversation of a new chat's request as stored, or (`isNew`) a new one that the caller
    /// stores in this transaction — once, after it has changed it (a turn's first messages).
    static func chatOfRequest(
        _ db: Database, writer: StorageWriter, owner: String, requestID: String, title: String
    ) throws -> (record: ConversationRecord, isNew: Bool) {
        let id = DeterministicID.forChatRequest(owner: owner, requestID: requestID)
        if let existing = try writer.loadConversation(db, id: id) {
            guard existing.owner == owner, !existing.isDeleted else {
                throw ConversationError(.notFound, "no conversation \(id)")
            }
            return (existing, false)
        }
        return (try newConversation(db, writer: writer, id: id, owner: owner, title: title, model: nil), true)
    }

    /// A conversation with all messages of every branch, oldest first.
    package func conversation(owner: String, id: String) async throws -> ConversationDetails {
        try await read { db in
            let record = try Self.ownedConversation(db, owner: owner, id: id)
            let messages = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(MessageRecord.columns) FROM messages
                    WHERE conversation_id = ? AND \(MessageRecord.shown) ORDER BY created_at, id
                    """,
                arguments: [id]
            ).map { MessageRecord(row: $0).message }
            return ConversationDetails(summary: record.summary, messages: messages)
        }
    }

    /// The owner's conversations: pinned first, then most recently updated first.
    package func listConversations(owner: String, limit: Int? = nil, cursor: String? = nil)
        async throws -> ConversationPage<ConversationSummary>
    {
        let limit = PageLimit.clamp(limit)
        let after = try PageCursor.decode(cursor, listing: "c")
        return try await read { db in
            var sql = "SELECT \(ConversationRecord.columns) FROM conversations WHERE owner = ? AND deleted_version = 0"
            var arguments: StatementArguments = [owner]
            if let after {
                guard let pinned = after.pinned, let time = after.time, let id = after.id else {
                    throw ConversationError(.invalidCursor, "incomplete cursor")
                }
                sql += " AND (pinned, updated_at, id) < (?, ?, ?)"
                arguments += [pinned, time, id]
            }
            sql += " ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?"
            arguments += [limit + 1]
            let records = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(ConversationRecord.init(row:))
            let page = Array(records.prefix(limit))
            let next = records.count > limit ? page.last.map {
                PageCursor(listing: "c", pinned: $0.pinned, time: $0.updatedAt, id: $0.id).token
            } : nil
            return ConversationPage(data: page.map(\.summary), nextCursor: next)
        }
    }

    /// Renames, pins/unpins or switches the visible branch.
    package func update(owner: String, id: String, patch: ConversationPatch) async throws -> ConversationSummary {
        if let title = patch.title { try Validation.title(title) }
        let writer = self.writer
        return try await write { db in
            var record = try Self.ownedConversation(db, owner: owner, id: id)
            let version = writer.tick()
            if let title = patch.title {
                record.title = title
                record.titleVersion = version
            }
            if let pinned = patch.pinned {
                record.pinned = pinned
                record.pinnedVersion = version
            }
            if let leaf = patch.currentMessageID {
                guard try Self.containsMessage(db, id: leaf, conversationID: id) else {
                    throw ConversationError(.notFound, "no such message in this conversation")
                }
                record.currentMessageID = leaf
                record.leafVersion = version
            }
            record.updatedAt = max(record.updatedAt, version.milliseconds)
            try writer.mergeConversation(db, record)
            return record.summary
        }
    }

    /// Deletes a conversation: it becomes a tombstone (which wins every merge) and its messages,
    /// index entries and generation log are removed. Deleting it again succeeds.
    package func deleteConversation(owner: String, id: String) async throws {
        let writer = self.writer
        try await write { db in
            guard let record = try writer.loadConversation(db, id: id), record.owner == owner else {
                throw ConversationError(.notFound, "no such conversation")
            }
            if record.isDeleted { return }
            var tombstone = record
            tombstone.deletedVersion = writer.tick()
            tombstone.updatedAt = max(record.updatedAt, tombstone.deletedVersion.milliseconds)
            try writer.mergeConversation(db, tombstone)
        }
    }

    /// The conversation if `owner` owns it and it is not deleted; else `notFound`/`deleted`.
    static func ownedConversation(_ db: Database, owner: String, id: String) throws -> ConversationRecord {
        guard
            let record = try StorageWriter.decodeFirst(
                db.cachedStatement(sql: ConversationRecord.selectByIDAndOwner),
                arguments: [id, owner], ConversationRecord.init(row:))
        else { throw ConversationError(.notFound, "no such conversation") }
        guard !record.isDeleted else { throw ConversationError(.deleted, "the conversation was deleted") }
        return record
    }
}

extension ConversationRecord {
    var summary: ConversationSummary {
        ConversationSummary(
            id: id, title: title, model: model, createdAt: ConversationDatabase.date(createdAt),
            updatedAt: ConversationDatabase.date(updatedAt), pinned: pinned, currentMessageID: currentMessageID)
    }
}

extension MessageRecord {
    var message: ConversationMessage {
        ConversationMessage(
            id: id, conversationID: conversationID, parentID: parentID, role: MessageRole(rawValue: role),
            content: body, model: model, promptTokens: promptTokens.map { Int($0) },
            completionTokens: completionTokens.map { Int($0) }, status: MessageStatus(rawValue: status) ?? .complete,
            createdAt: ConversationDatabase.date(createdAt))
    }
}

import Foundation
import GRDB
package import ParleyProtocol

/// Where a new message attaches.
package enum MessageParent: Hashable, Sendable {
    /// After the conversation's current leaf (the usual next turn); a root if it is empty.
    case currentLeaf
    /// A new root (a first message, or an edit of the first message).
    case root
    /// After this message: an edit or regeneration makes a sibling branch.
    case message(String)
}

/// A message to append; the service assigns id (unless given) and time.
package struct NewMessage: Hashable, Sendable {
    package var role: MessageRole
    package var content: String
    package var parent: MessageParent = .currentLeaf
    package var model: String?
    package var promptTokens: Int?
    package var completionTokens: Int?
    package var status: MessageStatus = .complete
    /// A pre-assigned id (from the completion flow), making retries idempotent; `nil` → new UUIDv7.
    package var id: String?
    /// Whether the message becomes the visible branch's leaf; default true.
    package var becomesCurrent = true

    package init(
        role: MessageRole, content: String, parent: MessageParent = .currentLeaf, model: String? = nil,
        promptTokens: Int? = nil, completionTokens: Int? = nil, status: MessageStatus = .complete, id: String? = nil
    ) {
        self.role = role
        self.content = content
        self.parent = parent
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.status = status
        self.id = id
    }
}

extension ConversationDatabase {
    /// Appends a message and (by default) makes it the visible leaf. Durable on return.
    /// Appending the same pre-assigned id again with the same content returns the stored message.
    package func appendMessage(owner: String, conversationID: String, _ new: NewMessage)
        async throws -> ConversationMessage
    {
        try Validation.content(new.content)
        try Validation.role(new.role)
        try Validation.model(new.model)
        guard new.status != .streaming else {
            throw ConversationError(.invalidInput, "messages are stored finished; a streaming answer goes through the generation log")
        }
        if let id = new.id, !UUIDText.isWellFormed(id) {
            throw ConversationError(.invalidInput, "message ids are lowercase UUID text")
        }
        let writer = self.writer
        return try await write { db in
            try Self.append(db, writer: writer, owner: owner, conversationID: conversationID, new)
        }
    }

    static func append(
        _ db: Database, writer: StorageWriter, owner: String, conversationID: String, _ new: NewMessage
    ) throws -> ConversationMessage {
        try append(db, writer: writer, to: ownedConversation(db, owner: owner, id: conversationID), new).message
    }

    /// `append` to `stored`, the conversation as this transaction read it (owned by the caller's
    /// user, not deleted); answers the message and the conversation as it is now stored.
    /// `idIsNew`: the caller checked in this transaction that no message has `new.id`.
    /// `storesConversation` false: `stored` is not stored yet, and the caller stores the answered
    /// conversation later in this transaction (a new chat's turn writes its row once).
    static func append(
        _ db: Database, writer: StorageWriter, to stored: ConversationRecord, _ new: NewMessage, idIsNew: Bool = false,
        storesConversation: Bool = true
    ) throws -> (message: ConversationMessage, conversation: ConversationRecord) {
        let owner = stored.owner
        let conversationID = stored.id
        var conversation = stored
        if !idIsNew, let id = new.id,
            let existing = try Row.fetchOne(
                db.cachedStatement(sql: MessageRecord.selectByID), arguments: [id]
            ).map(MessageRecord.init(row:))
        {
            guard existing.conversationID == conversationID, existing.body == new.content else {
                throw ConversationError(.conflict, "a different message with this id exists")
            }
            return (existing.message, stored)
        }
        let parentID: String?
        switch new.parent {
        case .root: parentID = nil
        case .currentLeaf: parentID = conversation.currentMessageID
        case .message(let id):
            guard try containsMessage(db, id: id, conversationID: conversationID) else {
                throw ConversationError(.notFound, "the parent message is not in this conversation")
            }
            parentID = id
        }
        let version = writer.tick()
        let record = MessageRecord(
            id: new.id ?? writer.newID(), conversationID: conversationID, owner: owner, parentID: parentID,
            role: new.role.rawValue, body: new.content, model: new.model,
            promptTokens: new.promptTokens.map(Int64.init), completionTokens: new.completionTokens.map(Int64.init),
            status: new.status.rawValue, createdAt: version.milliseconds)
        try writer.insertMessage(db, record, conversationKnownLive: true)
        conversation.updatedAt = max(conversation.updatedAt, version.milliseconds)
        if new.becomesCurrent {
            conversation.currentMessageID = record.id
            conversation.model = new.model ?? conversation.model
            conversation.leafVersion = version
        }
        if storesConversation { try writer.mergeConversation(db, conversation, previous: stored) }
        return (record.message, MergeRules.merge(stored, conversation))
    }

    /// Whether message `id` is stored (and not withdrawn) in conversation `conversationID`.
    static func containsMessage(_ db: Database, id: String, conversationID: String) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ? AND \(MessageRecord.shown)"),
            arguments: [id, conversationID]
        ) == true
    }

    /// A page of a conversation's messages (all branches) by creation time; the cursor stays
    /// valid while messages are appended (keyset on time and id).
    package func messages(
        owner: String, conversationID: String, order: MessageOrder = .oldestFirst, limit: Int? = nil,
        cursor: String? = nil
    ) async throws -> ConversationPage<ConversationMessage> {
        let limit = PageLimit.clamp(limit)
        let listing = "m:\(conversationID):\(order.rawValue)"
        let after = try PageCursor.decode(cursor, listing: listing)
        return try await read { db in
            _ = try Self.ownedConversation(db, owner: owner, id: conversationID)
            var sql = "SELECT \(MessageRecord.columns) FROM messages WHERE conversation_id = ? AND \(MessageRecord.shown)"
            var arguments: StatementArguments = [conversationID]
            let ascending = order == .oldestFirst
            if let after {
                guard let time = after.time, let id = after.id else {
                    throw ConversationError(.invalidCursor, "incomplete cursor")
                }
                sql += ascending ? " AND (created_at, id) > (?, ?)" : " AND (created_at, id) < (?, ?)"
                arguments += [time, id]
            }
            sql += ascending ? " ORDER BY created_at, id" : " ORDER BY created_at DESC, id DESC"
            sql += " LIMIT ?"
            arguments += [limit + 1]
            let records = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(MessageRecord.init(row:))
            let page = Array(records.prefix(limit))
            let next = records.count > limit ? page.last.map {
                PageCursor(listing: listing, time: $0.createdAt, id: $0.id).token
            } : nil
            return ConversationPage(data: page.map(\.message), nextCursor: next)
        }
    }

    /// The visible branch ending at `leafID` (default: the current leaf), root first. Walks the
    /// parent links by primary-key lookups, so other branches are never read.
    package func visibleBranch(owner: String, conversationID: String, leafID: String? = nil)
        async throws -> [ConversationMessage]
    {
        try await read { db in
            let conversation = try Self.ownedConversation(db, owner: owner, id: conversationID)
            guard let leaf = leafID ?? conversation.currentMessageID else { return [] }
            let rows = try Row.fetchAll(db.cachedStatement(sql: Self.branchSQL), arguments: [leaf, conversationID])
            if rows.isEmpty && leafID != nil {
                throw ConversationError(.notFound, "no such message in this conversation")
            }
            return rows.map { MessageRecord(row: $0).message }
        }
    }

    /// Walks parent links from a leaf (`?1`) within a conversation (`?2`): one lookup by the
    /// unique id index per message on the branch, root first. Depth-capped against cycles.
    static let branchSQL = """
        WITH RECURSIVE chain(seq, parent_id, depth) AS (
            SELECT seq, parent_id, 0 FROM messages WHERE id = ?1 AND conversation_id = ?2 AND \(MessageRecord.shown)
            UNION ALL
            SELECT m.seq, m.parent_id, chain.depth + 1
            FROM chain JOIN messages m ON m.id = chain.parent_id
            WHERE m.conversation_id = ?2 AND chain.depth < 100000
        )
        SELECT m.id, m.conversation_id, m.owner, m.parent_id, m.role, m.body, m.model, m.prompt_tokens,
            m.completion_tokens, m.status, m.created_at
        FROM chain JOIN messages m ON m.seq = chain.seq ORDER BY chain.depth DESC
        """
}

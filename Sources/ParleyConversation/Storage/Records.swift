import GRDB

/// A conversation row as stored and replicated. Each group of mutable fields carries its own HLC
/// version, so concurrent edits of different fields on different replicas all survive a merge.
package struct ConversationRecord: Hashable, Sendable {
    package var id: String
    package var owner: String
    /// Unix milliseconds.
    package var createdAt: Int64
    /// Unix milliseconds of the last change; merges by maximum.
    package var updatedAt: Int64
    package var title: String
    package var titleVersion: HLCTimestamp
    package var pinned: Bool
    package var pinnedVersion: HLCTimestamp
    /// Leaf of the visible branch and the model last used, versioned together.
    package var currentMessageID: String?
    package var model: String?
    package var leafVersion: HLCTimestamp
    /// Non-zero once deleted: the tombstone's version. Deletion wins every merge.
    package var deletedVersion: HLCTimestamp

    package var isDeleted: Bool { deletedVersion > .zero }

    /// The largest of the field versions.
    package var version: HLCTimestamp { max(titleVersion, pinnedVersion, leafVersion, deletedVersion) }

    package init(
        id: String, owner: String, createdAt: Int64, updatedAt: Int64, title: String, titleVersion: HLCTimestamp,
        pinned: Bool, pinnedVersion: HLCTimestamp, currentMessageID: String?, model: String?,
        leafVersion: HLCTimestamp, deletedVersion: HLCTimestamp
    ) {
        self.id = id
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.title = title
        self.titleVersion = titleVersion
        self.pinned = pinned
        self.pinnedVersion = pinnedVersion
        self.currentMessageID = currentMessageID
        self.model = model
        self.leafVersion = leafVersion
        self.deletedVersion = deletedVersion
    }

    static let columns = """
        id, owner, created_at, updated_at, title, title_version, pinned, pinned_version, \
        current_message_id, model, leaf_version, deleted_version
        """

    /// The row with id `?` (SQL text built once: statements are cached by their text).
    static let selectByID = "SELECT \(columns) FROM conversations WHERE id = ?"
    /// The row with id `?` and owner `?`.
    static let selectByIDAndOwner = "SELECT \(columns) FROM conversations WHERE id = ? AND owner = ?"

    init(row: Row) {
        id = row[0]
        owner = row[1]
        createdAt = row[2]
        updatedAt = row[3]
        title = row[4]
        titleVersion = HLCTimestamp(rawValue: row[5])
        pinned = row[6]
        pinnedVersion = HLCTimestamp(rawValue: row[7])
        currentMessageID = row[8]
        model = row[9]
        leafVersion = HLCTimestamp(rawValue: row[10])
        deletedVersion = HLCTimestamp(rawValue: row[11])
    }

    /// 128-bit content hash for the partition digest.
    var rowHash: RowHash {
        var hasher = SHA256()
        hasher.update(0x01)
        for text in [id, owner, title, currentMessageID ?? "\u{0}", model ?? "\u{0}"] {
            hasher.update(UInt64(text.utf8.count))
            hasher.update(text)
        }
        for value in [createdAt, updatedAt, titleVersion.rawValue, pinned ? 1 : 0, pinnedVersion.rawValue,
                      leafVersion.rawValue, deletedVersion.rawValue] {
            hasher.update(UInt64(bitPattern: value))
        }
        return RowHash(digest: hasher.finalize())
    }
}

/// A message row as stored and replicated. Immutable: replicas merge messages by union.
package struct MessageRecord: Hashable, Sendable {
    package var id: String
    package var conversationID: String
    /// Owner of the conversation, carried so a message can be stored before its conversation row
    /// arrives from another replica.
    package var owner: String
    package var parentID: String?
    package var role: String
    package var body: String
    package var model: String?
    package var promptTokens: Int64?
    package var completionTokens: Int64?
    package var status: String
    /// Unix milliseconds.
    package var createdAt: Int64

    package init(
        id: String, conversationID: String, owner: String, parentID: String?, role: String, body: String,
        model: String?, promptTokens: Int64?, completionTokens: Int64?, status: String, createdAt: Int64
    ) {
        self.id = id
        self.conversationID = conversationID
        self.owner = owner
        self.parentID = parentID
        self.role = role
        self.body = body
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.status = status
        self.createdAt = createdAt
    }

    static let columns = """
        id, conversation_id, owner, parent_id, role, body, model, prompt_tokens, completion_tokens, status, created_at
        """

    /// The row with id `?` (SQL text built once: statements are cached by their text).
    static let selectByID = "SELECT \(columns) FROM messages WHERE id = ?"

    /// The status of a message withdrawn with a refused turn: a tombstone no read shows.
    package static let withdrawnStatus = "withdrawn"
    /// The SQL condition that leaves withdrawn messages out (`m.` for a query that names the table `m`).
    static let shown = "status != 'withdrawn'"
    static let shownAsM = "m.status != 'withdrawn'"

    init(row: Row) {
        id = row[0]
        conversationID = row[1]
        owner = row[2]
        parentID = row[3]
        role = row[4]
        body = row[5]
        model = row[6]
        promptTokens = row[7]
        completionTokens = row[8]
        status = row[9]
        createdAt = row[10]
    }

    var rowHash: RowHash {
        var hasher = SHA256()
        hasher.update(0x02)
        for text in [id, conversationID, owner, parentID ?? "\u{0}", role, body, model ?? "\u{0}", status] {
            hasher.update(UInt64(text.utf8.count))
            hasher.update(text)
        }
        for value in [promptTokens ?? -1, completionTokens ?? -1, createdAt] {
            hasher.update(UInt64(bitPattern: value))
        }
        return RowHash(digest: hasher.finalize())
    }
}

/// 128 bits of a row's SHA-256; partition digests are the XOR of their rows' hashes, so they
/// can be kept up to date row by row and do not depend on insertion order.
package struct RowHash: Hashable, Sendable {
    package var high: Int64
    package var low: Int64

    package init(high: Int64, low: Int64) {
        self.high = high
        self.low = low
    }

    init(digest: [UInt8]) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(digest[i]) }
        for i in 8..<16 { l = l << 8 | UInt64(digest[i]) }
        high = Int64(bitPattern: h)
        low = Int64(bitPattern: l)
    }

    package static let zero = RowHash(high: 0, low: 0)

    package static func ^ (lhs: RowHash, rhs: RowHash) -> RowHash {
        RowHash(high: lhs.high ^ rhs.high, low: lhs.low ^ rhs.low)
    }
}

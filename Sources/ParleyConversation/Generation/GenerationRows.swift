import Foundation
import GRDB
import ParleyProtocol

/// A generation run's stored row as replicas exchange it (pushes, hints, the change feed,
/// snapshots and repair). Replicas merge runs with ``merge(_:_:)``, which needs no coordination.
package struct GenerationRunRow: Hashable, Sendable {
    package var requestID: String
    package var owner: String
    package var conversationID: String?
    package var parentID: String?
    package var messageID: String
    package var model: String?
    package var producer: String
    package var status: String
    package var lastSeq: Int64
    package var bytes: Int64
    package var startedAt: Int64
    package var updatedAt: Int64

    static let columns = """
        request_id, owner, conversation_id, parent_id, message_id, model, producer, status, last_seq, bytes, \
        started_at, updated_at
        """

    /// The row of request id `?` (SQL text built once: statements are cached by their text).
    static let selectByID = "SELECT \(columns) FROM generation_runs WHERE request_id = ?"

    init(row: Row) {
        requestID = row[0]
        owner = row[1]
        conversationID = row[2]
        parentID = row[3]
        messageID = row[4]
        model = row[5]
        producer = row[6]
        status = row[7]
        lastSeq = row[8]
        bytes = row[9]
        startedAt = row[10]
        updatedAt = row[11]
    }

    package init(
        requestID: String, owner: String, conversationID: String?, parentID: String?, messageID: String, model: String?,
        producer: String, status: String, lastSeq: Int64, bytes: Int64, startedAt: Int64, updatedAt: Int64
    ) {
        self.requestID = requestID
        self.owner = owner
        self.conversationID = conversationID
        self.parentID = parentID
        self.messageID = messageID
        self.model = model
        self.producer = producer
        self.status = status
        self.lastSeq = lastSeq
        self.bytes = bytes
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    /// Whether the run is still being written (`streaming`).
    var isStreaming: Bool { status == MessageStatus.streaming.rawValue }

    /// The stored row of `requestID` in this transaction.
    static func load(_ db: Database, requestID: String) throws -> GenerationRunRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: selectByID), arguments: [requestID]
        ).map(GenerationRunRow.init(row:))
    }

    /// Merges two states of the same run (same `requestID`). Commutative, associative and
    /// idempotent (each part is a maximum over a total order), so replicas that saw the same
    /// states in any order hold the same row:
    /// - the log only grows: `lastSeq`, `bytes` and `updatedAt` by maximum;
    /// - the state only moves forward, by rank `streaming` < `interrupted` < `cancelled` <
    ///   `complete` = `truncated` (two ends of a whole answer; a tie goes to the larger text).
    ///   Between two finished states the higher rank wins, whatever their times:
    ///   `complete` means the producer delivered the whole answer (its events are the union of
    ///   both sides' logs, so the answer is there), which is truer than an `interrupted` set by
    ///   a replica that lost sight of the producer; an explicit `cancelled` is truer than
    ///   `interrupted`. Ranks need no clock, so no version column is kept for the state;
    /// - the fields fixed at the start (owner, conversation, parent, answer id, model, producer,
    ///   start time) come whole from the state started first (then by comparing the fields), which
    ///   only matters when two replicas started the same request while cut off from each other.
    package static func merge(_ a: GenerationRunRow, _ b: GenerationRunRow) -> GenerationRunRow {
        var out = a.startsBefore(b) ? a : b
        out.lastSeq = max(a.lastSeq, b.lastSeq)
        out.bytes = max(a.bytes, b.bytes)
        out.updatedAt = max(a.updatedAt, b.updatedAt)
        out.status = (Self.rank(a.status), a.status) >= (Self.rank(b.status), b.status) ? a.status : b.status
        return out
    }

    /// Rank of a state in the forward-only order (unknown text ranks below `streaming`; replicated
    /// rows with unknown states are refused before they are merged).
    package static func rank(_ status: String) -> Int {
        switch status {
        case MessageStatus.streaming.rawValue: 1
        case MessageStatus.interrupted.rawValue: 2
        case MessageStatus.cancelled.rawValue: 3
        case MessageStatus.complete.rawValue, MessageStatus.truncated.rawValue: 4
        default: 0
        }
    }

    /// Whether this state's start fields order before `other`'s (a total order; true when equal).
    private func startsBefore(_ other: GenerationRunRow) -> Bool {
        if startedAt != other.startedAt { return startedAt < other.startedAt }
        return !other.startKey.lexicographicallyPrecedes(startKey)
    }

    /// The start fields as text; NUL (refused in every stored text) stands for `nil`.
    private var startKey: [String] {
        [messageID, owner, producer, conversationID ?? "\u{0}", parentID ?? "\u{0}", model ?? "\u{0}"]
    }

    /// 128-bit content hash for the partition digest.
    var rowHash: RowHash {
        var hasher = SHA256()
        hasher.update(0x03)
        for text in [requestID, owner, conversationID ?? "\u{0}", parentID ?? "\u{0}", messageID, model ?? "\u{0}",
                     producer, status] {
            hasher.update(UInt64(text.utf8.count))
            hasher.update(text)
        }
        for value in [lastSeq, bytes, startedAt, updatedAt] {
            hasher.update(UInt64(bitPattern: value))
        }
        return RowHash(digest: hasher.finalize())
    }
}

/// Consecutive logged events of one run, `seq` … `lastSeq`, stored and replicated as one row (a
/// producer logs a batch of tokens at a time; a row per token cost more than the token's text).
/// Immutable by (`requestID`, `seq`, `lastSeq`): replicas merge spans by union. Spans may overlap (a
/// producer that resent part of a batch); a reader takes each event from the first span holding it.
package struct GenerationLogSpan: Hashable, Sendable {
    package var requestID: String
    /// The first event's sequence number.
    package var seq: Int64
    /// The events' texts, at least one.
    package var texts: [String]

    package init(requestID: String, seq: Int64, texts: [String]) {
        self.requestID = requestID
        self.seq = seq
        self.texts = texts
    }

    /// The last event's sequence number.
    var lastSeq: Int64 { seq + Int64(texts.count) - 1 }

    /// The columns ``init(row:)`` reads, in order.
    static let columns = "request_id, seq, texts"

    init(row: Row) {
        self.init(requestID: row[0], seq: row[1], texts: Self.unpack(row[2]))
    }

    /// The stored spans of `requestID` that end after `afterSeq`, in order, at most `limit` (nil:
    /// all of them).
    static func stored(_ db: Database, requestID: String, endingAfter afterSeq: Int64 = 0, limit: Int? = nil) throws
        -> [GenerationLogSpan]
    {
        try Row.fetchAll(
            db.cachedStatement(sql: """
                SELECT \(columns) FROM generation_log_spans WHERE request_id = ? AND last_seq > ?
                ORDER BY seq, last_seq LIMIT ?
                """),
            arguments: [requestID, afterSeq, limit ?? -1]
        ).map(GenerationLogSpan.init(row:))
    }

    /// The events of `spans` (one run's, ordered by `seq`) after `afterSeq`, in order, each once
    /// (from the first span holding it), at most `limit`.
    static func events(in spans: [GenerationLogSpan], after afterSeq: Int64 = 0, limit: Int = .max)
        -> [(seq: Int64, text: String)]
    {
        var events: [(seq: Int64, text: String)] = []
        var next = afterSeq + 1
        for span in spans where span.lastSeq >= next {
            for (offset, text) in span.texts.enumerated() where span.seq + Int64(offset) >= next {
                guard events.count < limit else { return events }
                events.append((span.seq + Int64(offset), text))
            }
            next = span.lastSeq + 1
        }
        return events
    }

    /// The texts as stored: joined by NUL, which no logged text holds (a span of one event is its
    /// text's bytes, as the rows of one event each that came before spans).
    var packedTexts: Data { Data(texts.joined(separator: "\u{0}").utf8) }

    /// The texts of a stored span (`packedTexts`).
    static func unpack(_ data: Data) -> [String] {
        data.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// 128-bit content hash for the partition digest. A span of one event hashes as the row of
    /// one event did before spans, so digests of logs stored then stay valid.
    var rowHash: RowHash {
        var hasher = SHA256()
        hasher.update(UInt64(texts.count == 1 ? 0x04 : 0x05))
        hasher.update(UInt64(requestID.utf8.count))
        hasher.update(requestID)
        hasher.update(UInt64(bitPattern: seq))
        if texts.count != 1 { hasher.update(UInt64(texts.count)) }
        for text in texts {
            hasher.update(UInt64(text.utf8.count))
            hasher.update(text)
        }
        return RowHash(digest: hasher.finalize())
    }
}

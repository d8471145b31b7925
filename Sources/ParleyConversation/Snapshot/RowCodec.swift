import ParleyProtocol

/// Versions of the snapshot chunk format. A chunk's rows (before compression) start with a
/// format byte that no row tag can be: `0xF3` for format 3 (conversations, messages, generation
/// runs and spans of their events), `0xF2` for format 2 (the same with one event per row).
/// Format 1 chunks have no format byte (they start with a row tag, 1 or 2) and hold conversations
/// and messages only. Older formats are still read; any other first byte is refused.
enum SnapshotFormat {
    /// Format byte of the chunks written now.
    static let current: UInt8 = 0xF3
    /// Format byte of format 2 chunks.
    static let eventRows: UInt8 = 0xF2
}

/// Compact binary encoding of replicated rows for snapshots and pushes: a tag byte per row
/// (1 conversation, 2 message, 3 generation run, 4 a log span of one event, 5 a longer span), LEB128
/// varints (zigzag for signed values) and length-prefixed UTF-8. The reader checks every bound
/// and answers `corruptData` on anything malformed.
struct RowWriter {
    private(set) var bytes: [UInt8] = []

    mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }

    /// Starts a snapshot chunk: its format byte (see ``SnapshotFormat``).
    mutating func writeSnapshotHeader() {
        bytes.append(SnapshotFormat.current)
    }

    mutating func write(_ record: ConversationRecord) {
        bytes.append(1)
        string(record.id)
        string(record.owner)
        int(record.createdAt)
        int(record.updatedAt)
        string(record.title)
        int(record.titleVersion.rawValue)
        bytes.append(record.pinned ? 1 : 0)
        int(record.pinnedVersion.rawValue)
        optional(record.currentMessageID)
        optional(record.model)
        int(record.leafVersion.rawValue)
        int(record.deletedVersion.rawValue)
    }

    mutating func write(_ record: MessageRecord) {
        bytes.append(2)
        string(record.id)
        string(record.conversationID)
        string(record.owner)
        optional(record.parentID)
        string(record.role)
        string(record.body)
        optional(record.model)
        optionalInt(record.promptTokens)
        optionalInt(record.completionTokens)
        string(record.status)
        int(record.createdAt)
    }

    mutating func write(_ run: GenerationRunRow) {
        bytes.append(3)
        string(run.requestID)
        string(run.owner)
        optional(run.conversationID)
        optional(run.parentID)
        string(run.messageID)
        optional(run.model)
        string(run.producer)
        string(run.status)
        int(run.lastSeq)
        int(run.bytes)
        int(run.startedAt)
        int(run.updatedAt)
    }

    /// A span of one event is written as the single events were before spans (tag 4).
    mutating func write(_ span: GenerationLogSpan) {
        bytes.append(span.texts.count == 1 ? 4 : 5)
        string(span.requestID)
        int(span.seq)
        if span.texts.count != 1 { varint(UInt64(span.texts.count)) }
        for text in span.texts { string(text) }
    }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func int(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    private mutating func string(_ value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    private mutating func optional(_ value: String?) {
        if let value {
            bytes.append(1)
            string(value)
        } else {
            bytes.append(0)
        }
    }

    private mutating func optionalInt(_ value: Int64?) {
        if let value {
            bytes.append(1)
            int(value)
        } else {
            bytes.append(0)
        }
    }
}

struct RowReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// A reader of a snapshot chunk's rows, past its format byte (see ``SnapshotFormat``).
    init(snapshot bytes: [UInt8]) throws {
        self.bytes = bytes
        switch bytes.first {
        case SnapshotFormat.current, SnapshotFormat.eventRows: offset = 1
        case 1, 2: offset = 0  // format 1
        default: throw ConversationError(.corruptData, "unknown snapshot chunk format")
        }
    }

    /// Decodes every row into a batch of `partition`.
    mutating func readAll(partition: Int) throws -> ReplicationBatch {
        var batch = ReplicationBatch(partition: partition)
        while offset < bytes.count {
            switch try byte() {
            case 1:
                batch.conversations.append(
                    ConversationRecord(
                        id: try string(), owner: try string(), createdAt: try int(), updatedAt: try int(),
                        title: try string(), titleVersion: HLCTimestamp(rawValue: try int()), pinned: try byte() == 1,
                        pinnedVersion: HLCTimestamp(rawValue: try int()), currentMessageID: try optional(),
                        model: try optional(), leafVersion: HLCTimestamp(rawValue: try int()),
                        deletedVersion: HLCTimestamp(rawValue: try int())))
            case 2:
                batch.messages.append(
                    MessageRecord(
                        id: try string(), conversationID: try string(), owner: try string(), parentID: try optional(),
                        role: try string(), body: try string(), model: try optional(), promptTokens: try optionalInt(),
                        completionTokens: try optionalInt(), status: try string(), createdAt: try int()))
            case 3:
                batch.generationRuns.append(
                    GenerationRunRow(
                        requestID: try string(), owner: try string(), conversationID: try optional(),
                        parentID: try optional(), messageID: try string(), model: try optional(), producer: try string(),
                        status: try string(), lastSeq: try int(), bytes: try int(), startedAt: try int(),
                        updatedAt: try int()))
            case 4:
                batch.generationLogSpans.append(GenerationLogSpan(requestID: try string(), seq: try int(), texts: [try string()]))
            case 5:
                let requestID = try string()
                let seq = try int()
                // Each text takes at least its length byte: a count beyond the bytes left is damage.
                let count = try varint()
                guard count >= 2, count <= UInt64(bytes.count - offset) else { throw corrupt() }
                var texts: [String] = []
                texts.reserveCapacity(Int(count))
                for _ in 0..<count { texts.append(try string()) }
                batch.generationLogSpans.append(GenerationLogSpan(requestID: requestID, seq: seq, texts: texts))
            default:
                throw corrupt()
            }
        }
        return batch
    }

    private func corrupt() -> ConversationError {
        ConversationError(.corruptData, "malformed snapshot rows at byte \(offset)")
    }

    private mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw corrupt() }
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func varint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw corrupt() }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    private mutating func int() throws -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    private mutating func string() throws -> String {
        let length = try varint()
        guard length <= UInt64(bytes.count - offset) else { throw corrupt() }
        let end = offset + Int(length)
        guard let text = String(validating: bytes[offset..<end], as: UTF8.self) else { throw corrupt() }
        offset = end
        return text
    }

    private mutating func optional() throws -> String? {
        try byte() == 1 ? try string() : nil
    }

    private mutating func optionalInt() throws -> Int64? {
        try byte() == 1 ? try int() : nil
    }
}

import GRDB
import ParleyProtocol

extension ConversationDatabase {
    /// Largest raw chunk accepted when applying a snapshot: 64 MiB.
    static let maxSnapshotChunkBytes = 64 << 20

    /// The whole partition as zstd chunks (see ``snapshotChunk(partition:after:chunkBytes:level:)``).
    /// Default chunk 1 MiB of raw rows, zstd level 3.
    package func snapshot(partition: Int, chunkBytes: Int = 1 << 20, level: Int32 = 3) async throws -> PartitionSnapshot {
        var chunks: [SnapshotChunk] = []
        var cursor: SnapshotCursor?
        var throughSeq: Int64 = 0
        repeat {
            let page = try await snapshotChunk(partition: partition, after: cursor, chunkBytes: chunkBytes, level: level)
            if let chunk = page.chunk { chunks.append(chunk) }
            throughSeq = page.throughSeq
            cursor = page.next
        } while cursor != nil
        return PartitionSnapshot(partition: partition, chunks: chunks, throughSeq: throughSeq)
    }

    /// One chunk of a partition snapshot, pulled one at a time so a transfer holds one chunk in
    /// memory and the receiver paces it. Rows are read in change-sequence order (conversations,
    /// then messages) from `after`; the first call notes the current sequence as `throughSeq`,
    /// and after the last chunk the receiver asks ``changes(partition:after:limit:)`` from it.
    /// Rows changed while the snapshot is taken may arrive twice, which merging makes harmless.
    /// `next` is `nil` after the last chunk; `chunk` is `nil` only for an empty partition.
    package func snapshotChunk(partition: Int, after: SnapshotCursor?, chunkBytes: Int = 1 << 20, level: Int32 = 3)
        async throws -> (chunk: SnapshotChunk?, next: SnapshotCursor?, throughSeq: Int64)
    {
        let chunkBytes = min(max(4096, chunkBytes), Self.maxSnapshotChunkBytes / 2)
        return try await read { db in
            var cursor = try after ?? SnapshotCursor(
                throughSeq: Int64.fetchOne(db.cachedStatement(sql: """
                    SELECT max(s) FROM (SELECT max(change_seq) AS s FROM conversations
                                        UNION ALL SELECT max(change_seq) FROM messages)
                    """)) ?? 0,
                phase: .conversations, afterSeq: 0, index: 0)
            var writer = RowWriter()
            writer.reserve(chunkBytes + 64 * 1024)
            if cursor.phase == .conversations {
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: """
                        SELECT \(ConversationRecord.columns), change_seq FROM conversations
                        WHERE partition = ? AND change_seq > ? ORDER BY change_seq
                        """),
                    arguments: [partition, cursor.afterSeq])
                while writer.bytes.count < chunkBytes, let row = try rows.next() {
                    writer.write(ConversationRecord(row: row))
                    cursor.afterSeq = row[12]
                }
                if writer.bytes.count < chunkBytes {
                    cursor.phase = .messages
                    cursor.afterSeq = 0
                }
            }
            var finished = false
            if cursor.phase == .messages {
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: """
                        SELECT \(MessageRecord.columns), change_seq FROM messages
                        WHERE partition = ? AND change_seq > ? ORDER BY change_seq
                        """),
                    arguments: [partition, cursor.afterSeq])
                finished = true
                while writer.bytes.count < chunkBytes {
                    guard let row = try rows.next() else { break }
                    writer.write(MessageRecord(row: row))
                    cursor.afterSeq = row[11]
                }
                if writer.bytes.count >= chunkBytes { finished = try rows.next() == nil }
            }
            var chunk: SnapshotChunk?
            if !writer.bytes.isEmpty {
                chunk = SnapshotChunk(
                    partition: partition, index: cursor.index, rawSize: writer.bytes.count,
                    payload: try Zstd.compress(writer.bytes, level: level))
                cursor.index += 1
            }
            return (chunk, finished ? nil : cursor, cursor.throughSeq)
        }
    }

    /// Verifies, decompresses and applies one snapshot chunk (idempotent; chunks may arrive in
    /// any order). A damaged chunk answers `corruptData` and changes nothing.
    @discardableResult
    package func applySnapshotChunk(_ chunk: SnapshotChunk) async throws -> ApplyResult {
        let batch = try Self.decode(chunk)
        return try await apply(batch)
    }

    /// Decodes a chunk into its rows, checking checksum, sizes and encoding.
    package static func decode(_ chunk: SnapshotChunk) throws -> ReplicationBatch {
        guard chunk.isIntact else { throw ConversationError(.corruptData, "snapshot chunk checksum mismatch") }
        let raw = try Zstd.decompress(chunk.payload, expectedSize: chunk.rawSize, maxSize: maxSnapshotChunkBytes)
        var reader = RowReader(raw)
        return try reader.readAll(partition: chunk.partition)
    }
}

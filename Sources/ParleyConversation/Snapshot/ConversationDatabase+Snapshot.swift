import GRDB
import ParleyProtocol

extension ConversationDatabase {
    /// Largest raw chunk accepted when applying a snapshot: 64 MiB.
    static let maxSnapshotChunkBytes = 64 << 20

    /// Reads the partition in one consistent read transaction and encodes it into zstd chunks of
    /// about `chunkBytes` raw bytes each (whole chunks, not single messages, so zstd sees enough
    /// text to compress well). Default chunk 1 MiB, level 3.
    package func snapshot(partition: Int, chunkBytes: Int = 1 << 20, level: Int32 = 3) async throws -> PartitionSnapshot {
        let chunkBytes = min(max(4096, chunkBytes), Self.maxSnapshotChunkBytes / 2)
        return try await read { db in
            let throughSeq = try Int64.fetchOne(db.cachedStatement(sql: """
                SELECT max(s) FROM (SELECT max(change_seq) AS s FROM conversations
                                    UNION ALL SELECT max(change_seq) FROM messages)
                """)) ?? 0
            var chunks: [SnapshotChunk] = []
            var writer = RowWriter()
            writer.reserve(chunkBytes + 64 * 1024)
            func flush(force: Bool) throws {
                guard !writer.bytes.isEmpty, force || writer.bytes.count >= chunkBytes else { return }
                let payload = try Zstd.compress(writer.bytes, level: level)
                chunks.append(SnapshotChunk(partition: partition, index: chunks.count, rawSize: writer.bytes.count,
                                            payload: payload))
                writer = RowWriter()
                writer.reserve(chunkBytes + 64 * 1024)
            }
            let conversations = try Row.fetchCursor(
                db.cachedStatement(sql: "SELECT \(ConversationRecord.columns) FROM conversations WHERE partition = ? ORDER BY id"),
                arguments: [partition])
            while let row = try conversations.next() {
                writer.write(ConversationRecord(row: row))
                try flush(force: false)
            }
            let messages = try Row.fetchCursor(
                db,
                sql: "SELECT \(MessageRecord.columns) FROM messages WHERE partition = ? ORDER BY conversation_id, created_at, id",
                arguments: [partition])
            while let row = try messages.next() {
                writer.write(MessageRecord(row: row))
                try flush(force: false)
            }
            try flush(force: true)
            return PartitionSnapshot(partition: partition, chunks: chunks, throughSeq: throughSeq)
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

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
    /// memory and the receiver paces it. Rows are read in change-sequence order, by phase
    /// (conversations, messages, then generation runs, each run followed by all its events, so
    /// every chunk holds the runs of its events), from `after`; the first call notes the current
    /// sequence as `throughSeq`, and after the last chunk the receiver asks
    /// ``changes(partition:after:limit:)`` from it. Rows changed while the snapshot is taken may
    /// arrive twice, which merging makes harmless. `next` is `nil` after the last chunk; `chunk`
    /// is `nil` only for an empty partition (or when the previous chunk ended exactly at the end).
    package func snapshotChunk(partition: Int, after: SnapshotCursor?, chunkBytes: Int = 1 << 20, level: Int32 = 3)
        async throws -> (chunk: SnapshotChunk?, next: SnapshotCursor?, throughSeq: Int64)
    {
        let chunkBytes = min(max(4096, chunkBytes), Self.maxSnapshotChunkBytes / 2)
        return try await read { db in
            var cursor = try after ?? SnapshotCursor(
                throughSeq: Int64.fetchOne(db.cachedStatement(sql: FeedRow.maxChangeSeqSQL)) ?? 0,
                phase: .conversations, afterSeq: 0, index: 0)
            var writer = RowWriter()
            writer.reserve(chunkBytes + 64 * 1024)
            writer.writeSnapshotHeader()
            let header = writer.bytes.count
            var finished = false
            while !finished && writer.bytes.count < chunkBytes {
                let phaseDone = try Self.readPhase(db, partition: partition, cursor: &cursor, into: &writer, until: chunkBytes)
                guard phaseDone else { break }
                switch cursor.phase {
                case .conversations: cursor.phase = .messages
                case .messages: cursor.phase = .runs
                case .runs: finished = true
                }
                cursor.afterSeq = 0
            }
            var chunk: SnapshotChunk?
            if writer.bytes.count > header {
                chunk = SnapshotChunk(
                    partition: partition, index: cursor.index, rawSize: writer.bytes.count,
                    payload: try Zstd.compress(writer.bytes, level: level))
                cursor.index += 1
            }
            return (chunk, finished ? nil : cursor, cursor.throughSeq)
        }
    }

    /// Writes rows of the cursor's phase after `cursor.afterSeq` until the chunk holds `limit`
    /// bytes; returns whether the phase has no row left.
    private static func readPhase(
        _ db: Database, partition: Int, cursor: inout SnapshotCursor, into writer: inout RowWriter, until limit: Int
    ) throws -> Bool {
        let sql: String
        switch cursor.phase {
        case .conversations:
            sql = "SELECT \(ConversationRecord.columns), change_seq FROM conversations"
        case .messages:
            sql = "SELECT \(MessageRecord.columns), change_seq FROM messages"
        case .runs:
            sql = "SELECT \(GenerationRunRow.columns), change_seq FROM generation_runs"
        }
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: sql + " WHERE partition = ? AND change_seq > ? ORDER BY change_seq"),
            arguments: [partition, cursor.afterSeq])
        while writer.bytes.count < limit {
            guard let row = try rows.next() else { return true }
            switch cursor.phase {
            case .conversations:
                writer.write(ConversationRecord(row: row))
                cursor.afterSeq = row[12]
            case .messages:
                writer.write(MessageRecord(row: row))
                cursor.afterSeq = row[11]
            case .runs:
                let run = GenerationRunRow(row: row)
                cursor.afterSeq = row[12]
                writer.write(run)
                for span in try GenerationLogSpan.stored(db, requestID: run.requestID) { writer.write(span) }
            }
        }
        return try rows.next() == nil
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
        var reader = try RowReader(snapshot: raw)
        return try reader.readAll(partition: chunk.partition)
    }
}

import ParleyProtocol

/// A ``ReplicationBatch`` as it crosses the wire between replicas: the rows in the snapshot row
/// encoding (compact, bounds-checked on decode), plus the sender's change-feed position.
struct ReplicaBatchWire: Codable, Sendable, Hashable {
    var partition: Int
    /// Rows written by `RowWriter` (conversations, messages, generation runs, then their log spans).
    var rows: [UInt8]
    var lastSeq: Int64
    var isComplete: Bool

    init(_ batch: ReplicationBatch) {
        var writer = RowWriter()
        for record in batch.conversations { writer.write(record) }
        for record in batch.messages { writer.write(record) }
        for run in batch.generationRuns { writer.write(run) }
        for span in batch.generationLogSpans { writer.write(span) }
        partition = batch.partition
        rows = writer.bytes
        lastSeq = batch.lastSeq
        isComplete = batch.isComplete
    }

    /// The batch's rows as wire batches of at most about `maxBytes` of rows each (a row larger
    /// than that travels alone), so no push exceeds the cluster's frame limit. Every piece that
    /// carries log spans of a run carries that run's row before them (a receiver takes spans only
    /// of runs it holds, and pieces may arrive in any order).
    static func split(_ batch: ReplicationBatch, maxBytes: Int = 4 << 20) -> [ReplicaBatchWire] {
        var pieces: [ReplicaBatchWire] = []
        var writer = RowWriter()
        var runsInPiece: Set<String> = []
        func flush() {
            guard !writer.bytes.isEmpty else { return }
            pieces.append(
                ReplicaBatchWire(partition: batch.partition, rows: writer.bytes, lastSeq: batch.lastSeq, isComplete: true))
            writer = RowWriter()
            runsInPiece = []
        }
        for record in batch.conversations {
            writer.write(record)
            if writer.bytes.count >= maxBytes { flush() }
        }
        for record in batch.messages {
            writer.write(record)
            if writer.bytes.count >= maxBytes { flush() }
        }
        var runs: [String: GenerationRunRow] = [:]
        for run in batch.generationRuns {
            runs[run.requestID] = runs[run.requestID].map { GenerationRunRow.merge($0, run) } ?? run
        }
        for run in batch.generationRuns {
            writer.write(run)
            runsInPiece.insert(run.requestID)
        }
        for span in batch.generationLogSpans {
            if !runsInPiece.contains(span.requestID), let run = runs[span.requestID] {
                writer.write(run)
                runsInPiece.insert(span.requestID)
            }
            writer.write(span)
            if writer.bytes.count >= maxBytes { flush() }
        }
        flush()
        return pieces
    }

    init(partition: Int, rows: [UInt8], lastSeq: Int64, isComplete: Bool) {
        self.partition = partition
        self.rows = rows
        self.lastSeq = lastSeq
        self.isComplete = isComplete
    }

    /// Whether the batch carries no row.
    var isEmpty: Bool { rows.isEmpty }

    /// Decodes the rows; malformed rows answer `corruptData`.
    func batch() throws -> ReplicationBatch {
        var reader = RowReader(rows)
        var batch = try reader.readAll(partition: partition)
        batch.lastSeq = lastSeq
        batch.isComplete = isComplete
        return batch
    }
}

/// A ``PartitionDigest`` on the wire.
struct PartitionDigestWire: Codable, Sendable, Hashable {
    var partition: Int
    var high: Int64
    var low: Int64
    var rowCount: Int64
    /// The sender's change sequence the partition's contents go up to (0 when not told).
    var changeSeq: Int64

    init(_ digest: PartitionDigest, changeSeq: Int64 = 0) {
        partition = digest.partition
        high = digest.hash.high
        low = digest.hash.low
        rowCount = digest.rowCount
        self.changeSeq = changeSeq
    }

    var digest: PartitionDigest {
        PartitionDigest(partition: partition, hash: RowHash(high: high, low: low), rowCount: rowCount)
    }
}

/// One element of a streamed partition snapshot: a checksummed zstd chunk (absent for an empty
/// partition) and the sender's change sequence the snapshot covers, to continue from with the
/// change feed.
struct SnapshotPiece: Codable, Sendable, Hashable {
    var partition: Int
    var index: Int
    var rawSize: Int
    var checksum: [UInt8]
    var payload: [UInt8]
    var hasChunk: Bool
    var throughSeq: Int64

    init(chunk: SnapshotChunk?, partition: Int, throughSeq: Int64) {
        self.partition = partition
        self.index = chunk?.index ?? 0
        self.rawSize = chunk?.rawSize ?? 0
        self.checksum = chunk?.checksum ?? []
        self.payload = chunk?.payload ?? []
        self.hasChunk = chunk != nil
        self.throughSeq = throughSeq
    }

    /// The chunk, with the checksum as received (verified when applied).
    var chunk: SnapshotChunk? {
        guard hasChunk else { return nil }
        var chunk = SnapshotChunk(partition: partition, index: index, rawSize: rawSize, payload: payload)
        chunk.checksum = checksum
        return chunk
    }
}

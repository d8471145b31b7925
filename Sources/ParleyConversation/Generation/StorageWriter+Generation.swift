import Foundation
import GRDB
import ParleyProtocol

/// Row-level writes of generation runs and their logs (spans of events), for local calls and
/// replication alike: like conversations and messages, every stored run and span carries its
/// partition, a change sequence (the change feed) and a row hash (the partition digest).
extension StorageWriter {
    /// Stores a run's row, new or merged (SQL text built once: statements are cached by their text).
    private static let upsertRunSQL = """
        INSERT INTO generation_runs(\(GenerationRunRow.columns), partition, change_seq, row_hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(request_id) DO UPDATE SET
            owner = excluded.owner, conversation_id = excluded.conversation_id, parent_id = excluded.parent_id,
            message_id = excluded.message_id, model = excluded.model, producer = excluded.producer,
            status = excluded.status, last_seq = excluded.last_seq, bytes = excluded.bytes,
            started_at = excluded.started_at, updated_at = excluded.updated_at, partition = excluded.partition,
            change_seq = excluded.change_seq, row_hash = excluded.row_hash
        """

    /// Merges `incoming` into the stored run (or stores it) by ``GenerationRunRow/merge(_:_:)``;
    /// returns whether the stored row changed. A run of a conversation deleted here is not stored
    /// (it was removed with its conversation and must not come back), nor a new finished run that
    /// the log's pruning removes (``generationsPrunedBefore``).
    @discardableResult
    func mergeGenerationRun(_ db: Database, _ incoming: GenerationRunRow) throws -> Bool {
        try mergeGenerationRun(db, incoming, previous: GenerationRunRow.load(db, requestID: incoming.requestID))
    }

    /// As above, with the stored row (`nil`: none) already read in this transaction by the caller;
    /// `conversationKnownLive`: the caller read the run's conversation in this transaction, not deleted.
    @discardableResult
    func mergeGenerationRun(
        _ db: Database, _ incoming: GenerationRunRow, previous: GenerationRunRow?, conversationKnownLive: Bool = false
    ) throws -> Bool {
        if previous == nil, incoming.status != MessageStatus.streaming.rawValue,
            incoming.updatedAt < generationsPrunedBefore
        {
            return false  // pruned here, or about to be: a replica that has not pruned yet sent it
        }
        if previous == nil, !conversationKnownLive, let conversationID = incoming.conversationID,
            try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT deleted_version > 0 FROM conversations WHERE id = ?"),
                arguments: [conversationID]) == true
        {
            return false
        }
        let merged = previous.map { GenerationRunRow.merge($0, incoming) } ?? incoming
        if merged == previous { return false }
        let partition = partitioner.partition(ofOwner: merged.owner)
        let hash = merged.rowHash
        try db.cachedStatement(sql: Self.upsertRunSQL).execute(arguments: [
            merged.requestID, merged.owner, merged.conversationID, merged.parentID, merged.messageID, merged.model,
            merged.producer, merged.status, merged.lastSeq, merged.bytes, merged.startedAt, merged.updatedAt,
            partition, nextChangeSeq(), hash.data,
        ])
        currentCapture?.record(merged)
        if let previous {
            let before = partitioner.partition(ofOwner: previous.owner)
            if before == partition {
                try updateDigest(db, partition: partition, delta: hash ^ previous.rowHash, rows: 0)
            } else {
                try updateDigest(db, partition: before, delta: previous.rowHash, rows: -1)
                try updateDigest(db, partition: partition, delta: hash, rows: 1)
            }
        } else {
            try updateDigest(db, partition: partition, delta: hash, rows: 1)
        }
        return true
    }

    /// Stores spans of events (union: a span already stored is kept); returns how many were new.
    /// Spans of a run not stored here are dropped: every carrier of spans (push, feed page,
    /// snapshot chunk, repair) carries their run's row first, so an absent run is one deleted with
    /// its conversation. `knownPartitions`: the partitions of runs the caller read in this transaction.
    @discardableResult
    func insertGenerationLogSpans(
        _ db: Database, _ spans: [GenerationLogSpan], knownPartitions: [String: Int?] = [:]
    ) throws -> Int {
        guard !spans.isEmpty else { return 0 }
        var partitions = knownPartitions
        let insert = try db.cachedStatement(sql: """
            INSERT INTO generation_log_spans(request_id, seq, last_seq, texts, partition, change_seq, row_hash)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT DO NOTHING
            """)
        let capture = currentCapture
        var inserted = 0
        for span in spans where !span.texts.isEmpty {
            let partition: Int?
            if let known = partitions[span.requestID] {
                partition = known
            } else {
                partition = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT partition FROM generation_runs WHERE request_id = ?"),
                    arguments: [span.requestID])
                partitions[span.requestID] = partition
            }
            guard let partition else { continue }
            let hash = span.rowHash
            try insert.execute(arguments: [
                span.requestID, span.seq, span.lastSeq, span.packedTexts, partition, nextChangeSeq(), hash.data,
            ])
            guard db.changesCount > 0 else { continue }
            capture?.record(span)
            inserted += 1
            try updateDigest(db, partition: partition, delta: hash, rows: 1)
        }
        return inserted
    }

    /// Removes the runs matching `condition` (SQL over `generation_runs`, with `arguments`) and
    /// their logs, taking their hashes out of the partition digests (each row is visited once:
    /// the delete hands back what the digest needs of it).
    func deleteGenerationRuns(_ db: Database, where condition: String, _ arguments: StatementArguments) throws {
        let deletes = [
            try db.cachedStatement(sql: """
                DELETE FROM generation_log_spans WHERE request_id IN (SELECT request_id FROM generation_runs WHERE \(condition))
                RETURNING partition, row_hash
                """),
            try db.cachedStatement(sql: "DELETE FROM generation_runs WHERE \(condition) RETURNING partition, row_hash"),
        ]
        for delete in deletes {
            let removed = try Row.fetchCursor(delete, arguments: arguments)
            while let row = try removed.next() {
                guard let data = row[1] as Data? else { continue }
                try updateDigest(db, partition: row[0], delta: RowHash(data: data), rows: -1)
            }
        }
    }

    /// Removes runs that finished (any status but `streaming`) before `cutoff` (Unix milliseconds)
    /// with their events, oldest first: at most `limit`, and none more once `budget` is spent (a
    /// run of a long answer takes longer). Answers how many it removed and whether more remain.
    func pruneGenerationRuns(_ db: Database, finishedBefore cutoff: Int64, limit: Int, budget: Duration) throws
        -> (removed: Int, more: Bool)
    {
        let start = ContinuousClock.now
        let requestIDs = try String.fetchAll(
            db.cachedStatement(sql: Self.prunableRunsSQL),
            arguments: StatementArguments(Self.finishedStatuses + [cutoff, limit]))
        var removed = 0
        for requestID in requestIDs {
            try deleteGenerationRuns(db, where: "request_id = ?", [requestID])
            removed += 1
            if ContinuousClock.now - start >= budget { break }
        }
        return (removed, removed < requestIDs.count || requestIDs.count == limit)
    }

    /// Every status of a finished run.
    private static let finishedStatuses = MessageStatus.allCases.filter { $0 != .streaming }.map(\.rawValue)

    /// The oldest runs finished before a time (through the `(status, updated_at)` index).
    private static let prunableRunsSQL = """
        SELECT request_id FROM generation_runs
        WHERE status IN (\(finishedStatuses.map { _ in "?" }.joined(separator: ", "))) AND updated_at < ?
        ORDER BY updated_at LIMIT ?
        """

    /// Gives runs and log spans stored before they were replicated (schema v5) their partition,
    /// change sequence and row hash, and adds them to the digests; drops spans without a run.
    /// Runs once after the migration (a no-op later: every row has its hash).
    func backfillGenerationRows(_ db: Database) throws {
        let runs = try Row.fetchAll(
            db, sql: "SELECT \(GenerationRunRow.columns) FROM generation_runs WHERE row_hash IS NULL"
        ).map(GenerationRunRow.init(row:))
        for run in runs {
            let partition = partitioner.partition(ofOwner: run.owner)
            let hash = run.rowHash
            try db.execute(
                sql: "UPDATE generation_runs SET partition = ?, change_seq = ?, row_hash = ? WHERE request_id = ?",
                arguments: [partition, nextChangeSeq(), hash.data, run.requestID])
            try updateDigest(db, partition: partition, delta: hash, rows: 1)
        }
        try db.execute(sql: """
            DELETE FROM generation_log_spans WHERE request_id NOT IN (SELECT request_id FROM generation_runs)
            """)
        let spans = try Row.fetchAll(
            db,
            sql: """
                SELECT s.request_id, s.seq, s.texts, r.partition FROM generation_log_spans s
                JOIN generation_runs r USING (request_id) WHERE s.row_hash IS NULL
                """)
        for row in spans {
            let span = GenerationLogSpan(row: row)
            let partition: Int = row[3]
            let hash = span.rowHash
            try db.execute(
                sql: """
                    UPDATE generation_log_spans SET partition = ?, change_seq = ?, row_hash = ?
                    WHERE request_id = ? AND seq = ? AND last_seq = ?
                    """,
                arguments: [partition, nextChangeSeq(), hash.data, span.requestID, span.seq, span.lastSeq])
            try updateDigest(db, partition: partition, delta: hash, rows: 1)
        }
    }
}

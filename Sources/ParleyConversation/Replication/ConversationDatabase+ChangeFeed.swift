import GRDB

extension ConversationDatabase {
    /// The partition's rows changed after local sequence `after`, in change order, at most
    /// `limit` rows: conversations, messages, generation runs and their log spans. Cheap: every
    /// table is indexed on (partition, change_seq). A page that holds spans also holds the
    /// current row of each of their runs (a run's row changes after its log, so its own feed
    /// position may be on a later page; a receiver needs the run to take the spans).
    package func changes(partition: Int, after: Int64, limit: Int = 1000) async throws -> ReplicationBatch {
        let limit = max(1, limit)
        return try await read { db in
            // Each table's first `limit + 1` changes hold the first `limit` of all of them.
            var rows: [(seq: Int64, row: FeedRow)] = []
            for table in FeedRow.tables {
                rows += try Row.fetchAll(
                    db.cachedStatement(sql: """
                        SELECT \(table.columns), change_seq FROM \(table.name)
                        WHERE partition = ? AND change_seq > ? ORDER BY change_seq LIMIT ?
                        """),
                    arguments: [partition, after, limit + 1]
                ).map { ($0["change_seq"], table.decode($0)) }
            }
            rows.sort { $0.seq < $1.seq }

            var batch = ReplicationBatch(partition: partition, lastSeq: after, isComplete: rows.count <= limit)
            for (seq, row) in rows.prefix(limit) {
                switch row {
                case .conversation(let record): batch.conversations.append(record)
                case .message(let record): batch.messages.append(record)
                case .run(let run): batch.generationRuns.append(run)
                case .span(let span): batch.generationLogSpans.append(span)
                }
                batch.lastSeq = seq
            }
            let carried = Set(batch.generationRuns.map(\.requestID))
            for requestID in Set(batch.generationLogSpans.map(\.requestID)).subtracting(carried).sorted() {
                if let run = try GenerationRunRow.load(db, requestID: requestID) { batch.generationRuns.append(run) }
            }
            return batch
        }
    }
}

/// One replicated row, of any table: a change-feed page before it is split by kind, or a row counted
/// into a partition digest.
enum FeedRow {
    case conversation(ConversationRecord)
    case message(MessageRecord)
    case run(GenerationRunRow)
    case span(GenerationLogSpan)

    /// A replicated table: its name, the columns its record reads, and the record of a row.
    struct Table: Sendable {
        let name: String
        let columns: String
        let decode: @Sendable (Row) -> FeedRow
    }

    /// Every replicated table, each indexed on (partition, change_seq).
    static let tables: [Table] = [
        Table(name: "conversations", columns: ConversationRecord.columns) { .conversation(ConversationRecord(row: $0)) },
        Table(name: "messages", columns: MessageRecord.columns) { .message(MessageRecord(row: $0)) },
        Table(name: "generation_runs", columns: GenerationRunRow.columns) { .run(GenerationRunRow(row: $0)) },
        Table(name: "generation_log_spans", columns: GenerationLogSpan.columns) { .span(GenerationLogSpan(row: $0)) },
    ]

    /// The highest change sequence over every replicated table (NULL when all are empty).
    static let maxChangeSeqSQL = maxChangeSeq(where: "")
    /// The same within the partition bound to `?1`.
    static let maxChangeSeqOfPartitionSQL = maxChangeSeq(where: " WHERE partition = ?1")

    private static func maxChangeSeq(where condition: String) -> String {
        let maxima = tables.map { "SELECT max(change_seq) AS s FROM \($0.name)\(condition)" }
        return "SELECT max(s) FROM (\(maxima.joined(separator: " UNION ALL ")))"
    }

    /// The row's hash in its partition's digest.
    var rowHash: RowHash {
        switch self {
        case .conversation(let record): record.rowHash
        case .message(let record): record.rowHash
        case .run(let run): run.rowHash
        case .span(let span): span.rowHash
        }
    }
}

import GRDB

extension ConversationDatabase {
    /// The partition's rows changed after local sequence `after`, in change order, at most
    /// `limit` rows: conversations, messages, generation runs and generation events. Cheap: every
    /// table is indexed on (partition, change_seq). A page that holds events also holds the
    /// current row of each of their runs (a run's row changes after its events, so its own feed
    /// position may be on a later page; a receiver needs the run to take the events).
    package func changes(partition: Int, after: Int64, limit: Int = 1000) async throws -> ReplicationBatch {
        let limit = max(1, limit)
        return try await read { db in
            // Each table's first `limit + 1` changes hold the first `limit` of all of them.
            var rows: [(seq: Int64, row: FeedRow)] = []
            rows += try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(ConversationRecord.columns), change_seq FROM conversations
                    WHERE partition = ? AND change_seq > ? ORDER BY change_seq LIMIT ?
                    """),
                arguments: [partition, after, limit + 1]
            ).map { ($0[12], .conversation(ConversationRecord(row: $0))) }
            rows += try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(MessageRecord.columns), change_seq FROM messages
                    WHERE partition = ? AND change_seq > ? ORDER BY change_seq LIMIT ?
                    """),
                arguments: [partition, after, limit + 1]
            ).map { ($0[11], .message(MessageRecord(row: $0))) }
            rows += try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(GenerationRunRow.columns), change_seq FROM generation_runs
                    WHERE partition = ? AND change_seq > ? ORDER BY change_seq LIMIT ?
                    """),
                arguments: [partition, after, limit + 1]
            ).map { ($0[12], .run(GenerationRunRow(row: $0))) }
            rows += try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT request_id, seq, text, change_seq FROM generation_events
                    WHERE partition = ? AND change_seq > ? ORDER BY change_seq LIMIT ?
                    """),
                arguments: [partition, after, limit + 1]
            ).map { ($0[3], .event(GenerationEventRow(requestID: $0[0], seq: $0[1], text: $0[2]))) }
            rows.sort { $0.seq < $1.seq }

            var batch = ReplicationBatch(partition: partition, lastSeq: after, isComplete: rows.count <= limit)
            for (seq, row) in rows.prefix(limit) {
                switch row {
                case .conversation(let record): batch.conversations.append(record)
                case .message(let record): batch.messages.append(record)
                case .run(let run): batch.generationRuns.append(run)
                case .event(let event): batch.generationEvents.append(event)
                }
                batch.lastSeq = seq
            }
            let carried = Set(batch.generationRuns.map(\.requestID))
            for requestID in Set(batch.generationEvents.map(\.requestID)).subtracting(carried).sorted() {
                if let run = try GenerationRunRow.load(db, requestID: requestID) { batch.generationRuns.append(run) }
            }
            return batch
        }
    }
}

/// One row of the change feed, before the page is split by kind.
private enum FeedRow {
    case conversation(ConversationRecord)
    case message(MessageRecord)
    case run(GenerationRunRow)
    case event(GenerationEventRow)
}

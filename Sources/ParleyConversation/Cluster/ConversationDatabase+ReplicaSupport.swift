import GRDB

extension ConversationDatabase {
    /// The highest local change sequence of a partition's rows (0 when empty). Everything written
    /// after this call has a larger sequence, so `changes(partition:after:)` from it finds it.
    func lastChangeSeq(partition: Int) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(db.cachedStatement(sql: FeedRow.maxChangeSeqOfPartitionSQL), arguments: [partition]) ?? 0
        }
    }

    /// Every row of a partition changed after `after` (all pages of the change feed).
    func allChanges(partition: Int, after: Int64) async throws -> ReplicationBatch {
        var batch = try await changes(partition: partition, after: after, limit: 10_000)
        while !batch.isComplete {
            let next = try await changes(partition: partition, after: batch.lastSeq, limit: 10_000)
            batch.conversations += next.conversations
            batch.messages += next.messages
            batch.generationRuns += next.generationRuns
            batch.generationLogSpans += next.generationLogSpans
            batch.lastSeq = next.lastSeq
            batch.isComplete = next.isComplete
        }
        return batch
    }
}

import GRDB

extension ConversationDatabase {
    /// Every row of one generation here — its run, its log and the rows of its
    /// conversation — as a batch for a replica that lacks them (repair); empty when the run is unknown.
    package func generationRows(requestID: String) async throws -> ReplicationBatch {
        let found: (GenerationRunRow, [GenerationLogSpan])? = try await read { db in
            guard let run = try GenerationRunRow.load(db, requestID: requestID) else { return nil }
            let spans = try GenerationLogSpan.stored(db, requestID: requestID)
            return (run, spans)
        }
        guard let (run, spans) = found else { return ReplicationBatch(partition: -1) }
        var batch =
            if let conversationID = run.conversationID {
                try await replicationRows(conversationID: conversationID)
            } else {
                ReplicationBatch(partition: partition(ofOwner: run.owner))
            }
        batch.partition = partition(ofOwner: run.owner)
        batch.generationRuns = [run]
        batch.generationLogSpans = spans
        return batch
    }
}

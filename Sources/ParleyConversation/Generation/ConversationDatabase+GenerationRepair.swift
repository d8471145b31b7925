import GRDB

extension ConversationDatabase {
    /// Every row of one generation here — its run, its logged events and the rows of its
    /// conversation — as a batch for a replica that lacks them (repair); empty when the run is unknown.
    package func generationRows(requestID: String) async throws -> ReplicationBatch {
        let found: (GenerationRunRow, [GenerationEventRow])? = try await read { db in
            guard let run = try GenerationRunRow.load(db, requestID: requestID) else { return nil }
            let events = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT seq, text FROM generation_events WHERE request_id = ? ORDER BY seq"),
                arguments: [requestID]
            ).map { GenerationEventRow(requestID: requestID, seq: $0[0], text: $0[1]) }
            return (run, events)
        }
        guard let (run, events) = found else { return ReplicationBatch(partition: -1) }
        var batch =
            if let conversationID = run.conversationID {
                try await replicationRows(conversationID: conversationID)
            } else {
                ReplicationBatch(partition: partition(ofOwner: run.owner))
            }
        batch.partition = partition(ofOwner: run.owner)
        batch.generationRuns = [run]
        batch.generationEvents = events
        return batch
    }
}

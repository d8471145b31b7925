import GRDB

/// A generation run's stored row as replicas exchange it. Merged by ``merge(_:)``: the log only
/// grows (`lastSeq`, `bytes`, `updatedAt` by maximum) and a finished status wins over `streaming`.
package struct GenerationRunRow: Hashable, Sendable {
    package var requestID: String
    package var owner: String
    package var conversationID: String?
    package var parentID: String?
    package var messageID: String
    package var model: String?
    package var producer: String
    package var status: String
    package var lastSeq: Int64
    package var bytes: Int64
    package var startedAt: Int64
    package var updatedAt: Int64

    static let columns = """
        request_id, owner, conversation_id, parent_id, message_id, model, producer, status, last_seq, bytes, \
        started_at, updated_at
        """

    init(row: Row) {
        requestID = row[0]
        owner = row[1]
        conversationID = row[2]
        parentID = row[3]
        messageID = row[4]
        model = row[5]
        producer = row[6]
        status = row[7]
        lastSeq = row[8]
        bytes = row[9]
        startedAt = row[10]
        updatedAt = row[11]
    }

    init(
        requestID: String, owner: String, conversationID: String?, parentID: String?, messageID: String, model: String?,
        producer: String, status: String, lastSeq: Int64, bytes: Int64, startedAt: Int64, updatedAt: Int64
    ) {
        self.requestID = requestID
        self.owner = owner
        self.conversationID = conversationID
        self.parentID = parentID
        self.messageID = messageID
        self.model = model
        self.producer = producer
        self.status = status
        self.lastSeq = lastSeq
        self.bytes = bytes
        self.startedAt = startedAt
        self.updatedAt = updatedAt
    }

    /// The stored row of `requestID` in this transaction.
    static func load(_ db: Database, requestID: String) throws -> GenerationRunRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(columns) FROM generation_runs WHERE request_id = ?"), arguments: [requestID]
        ).map(GenerationRunRow.init(row:))
    }
}

/// One logged event of a run as replicas exchange it (immutable: union merge).
package struct GenerationEventRow: Hashable, Sendable {
    package var requestID: String
    package var seq: Int64
    package var text: String
}

extension StorageWriter {
    /// Merges a run from another replica (see ``GenerationRunRow``).
    func mergeGenerationRun(_ db: Database, _ run: GenerationRunRow) throws {
        try db.cachedStatement(sql: """
            INSERT INTO generation_runs(\(GenerationRunRow.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(request_id) DO UPDATE SET
                last_seq = max(last_seq, excluded.last_seq), bytes = max(bytes, excluded.bytes),
                updated_at = max(updated_at, excluded.updated_at),
                status = CASE WHEN status = 'streaming' THEN excluded.status ELSE status END
            """).execute(arguments: [
                run.requestID, run.owner, run.conversationID, run.parentID, run.messageID, run.model, run.producer,
                run.status, run.lastSeq, run.bytes, run.startedAt, run.updatedAt,
            ])
    }

    /// Stores events from another replica whose run is known here; already stored ones are kept.
    func insertGenerationEvents(_ db: Database, _ events: [GenerationEventRow]) throws {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO generation_events(request_id, seq, text)
            SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM generation_runs WHERE request_id = ?)
            ON CONFLICT DO NOTHING
            """)
        for event in events {
            try insert.execute(arguments: [event.requestID, event.seq, event.text, event.requestID])
        }
    }
}

import GRDB
import ParleyProtocol

extension ConversationDatabase {
    /// Every stored row of one conversation (its row, tombstone included, and its messages) as a
    /// batch, for read repair: a reader that sees replicas disagree on a conversation pushes this
    /// batch to the one behind. An unknown id gives an empty batch.
    package func replicationRows(conversationID: String) async throws -> ReplicationBatch {
        try await read { db in
            let conversation = try Row.fetchOne(
                db.cachedStatement(sql: ConversationRecord.selectByID),
                arguments: [conversationID]
            ).map(ConversationRecord.init(row:))
            let messages = try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(MessageRecord.columns) FROM messages WHERE conversation_id = ? ORDER BY created_at, id
                    """),
                arguments: [conversationID]
            ).map(MessageRecord.init(row:))
            let owner = conversation?.owner ?? messages.first?.owner
            return ReplicationBatch(
                partition: owner.map { self.partition(ofOwner: $0) } ?? -1,
                conversations: conversation.map { [$0] } ?? [], messages: messages)
        }
    }

    /// Merges rows from another replica: conversations by ``MergeRules``, messages and generation
    /// log spans by union, generation runs by ``GenerationRunRow/merge(_:_:)``, tombstones win.
    /// Idempotent and commutative; durable on return. Conversation rows must
    /// belong to `batch.partition`; a negative partition (bulk loads) accepts any.
    @discardableResult
    package func apply(_ batch: ReplicationBatch) async throws -> ApplyResult {
        try await apply([batch])
    }

    /// Merges several batches (pushes of many writes) in one transaction; durable on return.
    @discardableResult
    package func apply(_ batches: [ReplicationBatch]) async throws -> ApplyResult {
        for batch in batches { try Self.validate(batch, partitionOf: partition(ofOwner:)) }
        let writer = self.writer
        // The pushes of many writes: each conversation is merged once (merging is associative,
        // so merging the incoming versions first gives the same row) and every message goes in
        // one pass (one digest update per partition, not per message).
        var conversations: [String: ConversationRecord] = [:]
        var order: [String] = []
        var messages: [MessageRecord] = []
        for batch in batches {
            for record in batch.conversations {
                if let known = conversations[record.id] {
                    conversations[record.id] = MergeRules.merge(known, record)
                } else {
                    conversations[record.id] = record
                    order.append(record.id)
                }
            }
            messages += batch.messages
        }
        let merged = order.map { conversations[$0]! }
        let allMessages = messages
        return try await write { db in
            var result = ApplyResult()
            var deleted: [String: Bool] = [:]
            for record in merged {
                writer.observe(record.version)
                let previous = try writer.loadConversation(db, id: record.id)
                if try writer.mergeConversation(db, record, previous: previous) { result.conversationsChanged += 1 }
                deleted[record.id] = record.isDeleted || previous?.isDeleted == true
            }
            result.messagesInserted += try writer.insertMessages(db, allMessages, knownDeleted: deleted)
            // A batch carries the rows of the runs whose log spans it carries (see
            // `insertGenerationLogSpans`), so runs go first.
            for batch in batches {
                for run in batch.generationRuns where try writer.mergeGenerationRun(db, run) {
                    result.generationRunsChanged += 1
                }
                result.generationLogSpansInserted += try writer.insertGenerationLogSpans(db, batch.generationLogSpans)
            }
            return result
        }
    }

    private static func validate(_ batch: ReplicationBatch, partitionOf: (String) -> Int) throws {
        for record in batch.conversations {
            try Validation.owner(record.owner)
            for text in [record.id, record.title] + [record.currentMessageID, record.model].compactMap({ $0 }) {
                try Validation.noNUL(text)
            }
            guard partitionOf(record.owner) == batch.partition || batch.partition < 0 else {
                throw ConversationError(.corruptData, "a conversation row is not in the batch's partition")
            }
        }
        for record in batch.messages {
            try Validation.owner(record.owner)
            guard partitionOf(record.owner) == batch.partition || batch.partition < 0 else {
                throw ConversationError(.corruptData, "a message row is not in the batch's partition")
            }
            for text in [record.id, record.conversationID, record.role, record.body, record.status]
                + [record.parentID, record.model].compactMap({ $0 })
            {
                try Validation.noNUL(text)
            }
        }
        for run in batch.generationRuns {
            try Validation.owner(run.owner)
            guard partitionOf(run.owner) == batch.partition || batch.partition < 0 else {
                throw ConversationError(.corruptData, "a generation run is not in the batch's partition")
            }
            for text in [run.requestID, run.messageID, run.producer, run.status]
                + [run.conversationID, run.parentID, run.model].compactMap({ $0 })
            {
                try Validation.noNUL(text)
            }
            guard GenerationRunRow.rank(run.status) > 0 else {
                throw ConversationError(.corruptData, "a generation run has an unknown state")
            }
        }
        for span in batch.generationLogSpans {
            try Validation.noNUL(span.requestID)
            for text in span.texts { try Validation.noNUL(text) }
            guard span.seq >= 1 else { throw ConversationError(.corruptData, "a generation log span has no sequence number") }
            guard !span.texts.isEmpty, span.seq <= Int64.max - Int64(span.texts.count) else {
                throw ConversationError(.corruptData, "a generation log span has no events or too many")
            }
        }
    }

    /// The partition's digest, maintained row by row in the same transactions as the rows.
    package func digest(partition: Int) async throws -> PartitionDigest {
        try await read { db in
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT digest_high, digest_low, row_count FROM partition_digests WHERE partition = ?"),
                arguments: [partition])
            return PartitionDigest(
                partition: partition, hash: RowHash(high: row?[0] ?? 0, low: row?[1] ?? 0), rowCount: row?[2] ?? 0)
        }
    }

    /// Digests of every partition that holds rows.
    package func digests() async throws -> [PartitionDigest] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT partition, digest_high, digest_low, row_count FROM partition_digests
                    WHERE row_count != 0 OR digest_high != 0 OR digest_low != 0 ORDER BY partition
                    """
            ).map { PartitionDigest(partition: $0[0], hash: RowHash(high: $0[1], low: $0[2]), rowCount: $0[3]) }
        }
    }

    /// Digests of every partition that holds rows, each with the local change sequence its
    /// contents go up to (a replica with an equal digest holds every row up to that sequence).
    func digestsWithChangeSeq() async throws -> [(digest: PartitionDigest, changeSeq: Int64)] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT partition, digest_high, digest_low, row_count, last_change_seq FROM partition_digests
                    WHERE row_count != 0 OR digest_high != 0 OR digest_low != 0 ORDER BY partition
                    """
            ).map {
                (PartitionDigest(partition: $0[0], hash: RowHash(high: $0[1], low: $0[2]), rowCount: $0[3]), $0[4])
            }
        }
    }

    /// Recomputes a partition's digest from the rows themselves (a check of the maintained one).
    package func recomputeDigest(partition: Int) async throws -> PartitionDigest {
        try await read { db in
            var hash = RowHash.zero
            var count: Int64 = 0
            for table in FeedRow.tables {
                let rows = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT \(table.columns) FROM \(table.name) WHERE partition = ?"),
                    arguments: [partition])
                for row in rows {
                    hash = hash ^ table.decode(row).rowHash
                    count += 1
                }
            }
            return PartitionDigest(partition: partition, hash: hash, rowCount: count)
        }
    }
}

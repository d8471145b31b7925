/// Rows of one partition sent between replicas: a page of the change feed or the contents of a
/// snapshot chunk. Applying a batch is idempotent and order-independent (see ``MergeRules``).
package struct ReplicationBatch: Hashable, Sendable {
    package var partition: Int
    package var conversations: [ConversationRecord]
    package var messages: [MessageRecord]
    /// Generation runs (their merged state) and spans of logged events. Every batch that carries
    /// spans also carries the rows of their runs (a receiver drops spans of runs it does not hold).
    package var generationRuns: [GenerationRunRow] = []
    package var generationLogSpans: [GenerationLogSpan] = []
    /// The sender's change sequence of the last row included: pass it as `after` for the next
    /// page. Node-local: only meaningful to the node that produced the batch.
    package var lastSeq: Int64
    /// Whether the sender had nothing after `lastSeq` when it produced the batch.
    package var isComplete: Bool

    package init(
        partition: Int, conversations: [ConversationRecord] = [], messages: [MessageRecord] = [], lastSeq: Int64 = 0,
        isComplete: Bool = true
    ) {
        self.partition = partition
        self.conversations = conversations
        self.messages = messages
        self.lastSeq = lastSeq
        self.isComplete = isComplete
    }
}

/// What applying a batch changed locally.
package struct ApplyResult: Hashable, Sendable {
    /// Conversation rows that changed through the merge (new, newer fields, tombstone).
    package var conversationsChanged = 0
    /// Messages that were not stored before.
    package var messagesInserted = 0
    /// Generation runs that changed through the merge (new, longer log, later state).
    package var generationRunsChanged = 0
    /// Generation log spans that were not stored before.
    package var generationLogSpansInserted = 0

    package init() {}
}

/// A replica's summary of one partition: equal digests mean equal contents (XOR of 128-bit row
/// hashes of every conversation row, tombstones included, every stored message, every
/// generation run and every span of a generation log).
package struct PartitionDigest: Hashable, Sendable {
    package var partition: Int
    package var hash: RowHash
    package var rowCount: Int64

    package init(partition: Int, hash: RowHash, rowCount: Int64) {
        self.partition = partition
        self.hash = hash
        self.rowCount = rowCount
    }
}

extension ReplicationBatch {
    /// Whether the batch carries no row.
    var isEmpty: Bool { conversations.isEmpty && messages.isEmpty && generationRuns.isEmpty && generationLogSpans.isEmpty }
}

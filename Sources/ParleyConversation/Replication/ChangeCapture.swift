import Synchronization

/// The rows one caller's writes changed, collected inside the write transaction so a replicated
/// write can push exactly them without reading them back.
///
/// A caller binds a capture with `ChangeCapture.$current.withValue(_:)`; every
/// ``ConversationDatabase`` write started in that task records the conversation rows it merged and
/// the messages it inserted (as stored, after the merge). Rows of a write whose savepoint rolled
/// back are dropped again.
final class ChangeCapture: Sendable {
    /// The capture writes of the current task record into (none by default).
    @TaskLocal static var current: ChangeCapture?

    private struct Rows {
        var conversations: [ConversationRecord] = []
        var messages: [MessageRecord] = []
        var runs: [GenerationRunRow] = []
        var spans: [GenerationLogSpan] = []
    }

    private let rows = Mutex(Rows())

    init() {}

    func record(_ conversation: ConversationRecord) {
        // Every merged state is kept (a later one of the same row merges over it on the replica),
        // so rolling back a failed write is a truncation.
        rows.withLock { $0.conversations.append(conversation) }
    }

    func record(_ message: MessageRecord) {
        rows.withLock { $0.messages.append(message) }
    }

    /// A run's state after a change.
    func record(_ run: GenerationRunRow) {
        rows.withLock { $0.runs.append(run) }
    }

    /// A log span just stored.
    func record(_ span: GenerationLogSpan) {
        rows.withLock { $0.spans.append(span) }
    }

    /// A position to roll back to when a write fails.
    var mark: [Int] {
        rows.withLock { [$0.conversations.count, $0.messages.count, $0.runs.count, $0.spans.count] }
    }

    /// Forgets rows recorded after `mark` (their savepoint rolled back).
    func rollBack(to mark: [Int]) {
        rows.withLock { rows in
            rows.conversations.removeSubrange(min(mark[0], rows.conversations.count)...)
            rows.messages.removeSubrange(min(mark[1], rows.messages.count)...)
            rows.runs.removeSubrange(min(mark[2], rows.runs.count)...)
            rows.spans.removeSubrange(min(mark[3], rows.spans.count)...)
        }
    }

    /// The recorded rows as a batch of `partition`.
    func batch(partition: Int) -> ReplicationBatch {
        rows.withLock {
            var batch = ReplicationBatch(partition: partition, conversations: $0.conversations, messages: $0.messages)
            batch.generationRuns = $0.runs
            batch.generationLogSpans = $0.spans
            return batch
        }
    }
}

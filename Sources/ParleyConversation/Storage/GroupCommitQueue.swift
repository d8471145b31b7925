import GRDB
import Synchronization

/// Group commit: concurrent writes are queued, and whichever writer finds no batch in progress
/// becomes the leader and runs everything queued in one transaction (each write in its own
/// savepoint, so one failing write rolls back alone; a write alone in its transaction needs none:
/// its failure rolls the transaction back and is its result). Every caller returns only after the
/// transaction holding its write has committed. No task is spawned: the leader is a caller.
/// `beforeCommit` runs last in every transaction (work deferred to once per transaction, such as
/// indexing the transaction's new messages); if it fails, the whole transaction fails, and
/// `afterRollback` runs.
final class GroupCommitQueue: Sendable {
    private struct Job: Sendable {
        /// Runs the write in its own savepoint inside the batch transaction and stages its result.
        let run: @Sendable (Database) throws -> Void
        /// Runs the write as the transaction's only one, without a savepoint (the transaction is
        /// its savepoint): stages its result, or throws its error, which rolls the transaction back.
        let runAlone: @Sendable (Database) throws -> Void
        /// Delivers the staged result (`nil`) or the transaction's failure.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var leaderActive = false
        var stats = Stats()
    }

    /// Counters: how many writes went through how many transactions.
    struct Stats: Hashable, Sendable {
        var transactions = 0
        var writes = 0
    }

    var stats: Stats { state.withLock { $0.stats } }

    private let pool: DatabasePool
    private let maxBatch: Int
    private let beforeCommit: @Sendable (Database) throws -> Void
    private let afterRollback: @Sendable () -> Void
    private let state = Mutex(State())

    init(
        pool: DatabasePool, maxBatch: Int, beforeCommit: @escaping @Sendable (Database) throws -> Void = { _ in },
        afterRollback: @escaping @Sendable () -> Void = {}
    ) {
        self.pool = pool
        self.maxBatch = max(1, maxBatch)
        self.beforeCommit = beforeCommit
        self.afterRollback = afterRollback
    }

    /// Runs `work` in a write transaction shared with other concurrent writes and returns its
    /// result once that transaction has committed.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let ticket = Ticket<T>()
        let job = Job(
            run: { db in
                var staged: Result<T, any Error>?
                try db.inSavepoint {
                    do {
                        staged = .success(try work(db))
                        return .commit
                    } catch {
                        staged = .failure(error)
                        return .rollback
                    }
                }
                ticket.stage(staged!)
            },
            runAlone: { db in ticket.stage(.success(try work(db))) },
            finish: { error in ticket.finish(error) }
        )
        let leads = state.withLock { state in
            state.pending.append(job)
            if state.leaderActive { return false }
            state.leaderActive = true
            return true
        }
        if leads { await lead() }
        return try await ticket.value()
    }

    /// The blocking write (a synchronous function selects GRDB's synchronous overload).
    private func writeBlocking(_ body: @Sendable (Database) throws -> Void) throws {
        try pool.write(body)
    }

    private func lead() async {
        while true {
            let batch: [Job] = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.leaderActive = false
                    return []
                }
                let count = min(maxBatch, state.pending.count)
                state.stats.transactions += 1
                state.stats.writes += count
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            let beforeCommit = self.beforeCommit
            let body: @Sendable (Database) throws -> Void = { db in
                if batch.count == 1 {
                    try batch[0].runAlone(db)
                } else {
                    for job in batch { try job.run(db) }
                }
                try beforeCommit(db)
            }
            do {
                if Task.isCancelled {
                    // The leader's caller was cancelled, but the batch holds other callers' writes:
                    // finish it on the blocking path, which ignores task cancellation.
                    try writeBlocking(body)
                } else {
                    try await pool.write(body)
                }
                for job in batch { job.finish(nil) }
            } catch {
                afterRollback()
                for job in batch { job.finish(error) }
            }
        }
    }
}

/// One caller's result slot: staged inside the transaction, delivered after commit.
private final class Ticket<T: Sendable>: Sendable {
    private enum State {
        case waiting(CheckedContinuation<T, any Error>?)
        case done(Result<T, any Error>)
    }

    private let staged = Mutex<Result<T, any Error>?>(nil)
    private let state = Mutex<State>(.waiting(nil))

    func stage(_ result: Result<T, any Error>) {
        staged.withLock { $0 = result }
    }

    func finish(_ transactionError: (any Error)?) {
        let result: Result<T, any Error>
        if let transactionError {
            result = .failure(transactionError)
        } else {
            result = staged.withLock { $0 } ?? .failure(CancellationError())
        }
        let continuation: CheckedContinuation<T, any Error>? = state.withLock { state in
            if case .waiting(let continuation) = state {
                state = .done(result)
                return continuation
            }
            return nil
        }
        continuation?.resume(with: result)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = state.withLock { state in
                switch state {
                case .done(let result): return result
                case .waiting: state = .waiting(continuation); return nil
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

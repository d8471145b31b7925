import GRDB
import Synchronization

/// Group commit: concurrent writes are queued, and whichever writer finds no batch in progress
/// becomes the leader and runs everything queued in one transaction. Every caller returns only
/// after the transaction holding its write has committed; a write that fails is never committed
/// and fails alone. No task is spawned: the leader is a caller.
///
/// A batch first runs its writes one after another without savepoints (a savepoint per write
/// costs two statements and a copy of every page it touches). If one of them fails, that
/// transaction is rolled back, every write's `undo` runs, and the batch runs again with each write
/// in its own savepoint, so the failing write rolls back alone and the others commit. A write
/// alone in its transaction needs neither: its failure rolls the transaction back and is its
/// result.
///
/// `beforeCommit` runs last in every transaction (work deferred to once per transaction, such as
/// indexing the transaction's new messages); if it fails, or the commit fails, the whole
/// transaction fails (every write in it gets that error), and `afterRollback` runs.
final class GroupCommitQueue: Sendable {
    private struct Job: Sendable {
        /// Runs the write and stages its result; throws its error (which aborts the attempt).
        let run: @Sendable (Database) throws -> Void
        /// Runs the write in its own savepoint and stages its result or its error.
        let runInSavepoint: @Sendable (Database) throws -> Void
        /// Forgets what an attempt that rolled back did outside the database.
        let undo: @Sendable () -> Void
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
        /// Committed or failed transactions (a batch run again with savepoints counts twice).
        var transactions = 0
        var writes = 0
        /// Batches run again with a savepoint per write because one of their writes failed.
        var retriedBatches = 0
    }

    var stats: Stats { state.withLock { $0.stats } }

    /// Writes queued and not yet taken into a transaction.
    var pendingCount: Int { state.withLock { $0.pending.count } }

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
    /// result once that transaction has committed. `work` may run more than once (after its
    /// transaction was rolled back because another write failed); `undo` runs after every rolled
    /// back run, and should forget what `work` did outside the database.
    func write<T: Sendable>(
        undo: @escaping @Sendable () -> Void = {}, _ work: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        let ticket = Ticket<T>()
        let job = Job(
            run: { db in ticket.stage(.success(try work(db))) },
            runInSavepoint: { db in
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
            undo: undo,
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

    private func lead() async {
        while true {
            let batch: [Job] = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.leaderActive = false
                    return []
                }
                let count = min(maxBatch, state.pending.count)
                state.stats.writes += count
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            let error = await commit(batch)
            for job in batch { job.finish(error) }
        }
    }

    /// Runs `batch` as described in the type's documentation; the transaction's failure, if any.
    private func commit(_ batch: [Job]) async -> (any Error)? {
        let beforeCommit = self.beforeCommit
        do {
            try await transaction { db in
                for job in batch {
                    do {
                        try job.run(db)
                    } catch {
                        throw WriteFailed(underlying: error)
                    }
                }
                try beforeCommit(db)
            }
            return nil
        } catch {
            afterRollback()
            for job in batch { job.undo() }
            guard let failed = error as? WriteFailed else { return error }
            // A write alone in its transaction: its failure is its result.
            if batch.count == 1 { return failed.underlying }
        }
        state.withLock { $0.stats.retriedBatches += 1 }
        do {
            try await transaction { db in
                for job in batch { try job.runInSavepoint(db) }
                try beforeCommit(db)
            }
            return nil
        } catch {
            afterRollback()
            for job in batch { job.undo() }
            return error
        }
    }

    /// Runs `body` in one write transaction (committed when `body` returns, rolled back when it
    /// throws).
    private func transaction(_ body: @escaping @Sendable (Database) throws -> Void) async throws {
        state.withLock { $0.stats.transactions += 1 }
        if Task.isCancelled {
            // The leader's caller was cancelled, but the batch holds other callers' writes:
            // finish it on the blocking path, which ignores task cancellation.
            try writeBlocking(body)
        } else {
            try await pool.write(body)
        }
    }

    /// The blocking write (a synchronous function selects GRDB's synchronous overload).
    private func writeBlocking(_ body: @Sendable (Database) throws -> Void) throws {
        try pool.write(body)
    }
}

/// A write of a batch run without savepoints failed: the batch runs again with savepoints.
private struct WriteFailed: Error {
    let underlying: any Error
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

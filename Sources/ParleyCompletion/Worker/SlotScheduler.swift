import ParleyProtocol
import Synchronization

/// The shell around a pool's ``WorkQueue``: hands out tickets, parks the tasks that wait for a slot
/// and wakes them when the queue grants or refuses. Safe from any thread (one `Mutex`); waking
/// happens outside the lock.
final class SlotScheduler: Sendable {
    typealias Queue = WorkQueue<ContinuousClock.Instant>
    typealias Ticket = Queue.Ticket

    private struct State {
        var queue: Queue
        var nextTicket: Ticket = 1
        /// Tasks waiting for their ticket's slot.
        var waiters: [Ticket: CheckedContinuation<Void, any Error>] = [:]
        /// Tickets refused by expiry before their task started waiting, with the retry hint.
        var refused: [Ticket: Duration] = [:]
    }

    private let state: Mutex<State>
    private let clock = ContinuousClock()

    init(configuration: WorkerPoolConfiguration) {
        state = Mutex(State(queue: Queue(configuration: configuration)))
    }

    var status: WorkerPoolStatus { state.withLock { $0.queue.status } }

    /// Takes a place for `request`: a slot (`running`) or a place in line. Throws `overloaded` when
    /// the line is full.
    func admit(_ request: ModelRequest) throws -> (ticket: Ticket, running: Bool) {
        let now = clock.now
        return try state.withLock { state in
            let ticket = state.nextTicket
            state.nextTicket += 1
            switch state.queue.enqueue(
                ticket, model: request.model, userID: request.userID, priority: request.priority, now: now)
            {
            case .run:
                return (ticket, true)
            case .queued:
                return (ticket, false)
            case .refused(let retryAfter):
                throw Self.overloaded("the worker queue is full", retryAfter: retryAfter)
            }
        }
    }

    /// Returns once `ticket` holds a slot. Throws `overloaded` when it waited too long, and
    /// `CancellationError` when the task is cancelled or the ticket was finished.
    func waitForSlot(_ ticket: Ticket) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if state.queue.isRunning(ticket) { return .success(()) }
                    if let retryAfter = state.refused.removeValue(forKey: ticket) {
                        return .failure(Self.overloaded("no worker slot within the maximum wait", retryAfter: retryAfter))
                    }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[ticket] = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.finish(ticket)
        }
    }

    /// The ticket's request ended (or was abandoned): frees its slot or its place in line and wakes the
    /// requests that get the freed slot. Idempotent.
    func finish(_ ticket: Ticket) {
        let now = clock.now
        let (abandoned, wakes) = state.withLock { state in
            state.refused[ticket] = nil
            let abandoned = state.waiters.removeValue(forKey: ticket)
            let decisions = state.queue.finish(ticket, now: now)
            return (abandoned, Self.apply(decisions, to: &state))
        }
        abandoned?.resume(throwing: CancellationError())
        for (continuation, result) in wakes { continuation.resume(with: result) }
    }

    /// Refuses the requests that waited longer than the maximum wait.
    func expire() {
        let now = clock.now
        let wakes = state.withLock { state in
            Self.apply(state.queue.expire(now: now), to: &state)
        }
        for (continuation, result) in wakes { continuation.resume(with: result) }
    }

    private static func apply(
        _ decisions: [Queue.Decision], to state: inout State
    ) -> [(CheckedContinuation<Void, any Error>, Result<Void, any Error>)] {
        var wakes: [(CheckedContinuation<Void, any Error>, Result<Void, any Error>)] = []
        for decision in decisions {
            switch decision {
            case .run(let ticket):
                if let waiter = state.waiters.removeValue(forKey: ticket) { wakes.append((waiter, .success(()))) }
            case .refused(let ticket, let retryAfter):
                if let waiter = state.waiters.removeValue(forKey: ticket) {
                    wakes.append((waiter, .failure(overloaded("no worker slot within the maximum wait", retryAfter: retryAfter))))
                } else {
                    state.refused[ticket] = retryAfter
                }
            }
        }
        return wakes
    }

    static func overloaded(_ message: String, retryAfter: Duration) -> ServingError {
        let (seconds, attoseconds) = retryAfter.components
        return ServingError(
            ServingError.overloaded, message, retryAfterSeconds: Double(seconds) + Double(attoseconds) / 1e18)
    }
}

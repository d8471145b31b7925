import ParleyProtocol
import Synchronization

/// Counts the generations a `ModelAPI` runs and reports when each one starts and ends, so the
/// node can answer `inFlight()`, and tests and metrics can see that a cancellation reached the
/// model (the generation's stream was dropped and its slot freed).
public final class GenerationTracker: Sendable {
    /// One change of a generation.
    public enum Event: Hashable, Sendable {
        /// The stream's consumer started iterating.
        case started(requestID: String)
        /// The stream ended: it finished, failed, or was cancelled (dropped before its end).
        case ended(requestID: String, outcome: Outcome)
    }

    /// How a generation ended.
    public enum Outcome: String, Hashable, Sendable {
        case finished
        case failed
        case cancelled
    }

    private struct State {
        var inFlight = 0
        var subscribers: [UInt64: AsyncStream<Event>.Continuation] = [:]
        var nextSubscriber: UInt64 = 1
    }

    private let state = Mutex(State())

    public init() {}

    /// Generations running now.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Every event from now on (unbounded buffer; stop iterating to unsubscribe).
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream()
        let id = state.withLock { state in
            defer { state.nextSubscriber += 1 }
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func started(_ requestID: String) {
        publish(.started(requestID: requestID), delta: 1)
    }

    func ended(_ requestID: String, _ outcome: Outcome) {
        publish(.ended(requestID: requestID, outcome: outcome), delta: -1)
    }

    private func publish(_ event: Event, delta: Int) {
        let subscribers = state.withLock { state in
            state.inFlight += delta
            return Array(state.subscribers.values)
        }
        // Yielded outside the lock: a subscriber cancelled meanwhile takes the lock in its
        // onTermination while holding its task's status lock, which a yield needs too.
        for continuation in subscribers { continuation.yield(event) }
    }
}

/// A backend's events, counted by a tracker from the first `next()` until the end or until the
/// iterator is dropped (a cancelled or abandoned stream).
struct TrackedEvents<Base: AsyncSequence<GenerationEvent, any Error> & Sendable>: AsyncSequence, Sendable {
    typealias Element = GenerationEvent
    typealias Failure = any Error

    let base: Base
    let tracker: GenerationTracker
    let requestID: String

    func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), lease: Lease(tracker: tracker, requestID: requestID))
    }

    /// Reports the end exactly once: explicitly, or from `deinit` as a cancellation.
    final class Lease {
        let tracker: GenerationTracker
        let requestID: String
        var started = false
        var ended = false

        init(tracker: GenerationTracker, requestID: String) {
            self.tracker = tracker
            self.requestID = requestID
        }

        func start() {
            guard !started else { return }
            started = true
            tracker.started(requestID)
        }

        func end(_ outcome: GenerationTracker.Outcome) {
            guard started, !ended else { return }
            ended = true
            tracker.ended(requestID, outcome)
        }

        deinit { end(.cancelled) }
    }

    struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let lease: Lease

        mutating func next() async throws -> GenerationEvent? {
            lease.start()
            do {
                guard let event = try await base.next() else {
                    lease.end(.finished)
                    return nil
                }
                if case .finished(let reason, _) = event { lease.end(reason == .cancelled ? .cancelled : .finished) }
                return event
            } catch {
                lease.end(error is CancellationError || Task.isCancelled ? .cancelled : .failed)
                throw error
            }
        }
    }
}

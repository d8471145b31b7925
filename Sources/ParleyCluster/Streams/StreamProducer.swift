import CoreMetrics
import NIOCore
import NIOPosix
import Synchronization

/// The producing end of one remote stream: iterates the source sequence while the consumer has
/// credit, batches encoded elements per event-loop tick, and ends with an end frame.
final class StreamProducer: Sendable {
    let streamID: UInt64
    let createdAt: ContinuousClock.Instant
    private let system: ClusterSystem
    private let loop: any EventLoop
    /// Starts iterating the source; called once, on the first demand.
    private let run: @Sendable (StreamProducer) -> Task<Void, Never>
    /// When the consumer's connection is lost (its node died or was cut off), keep iterating the
    /// source to its end and drop the elements, instead of cancelling it.
    private let drainsWhenConsumerIsLost: Bool

    private struct State {
        enum Phase {
            case unclaimed
            /// Claimed; the task is nil only while it is being started.
            case running(Task<Void, Never>?)
            case finished
        }

        var phase = Phase.unclaimed
        /// Where frames go: a connection, or `nil` for a consumer on this node.
        var connection: PeerConnection?
        var credit = 0
        var creditWaiter: CheckedContinuation<Void, any Error>?
        var cancelled = false
        /// The consumer is gone and the source runs on without credit (see `drainsWhenConsumerIsLost`).
        var draining = false
        var pending: [[UInt8]] = []
        var pendingEnd: RemoteErrorPayload?? = nil
        var flushScheduled = false
        /// Elements and the end go straight to a consumer on this node (``startsLocalDelivery()``).
        var deliversLocally = false
    }

    private let state = Mutex(State())

    init(
        streamID: UInt64, system: ClusterSystem, drainsWhenConsumerIsLost: Bool = false,
        run: @escaping @Sendable (StreamProducer) -> Task<Void, Never>
    ) {
        self.streamID = streamID
        self.system = system
        self.loop = system.group.next()
        self.run = run
        self.drainsWhenConsumerIsLost = drainsWhenConsumerIsLost
        self.createdAt = .now
    }

    var isUnclaimed: Bool {
        state.withLock { if case .unclaimed = $0.phase { true } else { false } }
    }

    /// The event loop of the consumer's connection (this producer's own loop for a local consumer).
    var consumerLoop: any EventLoop { state.withLock { $0.connection?.channel.eventLoop } ?? loop }

    /// The connection id the consumer's demand came on (`nil`: local or not yet claimed).
    var connectionID: UInt64? { state.withLock { $0.connection?.id } }

    /// Adds credit; the first demand claims the stream for `connection` and starts the producer.
    func demand(_ credit: Int, from connection: PeerConnection?) {
        var start = false
        let waiter: CheckedContinuation<Void, any Error>? = state.withLock { state in
            switch state.phase {
            case .unclaimed:
                state.connection = connection
                state.phase = .running(nil)
                start = true
            case .running:
                guard state.connection?.id == connection?.id else { return nil }  // Not the consumer.
            case .finished:
                return nil  // Late credit after the end: ignore.
            }
            state.credit += credit
            guard let waiter = state.creditWaiter, state.credit > 0 else { return nil }
            // The waiter takes its element's credit now.
            state.credit -= 1
            state.creditWaiter = nil
            return waiter
        }
        if start {
            let task = run(self)
            let cancelled = state.withLock { state in
                if case .running(.none) = state.phase { state.phase = .running(task) }
                return state.cancelled
            }
            if cancelled { task.cancel() }
        }
        waiter?.resume()
    }

    /// Claims a stream that nobody has started for a consumer on this node that iterates the source
    /// itself (``DirectSource``): the producer never runs, and its registration is dropped.
    func claimForDirectIteration() -> Bool {
        let claimed = state.withLock { state in
            guard case .unclaimed = state.phase, !state.cancelled else { return false }
            state.phase = .finished
            return true
        }
        if claimed { system.removeProducer(streamID) }
        return claimed
    }

    /// Waits until the consumer allows one more element, then takes it.
    func awaitCredit() async throws {
        // Fast path: credit is usually there already; no continuation needed.
        if Task.isCancelled { throw CancellationError() }
        let took: Bool? = state.withLock { state in
            if state.cancelled { return nil }
            if state.draining { return true }
            guard state.credit > 0 else { return false }
            state.credit -= 1
            return true
        }
        switch took {
        case nil: throw CancellationError()
        case true?: return
        case false?: break
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Result<Void, any Error>? = state.withLock { state in
                    if state.cancelled || Task.isCancelled { return .failure(CancellationError()) }
                    if state.draining { return .success(()) }
                    if state.credit > 0 {
                        state.credit -= 1
                        return .success(())
                    }
                    state.creditWaiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Called once before the source starts: whether the consumer is on this node. Its elements
    /// then go to it as values, without encoding and without an event-loop hop.
    func startsLocalDelivery() -> Bool {
        state.withLock { state in
            guard case .running = state.phase, state.connection == nil, !state.draining else { return false }
            state.deliversLocally = true
            return true
        }
    }

    /// Hands one element straight to the local consumer (see ``hasLocalConsumer``).
    func emitLocal(_ element: any Sendable) {
        system.metrics.streamElementsSent.increment(by: 1)
        system.deliverLocalElement(element, streamID: streamID)
    }

    /// Queues one encoded element; frames are flushed once per event-loop tick.
    func emit(_ element: [UInt8]) {
        let schedule = state.withLock { state in
            state.pending.append(element)
            defer { state.flushScheduled = true }
            return !state.flushScheduled
        }
        if schedule { scheduleFlush() }
    }

    /// Ends the stream after the queued elements, with an error when the source failed.
    func finish(_ error: (any Error)?) {
        let payload = error.map { RemoteErrorPayload($0) }
        enum Route { case local, scheduled, alreadyScheduled }
        let route = state.withLock { state -> Route in
            if state.deliversLocally, case .running = state.phase {
                state.phase = .finished
                return .local
            }
            state.pendingEnd = .some(payload)
            defer { state.flushScheduled = true }
            return state.flushScheduled ? .alreadyScheduled : .scheduled
        }
        switch route {
        case .local:
            system.deliverStreamFrame(.end(streamID: streamID, payload), via: nil)
            system.removeProducer(streamID)
        case .scheduled:
            scheduleFlush()
        case .alreadyScheduled:
            break
        }
    }

    /// Flushes on the loop's next tick; nothing once the system is shutting down (its loops stop,
    /// and so does every stream it carries).
    private func scheduleFlush() {
        system.loopGate.execute(on: loop) { self.flush() }
    }

    private func flush() {
        let (elements, end, connection, draining) = state.withLock { state in
            defer {
                state.pending = []
                state.flushScheduled = false
                if state.pendingEnd != nil { state.phase = .finished }
            }
            return (state.pending, state.pendingEnd, state.connection, state.draining)
        }
        if draining {
            if end != nil { system.removeProducer(streamID) }
            return
        }
        if !elements.isEmpty {
            system.metrics.streamElementsSent.increment(by: elements.count)
            system.deliverStreamFrame(.elements(streamID: streamID, elements), via: connection)
        }
        if let end {
            system.deliverStreamFrame(.end(streamID: streamID, end), via: connection)
            system.removeProducer(streamID)
        }
    }

    /// The consumer's connection closed. A draining producer runs its source on to the end without
    /// sending anything; any other stops.
    func consumerLost() {
        let (drain, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Void, any Error>?) in
            guard drainsWhenConsumerIsLost, !state.cancelled, case .running = state.phase else { return (false, nil) }
            state.draining = true
            state.pending = []
            defer { state.creditWaiter = nil }
            return (true, state.creditWaiter)
        }
        guard drain else { return cancel() }
        waiter?.resume()
    }

    /// Stops the producer: the consumer cancelled, went away, or the lease expired.
    func cancel() {
        let (task, waiter) = state.withLock { state -> (Task<Void, Never>?, CheckedContinuation<Void, any Error>?) in
            state.cancelled = true
            defer { state.creditWaiter = nil }
            if case .running(let task?) = state.phase { return (task, state.creditWaiter) }
            return (nil, state.creditWaiter)
        }
        waiter?.resume(throwing: CancellationError())
        task?.cancel()
        system.removeProducer(streamID)
    }
}

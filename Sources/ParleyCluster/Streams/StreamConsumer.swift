import Distributed
import NIOCore
import NIOPosix
import Synchronization

/// The consuming end of one remote stream, owned by its iterator. Dropping it (the consumer
/// `break`s out of the loop) or cancelling the consuming task cancels the producer.
final class StreamConsumer: Sendable {
    let system: ClusterSystem
    let producer: ClusterNode
    let streamID: UInt64
    /// How long a waiting `nextBatch` may go without an element before it fails (`nil`: forever).
    let idleTimeout: Duration?
    /// The same for the first element, when it may take longer (a model computing a long prompt
    /// sends nothing before its first token); `nil`: `idleTimeout`.
    let firstElementTimeout: Duration?

    /// One element as it arrived: bytes from another node, or the value itself from this one.
    enum Item: Sendable {
        case encoded([UInt8])
        case value(any Sendable)
    }

    private struct State {
        enum Phase {
            case idle
            case open
            case finished
        }

        var phase = Phase.idle
        var buffer: [Item] = []
        var end: Result<Void, any Error>?
        var waiter: CheckedContinuation<[Item], any Error>?
        /// Connection the elements arrive on; the producer answers demand where it arrived.
        var connection: PeerConnection?
        var consumedSinceGrant = 0
        /// Since when the current waiter waits (see ``StreamConsumer/idleTimeout``).
        var waitingSince: NIODeadline?
        /// The one pending idle check; it re-arms itself while waiters keep getting elements in
        /// time, so a stream costs one timer per timeout period, not one per element.
        var idleTimer: Scheduled<Void>?
        /// Whether an element has arrived (then `idleTimeout` applies, not `firstElementTimeout`).
        var receivedAny = false
    }

    private let state = Mutex(State())

    init(
        system: ClusterSystem, producer: ClusterNode, streamID: UInt64, idleTimeout: Duration? = nil,
        firstElementTimeout: Duration? = nil
    ) {
        self.system = system
        self.producer = producer
        self.streamID = streamID
        self.idleTimeout = idleTimeout
        self.firstElementTimeout = idleTimeout.map { firstElementTimeout ?? $0 }
    }

    /// The timeout of a wait now: before the first element `firstElementTimeout`, then `idleTimeout`.
    private func timeout(_ state: State) -> Duration? {
        state.receivedAny ? idleTimeout : firstElementTimeout
    }

    /// A decoder that resolves actor references and stream handles against this system.
    func makeDecoder() -> BinaryDecoder {
        var decoder = BinaryDecoder()
        decoder.userInfo[.actorSystemKey] = system
        return decoder
    }

    deinit {
        let (wasOpen, connection, idleTimer) = state.withLock { state in
            (state.phase == .open, state.connection, state.idleTimer)
        }
        idleTimer?.cancel()
        if wasOpen {
            system.unregisterConsumer(self)
            system.sendStreamFrame(.cancel(streamID: streamID), to: producer, via: connection)
        }
    }

    /// The next batch of elements; empty at the end of the stream.
    func nextBatch() async throws -> [Item] {
        if state.withLock({ $0.phase == .idle }) {
            try await open()
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Result<[Item], any Error>? = state.withLock { state in
                    if !state.buffer.isEmpty {
                        defer { state.buffer = [] }
                        return .success(state.buffer)
                    }
                    if let end = state.end {
                        state.phase = .finished
                        return end.map { [] }
                    }
                    if Task.isCancelled {
                        return .failure(CancellationError())
                    }
                    // Nothing reaches a system that has shut down, and its loops take no timer.
                    guard system.loopGate.isOpen else { return .failure(ClusterError.systemShutDown()) }
                    if let timeout = timeout(state) {
                        let now = NIODeadline.now()
                        if state.idleTimer == nil {
                            let deadline = now + .nanoseconds(timeout.nanoseconds)
                            guard let timer = system.loopGate.ifOpen({ scheduleIdleCheck(at: deadline) }) else {
                                return .failure(ClusterError.systemShutDown())
                            }
                            state.idleTimer = timer
                        }
                        state.waitingSince = now
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer {
                    state.waiter = nil
                    state.waitingSince = nil
                }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func open() async throws {
        let connection: PeerConnection?
        if producer == system.node {
            connection = nil
        } else {
            connection = try await system.connection(to: producer)
        }
        state.withLock { state in
            state.phase = .open
            state.connection = connection
        }
        system.registerConsumer(self, connectionID: connection?.id)
        system.sendStreamFrame(.demand(streamID: streamID, credit: UInt32(system.settings.streamWindow)), to: producer, via: connection)
    }

    private func scheduleIdleCheck(at deadline: NIODeadline) -> Scheduled<Void> {
        // Weak: the consumer's deinit is what cancels the producer.
        system.group.next().scheduleTask(deadline: deadline) { [weak self] in self?.checkIdle() }
    }

    /// Fails a waiter that has waited ``idleTimeout`` with `.timedOut` (dropping the iterator then
    /// cancels the producer); re-arms for a waiter that has not waited that long yet.
    private func checkIdle() {
        let expired: (CheckedContinuation<[Item], any Error>, Duration)? = state.withLock { state in
            state.idleTimer = nil
            guard let limit = timeout(state), let since = state.waitingSince, let waiter = state.waiter else { return nil }
            let timeout = TimeAmount.nanoseconds(limit.nanoseconds)
            guard NIODeadline.now() >= since + timeout else {
                state.idleTimer = scheduleIdleCheck(at: since + timeout)
                return nil
            }
            state.waiter = nil
            state.waitingSince = nil
            return (waiter, limit)
        }
        guard let (waiter, limit) = expired else { return }
        waiter.resume(throwing: ClusterError(.timedOut, "the stream's producer on \(producer) sent nothing for \(limit)"))
    }

    /// Counts consumed elements and renews credit at half the window.
    func consumed(_ count: Int) {
        let window = system.settings.streamWindow
        let grant: (Int, PeerConnection?)? = state.withLock { state in
            state.consumedSinceGrant += count
            guard state.consumedSinceGrant >= max(1, window / 2), state.end == nil else { return nil }
            defer { state.consumedSinceGrant = 0 }
            return (state.consumedSinceGrant, state.connection)
        }
        if let (credit, connection) = grant {
            system.sendStreamFrame(.demand(streamID: streamID, credit: UInt32(credit)), to: producer, via: connection)
        }
    }

    // MARK: Called by the system when frames arrive

    func receive(_ elements: [Item]) {
        let (waiter, firstTimer): (CheckedContinuation<[Item], any Error>?, Scheduled<Void>?) = state.withLock { state in
            guard state.end == nil else { return (nil, nil) }
            // The first element ends the first element's longer timeout: its pending check goes,
            // and the next wait arms one for `idleTimeout`.
            var firstTimer: Scheduled<Void>?
            if !state.receivedAny {
                state.receivedAny = true
                if firstElementTimeout != idleTimeout {
                    firstTimer = state.idleTimer
                    state.idleTimer = nil
                }
            }
            if let waiter = state.waiter {
                // A waiter exists only while the buffer is empty.
                state.waiter = nil
                state.waitingSince = nil
                return (waiter, firstTimer)
            }
            state.buffer.append(contentsOf: elements)
            return (nil, firstTimer)
        }
        firstTimer?.cancel()
        waiter?.resume(returning: elements)
    }

    func finish(_ end: Result<Void, any Error>) {
        let waiter: CheckedContinuation<[Item], any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = end
            guard state.buffer.isEmpty, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.waitingSince = nil
            state.phase = .finished
            return waiter
        }
        if let waiter {
            switch end {
            case .success: waiter.resume(returning: [])
            case .failure(let error): waiter.resume(throwing: error)
            }
        }
    }
}

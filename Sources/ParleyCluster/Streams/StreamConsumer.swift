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
        /// The idle timer of the current waiter (see ``StreamConsumer/idleTimeout``).
        var idleTimer: Scheduled<Void>?
        /// Counts waiters, so a timer that fires late never fails a later one.
        var waiterSerial: UInt64 = 0
    }

    private let state = Mutex(State())

    init(system: ClusterSystem, producer: ClusterNode, streamID: UInt64, idleTimeout: Duration? = nil) {
        self.system = system
        self.producer = producer
        self.streamID = streamID
        self.idleTimeout = idleTimeout
    }

    /// A decoder that resolves actor references and stream handles against this system.
    func makeDecoder() -> BinaryDecoder {
        var decoder = BinaryDecoder()
        decoder.userInfo[.actorSystemKey] = system
        return decoder
    }

    deinit {
        let (wasOpen, connection) = state.withLock { state in
            (state.phase == .open, state.connection)
        }
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
                    state.waiter = continuation
                    state.waiterSerial &+= 1
                    if let idleTimeout {
                        let serial = state.waiterSerial
                        state.idleTimer = system.group.next().scheduleTask(in: .nanoseconds(idleTimeout.nanoseconds)) {
                            [weak self] in
                            // Weak: the consumer's deinit is what cancels the producer.
                            self?.idleTimerFired(serial: serial)
                        }
                    }
                    return nil
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer {
                    state.waiter = nil
                    state.idleTimer?.cancel()
                    state.idleTimer = nil
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

    /// The producer sent nothing for ``idleTimeout``: the waiting consumer fails with `.timedOut`
    /// (dropping the iterator then cancels the producer).
    private func idleTimerFired(serial: UInt64) {
        let waiter: CheckedContinuation<[Item], any Error>? = state.withLock { state in
            guard state.waiterSerial == serial, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.idleTimer = nil
            return waiter
        }
        waiter?.resume(
            throwing: ClusterError(.timedOut, "the stream's producer on \(producer) sent nothing for \(idleTimeout ?? .zero)"))
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
        let waiter: CheckedContinuation<[Item], any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            if let waiter = state.waiter {
                // A waiter exists only while the buffer is empty.
                state.waiter = nil
                state.idleTimer?.cancel()
                state.idleTimer = nil
                return waiter
            }
            state.buffer.append(contentsOf: elements)
            return nil
        }
        waiter?.resume(returning: elements)
    }

    func finish(_ end: Result<Void, any Error>) {
        let waiter: CheckedContinuation<[Item], any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            state.end = end
            guard state.buffer.isEmpty, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.idleTimer?.cancel()
            state.idleTimer = nil
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

import NIOCore
import Synchronization

/// One established TCP connection to a peer node, after the handshake.
///
/// Sends are coalesced: frames from any thread are appended to a locked outbox, and one event-loop
/// task drains the outbox with a single flush, so a burst of replies costs one syscall.
final class PeerConnection: Sendable {
    /// Distinguishes connections in logs and tables; unique within one system.
    let id: UInt64
    let peer: ClusterNode
    let channel: any Channel
    /// Whether this side dialed the connection.
    let isOutbound: Bool
    private let maxQueuedBytes: Int
    /// Runs tasks on the event loop of this connection's channel.
    let taskExecutor: EventLoopTaskExecutor
    /// Closed when the system shuts down: nothing more is handed to the loop then.
    private let loopGate: EventLoopGate

    private struct Outbox {
        var frames: [ByteBuffer] = []
        var queuedBytes = 0
        var flushScheduled = false
        var closed = false
    }

    private let outbox = Mutex(Outbox())

    init(
        id: UInt64, peer: ClusterNode, channel: any Channel, isOutbound: Bool, maxQueuedBytes: Int, loopGate: EventLoopGate
    ) {
        self.id = id
        self.peer = peer
        self.channel = channel
        self.isOutbound = isOutbound
        self.maxQueuedBytes = maxQueuedBytes
        self.taskExecutor = EventLoopTaskExecutor(loop: channel.eventLoop, gate: loopGate)
        self.loopGate = loopGate
    }

    var allocator: ByteBufferAllocator { channel.allocator }

    /// Queues a complete frame for sending. Throws `.nodeDown` once the connection is closed and
    /// `.overloaded` when the peer does not read fast enough.
    func send(_ frame: ByteBuffer) throws {
        guard loopGate.isOpen else { throw ClusterError.systemShutDown() }
        let schedule: Bool = try outbox.withLock { box in
            guard !box.closed else { throw ClusterError(.nodeDown, "connection to \(peer) is closed") }
            guard box.queuedBytes < maxQueuedBytes else {
                throw ClusterError(.overloaded, "more than \(maxQueuedBytes) bytes queued for \(peer)")
            }
            box.frames.append(frame)
            box.queuedBytes += frame.readableBytes
            if box.flushScheduled { return false }
            box.flushScheduled = true
            return true
        }
        // A gate closed since the check above: the shutdown closes the connection and its frames.
        if schedule { loopGate.execute(on: channel.eventLoop) { self.drain() } }
    }

    /// Builds a frame with the connection's allocator and sends it.
    func send(capacity: Int = 64, _ write: (inout ByteBuffer) -> Void) throws {
        var buffer = channel.allocator.buffer(capacity: capacity)
        write(&buffer)
        try send(buffer)
    }

    private func drain() {
        let frames = outbox.withLock { box in
            let frames = box.frames
            box.frames = []
            box.queuedBytes = 0
            box.flushScheduled = false
            return frames
        }
        guard !frames.isEmpty else { return }
        // Many writes, one flush: NIO gathers them into a single vectored write.
        for frame in frames { channel.write(frame, promise: nil) }
        channel.flush()
    }

    /// Marks the connection closed for senders and closes the channel (once the system's gate is
    /// closed, its shutdown closes the channel: the loops may be stopping).
    func close() {
        outbox.withLock { $0.closed = true }
        _ = loopGate.ifOpen { channel.close(promise: nil) }
    }

    /// `close()` for the system's shutdown, which has closed the gate but not yet stopped the loops.
    func closeDuringShutdown() {
        outbox.withLock { $0.closed = true }
        channel.close(promise: nil)
    }

    /// Marks the connection closed for senders (the channel is already gone).
    func markClosed() {
        outbox.withLock { $0.closed = true }
    }
}

import CoreMetrics
import Logging
import NIOCore

/// The channel handler of one cluster connection: frames bytes, runs the handshake, then hands
/// frames to the `ClusterSystem`. A malformed or oversized frame, a failed handshake or a
/// handshake that takes too long closes this one connection and is logged; nothing else happens.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let system: ClusterSystem
    private var parser = FrameParser(maxFrameSize: WireFormat.maxHandshakeFrameSize)
    private var handshake: HandshakeStateMachine
    private let role: HandshakeStateMachine.Role
    /// Completed (success or failure) when the handshake ends; dialers wait on it.
    private let established: EventLoopPromise<PeerConnection>
    private var connection: PeerConnection?
    private var handshakeTimer: Scheduled<Void>?
    private var logger: Logger

    init(system: ClusterSystem, role: HandshakeStateMachine.Role, established: EventLoopPromise<PeerConnection>) {
        self.system = system
        self.role = role
        self.established = established
        self.handshake = HandshakeStateMachine(
            role: role, local: system.node, clusterKey: system.settings.clusterKey,
            apiVersion: system.settings.apiVersion, nonce: (0..<32).map { _ in UInt8.random(in: 0...255) })
        self.logger = system.logger
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "peer.address"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let timeout = TimeAmount.nanoseconds(Int64(system.settings.handshakeTimeout.components.seconds) * 1_000_000_000
            + system.settings.handshakeTimeout.components.attoseconds / 1_000_000_000)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: timeout) {
            guard handler.value.connection == nil else { return }
            handler.value.fail(context: boundContext.value, reason: "handshake timed out", notifyPeer: false)
        }
        if let action = handshake.start() {
            perform([action], context: context)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data))
        do {
            while let frame = try parser.next() {
                if let connection {
                    system.receive(frame, on: connection)
                } else {
                    let message = try HandshakeMessage(frame: frame)
                    perform(handshake.receive(message), context: context)
                    if !context.channel.isActive { return }
                }
            }
            parser.compact()
        } catch {
            let reason = (error as? ClusterError)?.description ?? "bad frame"
            logger.warning("closing connection after a bad frame", metadata: ["error": "\(reason)"])
            system.metrics.badFrames.increment()
            fail(context: context, reason: reason, notifyPeer: false)
        }
    }

    private func perform(_ actions: [HandshakeStateMachine.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .send(let message):
                var buffer = context.channel.allocator.buffer(capacity: 128)
                message.write(to: &buffer)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            case .established(let peer):
                handshakeTimer?.cancel()
                parser.maxFrameSize = system.settings.maxFrameSize
                let connection = system.connectionEstablished(
                    peer: peer, channel: context.channel, isOutbound: role == .client)
                self.connection = connection
                logger[metadataKey: "peer.node"] = "\(peer)"
                established.succeed(connection)
            case .fail(let reason, let notifyPeer):
                fail(context: context, reason: reason, notifyPeer: notifyPeer)
            }
        }
    }

    private func fail(context: ChannelHandlerContext, reason: String, notifyPeer: Bool) {
        handshakeTimer?.cancel()
        if connection == nil {
            logger.warning("handshake failed", metadata: ["reason": "\(reason)"])
            established.fail(ClusterError(.rejected, reason))
        }
        if notifyPeer {
            var buffer = context.channel.allocator.buffer(capacity: 64)
            HandshakeMessage.rejected(reason: reason).write(to: &buffer)
            // The small frame reaches the socket inside this flush, before the close.
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if let connection {
            system.connectionClosed(connection)
        } else {
            established.fail(ClusterError(.nodeDown, "connection closed during the handshake"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error.type": "\(type(of: error))"])
        context.close(promise: nil)
    }
}

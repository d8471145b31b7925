import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Established connections by peer, dials in progress, and node incarnations known to be down.
struct PeerTable {
    /// The connection used to reach a node incarnation (either direction serves both ways).
    var byUID: [UInt64: PeerConnection] = [:]
    /// Every established connection, by connection id.
    var byID: [UInt64: PeerConnection] = [:]
    /// Dials in progress, by address; their promises are failed when the system shuts down (a dial
    /// whose loop stopped would otherwise never complete).
    var dialing: [NodeAddress: EventLoopPromise<PeerConnection>] = [:]
    /// Incarnations declared dead or left: calls to them fail at once.
    var down: Set<UInt64> = []
    var nextConnectionID: UInt64 = 1

    var all: [PeerConnection] { Array(byID.values) }

    func connection(toAddress address: NodeAddress) -> PeerConnection? {
        byID.values.first { $0.peer.address == address && $0.isOutbound }
            ?? byID.values.first { $0.peer.address == address }
    }
}

extension ClusterSystem {
    // MARK: Getting a connection

    /// The connection to a specific node incarnation, dialing when needed. Fails with `.nodeDown`
    /// when that incarnation is known to be down or another incarnation answers at its address.
    func connection(to target: ClusterNode) async throws -> PeerConnection {
        if let existing = try peers.withLock({ table -> PeerConnection? in
            guard !table.down.contains(target.uid) else {
                throw ClusterError(.nodeDown, "\(target) is down")
            }
            return table.byUID[target.uid]
        }) {
            return existing
        }
        let connection = try await connection(toAddress: target.address)
        guard connection.peer.uid == target.uid else {
            throw ClusterError(.nodeDown, "\(target) is gone: \(connection.peer) now listens at \(target.address)")
        }
        return connection
    }

    /// A connection to whichever node listens at `address` (used to join through seeds).
    func connection(toAddress address: NodeAddress) async throws -> PeerConnection {
        enum Found { case connected(PeerConnection), dialing(EventLoopPromise<PeerConnection>) }
        // Inside the loop gate: a shutdown has either not begun (and its `failDials` will find a dial
        // started here) or refuses the call.
        let found: Found? = peers.withLock { table in
            loopGate.ifOpen {
                if let existing = table.connection(toAddress: address) { return .connected(existing) }
                if let dialing = table.dialing[address] { return .dialing(dialing) }
                let promise = dial(address)
                table.dialing[address] = promise
                return .dialing(promise)
            }
        }
        guard let found else { throw ClusterError.systemShutDown() }
        let dialing: EventLoopPromise<PeerConnection>
        switch found {
        case .connected(let connection): return connection
        case .dialing(let promise): dialing = promise
        }
        defer {
            peers.withLock { table in
                if table.dialing[address]?.futureResult === dialing.futureResult { table.dialing[address] = nil }
            }
        }
        do {
            return try await loopGate.value(of: dialing.futureResult)
        } catch {
            if let error = error as? ClusterError { throw error }
            throw ClusterError(.nodeDown, "cannot connect to \(address): \(type(of: error))")
        }
    }

    /// Dials `address`; the promise completes with the connection once the handshake is done.
    private func dial(_ address: NodeAddress) -> EventLoopPromise<PeerConnection> {
        let loop = group.next()
        let established = loop.makePromise(of: PeerConnection.self)
        let timeout = settings.connectTimeout
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(Int64(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.installHandlers(on: channel, role: .client, established: established)
                }
            }
        // An IP address is dialed as it is: no resolver round (which runs on a thread of its own
        // and hands its answer back to the loop).
        let connected: EventLoopFuture<any Channel>
        if let ip = try? SocketAddress(ipAddress: address.host, port: address.port) {
            connected = bootstrap.connect(to: ip)
        } else {
            connected = bootstrap.connect(host: address.host, port: address.port)
        }
        connected.whenFailure { error in established.fail(error) }
        return established
    }

    /// Fails every dial in progress (called by the shutdown while the loops still run, so the
    /// waiting callers are resumed).
    func failDials(_ error: ClusterError) {
        let dials = peers.withLock { table in
            defer { table.dialing = [:] }
            return Array(table.dialing.values)
        }
        for promise in dials { promise.fail(error) }
    }

    // MARK: Connection lifecycle (called by ConnectionHandler on the event loop)

    func connectionEstablished(peer: ClusterNode, channel: any Channel, isOutbound: Bool) -> PeerConnection {
        let (connection, observers) = peers.withLock { table in
            let connection = PeerConnection(
                id: table.nextConnectionID, peer: peer, channel: channel, isOutbound: isOutbound,
                maxQueuedBytes: settings.maxQueuedBytesPerConnection, loopGate: loopGate)
            table.nextConnectionID += 1
            table.byID[connection.id] = connection
            if table.byUID[peer.uid] == nil || isOutbound {
                table.byUID[peer.uid] = connection
            }
            return (connection, runtime.withLock { $0.connectionObservers })
        }
        metrics.connections.increment()
        logger.debug("connection established", metadata: ["peer.node": "\(peer)", "outbound": "\(isOutbound)"])
        for observer in observers { observer(.established(peer)) }
        return connection
    }

    func connectionClosed(_ connection: PeerConnection) {
        connection.markClosed()
        let observers = peers.withLock { table in
            table.byID[connection.id] = nil
            if table.byUID[connection.peer.uid] === connection {
                // Fall back to another open connection to the same incarnation, if any.
                table.byUID[connection.peer.uid] = table.byID.values.first { $0.peer.uid == connection.peer.uid }
            }
            return runtime.withLock { $0.connectionObservers }
        }
        metrics.connections.decrement()
        logger.debug("connection closed", metadata: ["peer.node": "\(connection.peer)"])
        let error = ClusterError(.nodeDown, "connection to \(connection.peer) closed")
        failCalls(onConnection: connection.id, error)
        cancelServerCalls(onConnection: connection.id)
        failStreams(onConnection: connection.id, error)
        for observer in observers { observer(.closed(connection.peer)) }
    }

    /// Declares a node incarnation down (membership found it dead or gone): its connections close
    /// and every call and stream to it fails at once with `.nodeDown`.
    package func markDown(_ node: ClusterNode) {
        let connections = peers.withLock { table -> [PeerConnection] in
            table.down.insert(node.uid)
            table.byUID[node.uid] = nil
            return table.byID.values.filter { $0.peer.uid == node.uid }
        }
        for connection in connections { connection.close() }
        failCalls(toNode: node.uid, ClusterError(.nodeDown, "\(node) is down"))
    }

    /// Whether `node` was declared down.
    package func isDown(_ node: ClusterNode) -> Bool {
        peers.withLock { $0.down.contains(node.uid) }
    }

    // MARK: Incoming frames

    /// Dispatches one frame of an established connection. Runs on the connection's event loop.
    func receive(_ frame: Frame, on connection: PeerConnection) {
        if dropsFrames(from: connection.peer) { return }  // test hook, see ClusterSystem+FaultInjection
        metrics.bytesReceived.increment(by: frame.payload.readableBytes + 5)
        do {
            switch frame.kind {
            case .call:
                handleCall(try CallEnvelope(payload: frame.payload), on: connection)
            case .reply:
                handleReply(try ReplyEnvelope(payload: frame.payload))
            case .callCancel:
                var payload = frame.payload
                cancelServerCall(connection: connection.id, callID: try payload.readChecked(UInt64.self))
            case .streamDemand, .streamElements, .streamEnd, .streamCancel:
                handleStreamFrame(try StreamFrame(frame: frame), on: connection)
            case .system:
                var payload = frame.payload
                let channel = try payload.readChecked(UInt8.self)
                let handler = runtime.withLock { $0.systemHandlers[channel] }
                handler?(connection.peer, payload.readBytes(length: payload.readableBytes) ?? [])
            case .hello, .challenge, .authenticate, .accepted, .rejected:
                throw ClusterError(.malformed, "handshake frame after the handshake")
            }
        } catch {
            logger.warning(
                "closing connection after a malformed frame",
                metadata: ["peer.node": "\(connection.peer)", "frame.kind": "\(frame.kind)",
                           "error": "\((error as? ClusterError)?.description ?? "\(type(of: error))")"])
            metrics.badFrames.increment()
            connection.close()
        }
    }

    // MARK: One-way runtime messages

    /// Sends a one-way runtime message to a node incarnation (dialing when needed).
    package func sendSystemMessage(channel: UInt8, to target: ClusterNode, _ body: [UInt8]) async throws {
        let connection = try await connection(to: target)
        try sendSystemMessage(channel: channel, on: connection, body)
    }

    /// Sends a one-way runtime message to whichever node listens at `address`.
    package func sendSystemMessage(channel: UInt8, toAddress address: NodeAddress, _ body: [UInt8]) async throws {
        let connection = try await connection(toAddress: address)
        try sendSystemMessage(channel: channel, on: connection, body)
    }

    /// Sends without waiting when a connection to `target` is already open; returns false otherwise.
    /// A node marked down is only reached with `evenIfDown` (membership telling a dead uid that it
    /// is out, over the connection that uid opened).
    package func trySendSystemMessage(
        channel: UInt8, to target: ClusterNode, _ body: [UInt8], evenIfDown: Bool = false
    ) -> Bool {
        guard let connection = peers.withLock({ table -> PeerConnection? in
            guard table.down.contains(target.uid) else { return table.byUID[target.uid] }
            return evenIfDown ? table.byID.values.first { $0.peer.uid == target.uid } : nil
        }) else {
            return false
        }
        return (try? sendSystemMessage(channel: channel, on: connection, body)) != nil
    }

    private func sendSystemMessage(channel: UInt8, on connection: PeerConnection, _ body: [UInt8]) throws {
        try connection.send(capacity: body.count + 8) { buffer in
            let start = buffer.beginFrame(.system)
            buffer.writeInteger(channel)
            buffer.writeBytes(body)
            buffer.endFrame(at: start)
        }
    }
}

extension ClusterSystem {
    /// The executor of the event loop that carries this system's calls to `node`, connecting when
    /// needed. A task that makes many small calls to one node can prefer it
    /// (`withTaskExecutorPreference`): its calls are then written, and their replies resumed, on
    /// that loop's thread, without a hand-over to and from the global pool per call.
    public func callExecutor(for node: ClusterNode) async throws -> any TaskExecutor {
        try await connection(to: node).taskExecutor
    }
}

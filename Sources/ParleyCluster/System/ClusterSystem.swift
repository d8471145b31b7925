public import Distributed
import CoreMetrics
public import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Parley's `DistributedActorSystem`: distributed actors on nodes that talk over TCP.
///
/// Create one per process with `ClusterSystem.start(settings:)`, host actors with
/// `init(actorSystem:)`, and call remote actors through ids found via the receptionist. Calls have
/// deadlines (`ClusterSystem.withCallTimeout`), errors cross the wire as `ClusterError`, and a
/// distributed method may return a `RemoteStream` that the caller iterates.
public final class ClusterSystem: DistributedActorSystem, Sendable {
    public typealias ActorID = ClusterActorID
    public typealias InvocationEncoder = ClusterInvocationEncoder
    public typealias InvocationDecoder = ClusterInvocationDecoder
    public typealias ResultHandler = ClusterResultHandler
    public typealias SerializationRequirement = any Codable

    /// This node incarnation (its address is the bound listen address).
    public let node: ClusterNode
    public let settings: ClusterSettings
    public let logger: Logger
    let metrics: ClusterMetrics
    /// What this node's roles are doing (streams in flight, tokens per second), for the cluster view.
    public let activity = NodeActivity()
    let group: MultiThreadedEventLoopGroup
    /// A serial executor on the system's first event loop, for small actors whose every message is
    /// short (a counter, a table lookup). Incoming calls start on their connection's loop
    /// (``ClusterSettings/runsCallsOnEventLoop``), so such an actor answers them on that thread
    /// without a hop to the global pool and back. Never give it an actor that blocks or computes
    /// for long: that would hold up the loop's network I/O. Fixed at start: an actor's
    /// `unownedExecutor` asks for it on every message.
    public let eventLoopExecutor: any SerialExecutor
    /// Closed when the system shuts down, before its event loops stop: tasks and actors that
    /// prefer those loops then run elsewhere instead of being dropped (see ``EventLoopGate``).
    let loopGate = EventLoopGate()
    private let listener: any Channel
    private let sslContexts: TLSContexts?

    let actors = Mutex(ActorTable())
    let peers = Mutex(PeerTable())
    let calls = Mutex(CallTable())
    let streams = Mutex(StreamTable())
    let runtime = Mutex(RuntimeState())
    /// Parameter and return types of the targets served so far (see `TargetSignature`).
    let targetSignatures = TargetSignatures()

    struct RuntimeState {
        var sweeper: Task<Void, Never>?
        var isShutDown = false
        /// Receives one-way runtime messages by channel (membership, receptionist).
        var systemHandlers: [UInt8: @Sendable (ClusterNode, [UInt8]) -> Void] = [:]
        /// Told about every established and every closed connection.
        var connectionObservers: [@Sendable (ConnectionEvent) -> Void] = []
        /// Types allowed as generic substitutions in incoming calls, by mangled name.
        var allowedSubstitutions: [String: any Any.Type] = [:]
        /// The membership and receptionist shell (see `Cluster/`), unless membership is off.
        var membership: ClusterMembership?
        /// This node's stats actor (held here: the actor table holds actors weakly).
        var nodeStats: NodeStats?
    }

    /// A connection event for observers such as membership.
    public enum ConnectionEvent: Sendable {
        case established(ClusterNode)
        case closed(ClusterNode)
    }

    /// Starts the listener and returns a running system. Call `shutdown()` when done.
    public static func start(settings: ClusterSettings, logger: Logger = Logger(label: "parley.cluster")) async throws
        -> ClusterSystem
    {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, settings.eventLoopThreads))
        do {
            let tls = try settings.tls.map(TLSContexts.init)
            let box = SystemBox()
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    guard let system = box.system else { return channel.close() }
                    return channel.eventLoop.makeCompletedFuture {
                        try system.installHandlers(on: channel, role: .server, established: channel.eventLoop.makePromise())
                    }
                }
                .bind(host: settings.listen.host, port: settings.listen.port)
                .get()
            guard let port = listener.localAddress?.port else {
                throw ClusterError(.shutDown, "listener has no port")
            }
            let host = settings.advertisedHost ?? settings.listen.host
            let node = ClusterNode(
                name: settings.name, address: NodeAddress(host: host, port: port),
                uid: UInt64.random(in: 1...UInt64.max))
            var logger = logger
            logger[metadataKey: "node.id"] = "\(node.name)"
            let system = ClusterSystem(
                node: node, settings: settings, logger: logger, group: group, listener: listener, tls: tls)
            box.system = system
            system.startSweeper()
            if settings.runsMembership {
                system.startMembership()
                system.startNodeStats()
            }
            logger.info("cluster listener started", metadata: ["node.address": "\(node.address)"])
            return system
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(
        node: ClusterNode, settings: ClusterSettings, logger: Logger, group: MultiThreadedEventLoopGroup,
        listener: any Channel, tls: TLSContexts?
    ) {
        self.node = node
        self.settings = settings
        self.logger = logger
        self.group = group
        var loops = group.makeIterator()
        self.eventLoopExecutor = EventLoopSerialExecutor(loop: loops.next()!, gate: loopGate)
        self.listener = listener
        self.sslContexts = tls
        self.metrics = ClusterMetrics(node: node.name)
    }

    /// Closes the listener and every connection, fails what is in flight, stops the event loops.
    public func shutdown() async {
        let (alreadyShutDown, sweeper): (Bool, Task<Void, Never>?) = runtime.withLock { state in
            guard !state.isShutDown else { return (true, nil) }
            state.isShutDown = true
            return (false, state.sweeper)
        }
        guard !alreadyShutDown else { return }
        loopGate.close()
        failDials(ClusterError.systemShutDown())
        // The fault-injection table is keyed by object identity, which a later system may reuse.
        dropFrames(fromNodesNamed: [])
        sweeper?.cancel()
        runtime.withLock { $0.membership }?.stop()
        try? await listener.close()
        let connections = peers.withLock { $0.all }
        for connection in connections { connection.closeDuringShutdown() }
        failAllCalls(ClusterError.systemShutDown())
        try? await group.shutdownGracefully()
    }

    var isShutDown: Bool { runtime.withLock { $0.isShutDown } }

    // MARK: Runtime extension points

    /// Routes one-way runtime messages of `channel` to `handler` (used by membership and the receptionist).
    package func setSystemMessageHandler(channel: UInt8, _ handler: @escaping @Sendable (ClusterNode, [UInt8]) -> Void) {
        runtime.withLock { $0.systemHandlers[channel] = handler }
    }

    /// Calls `observer` for every connection established or closed.
    package func observeConnections(_ observer: @escaping @Sendable (ConnectionEvent) -> Void) {
        runtime.withLock { $0.connectionObservers.append(observer) }
    }

    /// Allows `type` as a generic substitution of incoming calls (e.g. a `@Resolvable` stub type).
    public func allowGenericSubstitution(_ type: any Any.Type) {
        let name = _mangledTypeName(type) ?? String(reflecting: type)
        runtime.withLock { $0.allowedSubstitutions[name] = type }
    }

    func allowedSubstitution(named name: String) -> (any Any.Type)? {
        runtime.withLock { $0.allowedSubstitutions[name] }
    }

    // MARK: Channel set-up

    func installHandlers(on channel: any Channel, role: HandshakeStateMachine.Role, established: EventLoopPromise<PeerConnection>) throws {
        let sync = channel.pipeline.syncOperations
        if let sslContexts {
            try sync.addHandler(sslContexts.handler(role: role))
        }
        try sync.addHandler(ConnectionHandler(system: self, role: role, established: established))
    }
}

/// Holds the system for the listener's child initializer, which exists before the system does.
private final class SystemBox: Sendable {
    // Connections accepted before the system exists are closed.
    private let lock = Mutex<ClusterSystem?>(nil)
    var system: ClusterSystem? {
        get { lock.withLock { $0 } }
        set { lock.withLock { $0 = newValue } }
    }
}

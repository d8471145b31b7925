import Logging
import Synchronization

/// The shell that runs this node's ``MembershipStateMachine`` and ``ReceptionistStateMachine`` inside a
/// ``ClusterSystem``: it ticks them on a fixed interval of the continuous clock, carries their messages
/// as one-way system frames (channel 1 membership, channel 2 receptionist), reports closed connections
/// and failed dials, marks dead members down in the system (so calls and streams to them fail at once),
/// and publishes membership events and receptionist listings to subscribers.
///
/// Both state machines live behind one lock, so a membership change and the receptionist update it
/// causes are applied together. Side effects that may call back into the shell (sends, closing
/// connections) run after the lock is released; events are yielded under the lock, so every
/// subscriber sees them in the order the state machine produced them.
///
/// A node that the cluster declares dead (``Membership/Directive/declaredDead``) cannot come back under
/// the same uid: the shell logs it as critical, stops, and shuts the system down. A
/// ``ClusterService`` then ends with an error, so the process exits and its supervisor starts it
/// again with a fresh identity.
final class ClusterMembership: Sendable {
    typealias Instant = ContinuousClock.Instant

    /// System-message channel of membership frames.
    static let membershipChannel: UInt8 = 1
    /// System-message channel of receptionist frames.
    static let receptionistChannel: UInt8 = 2

    /// Unowned: the system owns the shell (and keeps it after shutdown, for `wasDeclaredDead`).
    unowned let system: ClusterSystem
    let logger: Logger
    let clock = ContinuousClock()
    let state: Mutex<State>

    struct State {
        var membership: MembershipStateMachine<Instant>
        var receptionist: ReceptionistStateMachine<Instant>
        var eventSubscribers: [UInt64: AsyncStream<Membership.Event>.Continuation] = [:]
        var listingSubscribers: [ReceptionKey: [UInt64: AsyncStream<[ClusterActorID]>.Continuation]] = [:]
        var stopWaiters: [UInt64: AsyncStream<Void>.Continuation] = [:]
        var nextSubscriberID: UInt64 = 1
        var ticker: Task<Void, Never>?
        var stopped = false
        var declaredDead = false

        mutating func makeSubscriberID() -> UInt64 {
            defer { nextSubscriberID += 1 }
            return nextSubscriberID
        }
    }

    /// A side effect collected under the lock and carried out after it.
    enum Effect {
        case sendMembership(Membership.Message, to: ClusterNode)
        case sendMembershipToAddress(Membership.Message, address: NodeAddress)
        case sendReceptionist(Receptionist.Message, to: ClusterNode)
        case markDown(ClusterNode)
        case declaredDead
    }

    init(system: ClusterSystem) {
        self.system = system
        var logger = system.logger
        logger[metadataKey: "subsystem"] = "membership"
        self.logger = logger
        let now = clock.now
        let settings = system.settings
        state = Mutex(
            State(
                membership: MembershipStateMachine(
                    myself: system.node, roles: settings.roles, region: settings.region,
                    settings: settings.membership, randomSeed: UInt64.random(in: 0...UInt64.max), now: now),
                receptionist: ReceptionistStateMachine(
                    myself: system.node, settings: settings.receptionist,
                    randomSeed: UInt64.random(in: 0...UInt64.max), now: now)))
    }

    // MARK: Life cycle

    /// Installs the message handlers and the connection observer, starts joining through the seeds
    /// and starts the ticker.
    func start(seeds: [NodeAddress]) {
        system.setSystemMessageHandler(channel: Self.membershipChannel) { [weak self] peer, bytes in
            self?.receiveMembership(bytes, from: peer)
        }
        system.setSystemMessageHandler(channel: Self.receptionistChannel) { [weak self] peer, bytes in
            self?.receiveReceptionist(bytes, from: peer)
        }
        system.observeConnections { [weak self] event in
            guard case .closed(let peer) = event else { return }
            self?.connectionLost(to: peer)
        }
        let interval = system.settings.membership.tickInterval
        let ticker = Task { [weak self] in
            var next = ContinuousClock.now.advanced(by: interval)
            while !Task.isCancelled {
                do { try await Task.sleep(until: next, clock: .continuous) } catch { return }
                guard let self else { return }
                self.tick()
                // A late tick is not made up for: the state machine reads the gap as a stall.
                next = max(next.advanced(by: interval), ContinuousClock.now.advanced(by: interval / 4))
            }
        }
        let effects = update { state, now, effects in
            state.ticker = ticker
            let directives = state.membership.join(seeds: seeds, now: now)
            apply(directives, to: &state, now: now, effects: &effects)
        }
        perform(effects)
        logger.info(
            "membership started",
            metadata: ["seeds": "\(seeds.map(\.description).joined(separator: ","))",
                       "roles": "\(system.settings.roles.joined(separator: ","))"])
    }

    /// Stops ticking and ends every subscriber's sequence. Idempotent.
    func stop() {
        // Continuations are finished outside the lock: finishing runs their termination handlers,
        // which take the lock to unsubscribe.
        let (ticker, events, listings, waiters) = state.withLock { state in
            guard !state.stopped else {
                return (Task<Void, Never>?.none, [AsyncStream<Membership.Event>.Continuation](),
                        [AsyncStream<[ClusterActorID]>.Continuation](), [AsyncStream<Void>.Continuation]())
            }
            state.stopped = true
            defer {
                state.ticker = nil
                state.eventSubscribers = [:]
                state.listingSubscribers = [:]
                state.stopWaiters = [:]
            }
            return (
                state.ticker, Array(state.eventSubscribers.values),
                state.listingSubscribers.values.flatMap(\.values), Array(state.stopWaiters.values)
            )
        }
        ticker?.cancel()
        for continuation in events { continuation.finish() }
        for continuation in listings { continuation.finish() }
        for continuation in waiters { continuation.finish() }
    }

    /// Whether the cluster declared this node incarnation dead.
    var wasDeclaredDead: Bool { state.withLock { $0.declaredDead } }

    /// Returns when the shell stopped (system shut down, or this node declared dead).
    func waitUntilStopped() async {
        let stream = AsyncStream<Void> { continuation in
            let alreadyStopped = state.withLock { state in
                if state.stopped { return true }
                state.stopWaiters[state.makeSubscriberID()] = continuation
                return false
            }
            if alreadyStopped { continuation.finish() }
        }
        for await _ in stream {}
    }

    // MARK: Inputs

    func tick() {
        let effects = update { state, now, effects in
            let directives = state.membership.tick(now: now)
            apply(directives, to: &state, now: now, effects: &effects)
            let reception = state.receptionist.tick(now: now)
            apply(reception, to: &state, effects: &effects)
        }
        perform(effects)
    }

    func receiveMembership(_ bytes: [UInt8], from peer: ClusterNode) {
        let message: Membership.Message
        do {
            message = try BinaryDecoder().decode(Membership.Message.self, from: bytes)
        } catch {
            logger.warning(
                "dropping a malformed membership message",
                metadata: ["peer.node": "\(peer)", "bytes": "\(bytes.count)"])
            return
        }
        let effects = update { state, now, effects in
            let directives = state.membership.receive(message, from: peer, now: now)
            apply(directives, to: &state, now: now, effects: &effects)
        }
        perform(effects)
    }

    func receiveReceptionist(_ bytes: [UInt8], from peer: ClusterNode) {
        let message: Receptionist.Message
        do {
            message = try BinaryDecoder().decode(Receptionist.Message.self, from: bytes)
        } catch {
            logger.warning(
                "dropping a malformed receptionist message",
                metadata: ["peer.node": "\(peer)", "bytes": "\(bytes.count)"])
            return
        }
        let effects = update { state, now, effects in
            let directives = state.receptionist.receive(message, from: peer, now: now)
            apply(directives, to: &state, effects: &effects)
        }
        perform(effects)
    }

    /// A connection to `peer` closed or a dial to it failed.
    func connectionLost(to peer: ClusterNode) {
        let effects = update { state, now, effects in
            let directives = state.membership.connectionLost(to: peer, now: now)
            apply(directives, to: &state, now: now, effects: &effects)
        }
        perform(effects)
    }

    /// Graceful leave: marks this node `left` and pushes that to every reachable member.
    func leave() {
        let effects = update { state, now, effects in
            let directives = state.membership.leave(now: now)
            apply(directives, to: &state, now: now, effects: &effects)
        }
        perform(effects)
    }

    /// Runs `body` on the state under the lock (unless stopped) and returns the collected effects.
    func update(_ body: (inout State, Instant, inout [Effect]) -> Void) -> [Effect] {
        let now = clock.now
        return state.withLock { state in
            guard !state.stopped else { return [] }
            var effects: [Effect] = []
            body(&state, now, &effects)
            return effects
        }
    }
}

/// The SWIM membership protocol of one node as a pure state machine.
///
/// It owns no sockets, tasks or clocks. The shell (the cluster system) calls one `mutating` entry point
/// per event — a received message, a lost connection, a periodic tick every
/// ``Membership/Settings/tickInterval`` — passing the current instant, and carries out the returned
/// ``Membership/Directive``s in order. Timeouts are computed from the instants passed in, so tests drive
/// it with a manual clock; all random choices come from a seeded generator.
///
/// Production uses `MembershipStateMachine<ContinuousClock.Instant>`.
///
/// What the shell must do:
/// - call ``tick(now:)`` every ``Membership/Settings/tickInterval`` (50 ms); a much later tick is read as
///   a stall of this process (see ``Membership/Settings/stallThreshold``);
/// - hand every received ``Membership/Message`` to ``receive(_:from:now:)`` with the peer's handshaken
///   ``ClusterNode``;
/// - report ``connectionLost(to:now:)`` when a connection to a member closes, when dialing it fails,
///   and when the peer found at its address answers the handshake with another uid;
/// - for ``Membership/Directive/send(_:to:)`` dial if needed; for
///   ``Membership/Directive/sendToAddress(_:address:)`` dial the address and send to whoever answers;
/// - on ``Membership/Directive/closeConnection(_:)`` close that connection and fail its calls and
///   streams at once; refuse later handshakes from that uid;
/// - publish ``Membership/Directive/memberChanged(_:)`` as the membership event sequence, and feed
///   the receptionist: `joined` → `memberUp`, `dead`/`left`/`removed` → `memberDown`;
/// - on ``Membership/Directive/declaredDead`` stop the node (or start it again with a new uid);
/// - on SIGTERM call ``leave(now:)``, carry out its directives, drain, then stop.
package struct MembershipStateMachine<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    package typealias Member = Membership.Member
    package typealias Directive = Membership.Directive

    /// Where this node is in its own life cycle.
    package enum Lifecycle: Hashable, Sendable {
        /// Probing, gossiping, answering.
        case running
        /// ``leave(now:)`` was called: answers pings (its acks spread the `left` record) but probes nobody.
        case left
        /// The cluster declared this uid dead; the state machine ignores everything from now on.
        case declaredDead
    }

    /// Joining through seed addresses.
    package enum JoinState: Hashable, Sendable {
        /// ``join(seeds:now:)`` not called yet.
        case idle
        /// Join requests sent; retried at `nextAttempt` until a seed answers.
        case joining(nextAttempt: Instant)
        /// A seed (or any member) answered with the member list, or there are no seeds: this node is the first.
        case joined
    }

    /// What this node keeps per member besides the record.
    struct Record: Sendable {
        var member: Member
        /// Set while `suspect`.
        var suspicion: Membership.Suspicion<Instant>?
        /// When the member became `dead`/`left` here; it is removed `removalDelay` later.
        var terminalSince: Instant?
        /// This node saw the member's connection close or a dial to it fail, and has not heard from it
        /// since: the evidence that selects the short suspicion timeouts.
        var connectionLost = false
    }

    /// A probe this node runs against `target`.
    struct Probe: Sendable {
        enum Phase: Sendable {
            /// Waiting for the direct ack until `deadline`.
            case direct(deadline: Instant)
            /// Ping requests are out; the probe fails at `deadline` unless an ack arrives.
            case indirect(deadline: Instant)
        }

        var target: ClusterNode
        var phase: Phase
        /// The connection to the target was lost or the dial failed during this probe.
        var directFailed = false
        /// Helpers asked, and the nack each one sent so far.
        var helpers: [ClusterNode: Membership.Nack.Reason?] = [:]
    }

    /// A ping this node sends on behalf of a requester (as a helper of a ping request).
    struct Relay: Sendable {
        var requester: ClusterNode
        var requesterSequence: UInt64
        var target: ClusterNode
        /// When to nack if no ack came; `nil` once nacked.
        var nackAt: Instant?
        /// When to forget the relay.
        var expiresAt: Instant
    }

    package let settings: Membership.Settings
    /// This node's own record (status `alive`, or `left`/`dead` at the end), with its current incarnation.
    package internal(set) var myself: Member
    /// Where this node is in its life cycle.
    package internal(set) var lifecycle: Lifecycle = .running
    /// Progress of joining through the seeds.
    package internal(set) var joinState: JoinState = .idle
    /// Lifeguard's local health multiplier.
    package internal(set) var localHealth: Membership.LocalHealth

    var records: [ClusterNode: Record] = [:] {
        didSet {
            sortedMembers = records.values.map(\.member).sorted { $0.node < $1.node }
            membersVersion &+= 1
        }
    }
    /// Grows whenever a record changes (``members`` may have changed).
    package private(set) var membersVersion: UInt64 = 0
    /// `members`, kept up to date as records change: it is read on every routed call, records
    /// change a few times a second at most.
    private var sortedMembers: [Member] = []
    /// Removed (dead or left) nodes and when they may be forgotten.
    var removed: [ClusterNode: Instant] = [:]
    var gossip = GossipBuffer()
    var probes: [UInt64: Probe] = [:]
    var relays: [UInt64: Relay] = [:]
    var probeOrder: [ClusterNode] = []
    var nextProbeAt: Instant
    var lastTick: Instant
    var nextSequence: UInt64 = 1
    var seeds: [NodeAddress] = []
    var nextSeedCheck: Instant
    var nextFullSync: Instant
    var random: SeededRandomNumberGenerator

    /// Creates the state of a node that knows only itself.
    ///
    /// - Parameters:
    ///   - node: this node, with its per-start uid.
    ///   - roles: this node's roles (static for the life of the uid).
    ///   - region: this node's region, if configured.
    ///   - settings: protocol timings; validated here.
    ///   - randomSeed: seed of every random choice (production: a random value).
    ///   - now: the current instant of the clock that will drive the state machine.
    package init(
        myself node: ClusterNode, roles: some Sequence<String> = [], region: String? = nil,
        settings: Membership.Settings = .init(), randomSeed: UInt64, now: Instant
    ) {
        settings.validate()
        self.settings = settings
        self.myself = Member(node: node, roles: roles, region: region)
        self.localHealth = Membership.LocalHealth(maximum: settings.maxLocalHealthMultiplier)
        self.random = SeededRandomNumberGenerator(seed: randomSeed)
        self.nextProbeAt = now.advanced(by: settings.probeInterval)
        self.lastTick = now
        self.nextSeedCheck = now.advanced(by: settings.seedRecheckInterval)
        self.nextFullSync = now.advanced(by: settings.fullSyncInterval)
        records[node] = Record(member: myself)
        sortedMembers = [myself]  // Observers do not run in an initializer.
    }

    // MARK: Read access

    /// Every member this node knows, itself included, `dead`/`left` ones until they are removed;
    /// sorted by address, uid and name.
    package var members: [Member] { sortedMembers }

    /// The record of `node`, or `nil` if unknown or removed.
    package func member(_ node: ClusterNode) -> Member? {
        records[node]?.member
    }

    /// The members other than this node whose status is `alive` or `suspect` (the ones to talk to).
    package var reachableMembers: [Member] {
        members.filter { !$0.status.isTerminal && $0.node != myself.node }
    }

    /// Whether `node` was dead or left and has been removed (its uid is still remembered as gone).
    package func isRemoved(_ node: ClusterNode) -> Bool {
        removed[node] != nil
    }

    /// Number of members that are neither dead nor left, this node included.
    var liveMemberCount: Int {
        records.values.count { !$0.member.status.isTerminal }
    }

    // MARK: Helpers shared by the extensions

    mutating func makeSequence() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// `duration` stretched by the local health multiplier.
    func scaled(_ duration: Duration) -> Duration {
        duration * localHealth.multiplier
    }
}

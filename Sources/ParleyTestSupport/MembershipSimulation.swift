package import ParleyCluster

/// A point in simulated time: a duration since the simulation started. Drives the pure state machines
/// in tests instead of `ContinuousClock.Instant`.
package struct SimulationInstant: InstantProtocol, CustomStringConvertible {
    /// Time since the start of the simulation.
    package var offset: Duration

    package init(offset: Duration) {
        self.offset = offset
    }

    /// The start of the simulation.
    package static let zero = SimulationInstant(offset: .zero)

    package func advanced(by duration: Duration) -> SimulationInstant {
        SimulationInstant(offset: offset + duration)
    }

    package func duration(to other: SimulationInstant) -> Duration {
        other.offset - offset
    }

    package static func < (lhs: SimulationInstant, rhs: SimulationInstant) -> Bool {
        lhs.offset < rhs.offset
    }

    package var description: String { "t+\(offset)" }
}

/// Runs several ``MembershipStateMachine``s against each other over a simulated network whose faults
/// the test controls: latency and jitter, per-node extra latency (a slow node), message loss,
/// partitions, stalls (a node that gets no CPU for a while), kills (its connections close, as on
/// loopback) and restarts with a new uid. Everything is deterministic for a given seed; no real time passes.
///
/// Each node ticks every `settings.tickInterval` at its own phase. Events, "dead" verdicts and
/// `declaredDead` notices are recorded with their simulated time.
package struct MembershipSimulation {
    package typealias Machine = MembershipStateMachine<SimulationInstant>

    /// A simulated process.
    package struct Process {
        /// The state machine of this start of the node.
        package var machine: Machine
        /// False once killed (it stops answering; its connections close).
        package var running = true
        /// Added to every message to or from this node, both ways (a slow node).
        package var extraLatency: Duration = .zero
        /// While set, the node neither ticks nor handles messages (no CPU); work waits until then.
        package var stalledUntil: SimulationInstant?
        /// Every membership event this node reported, with the time.
        package var events: [(at: SimulationInstant, event: Membership.Event)] = []
        /// When the node was told the cluster declared it dead.
        package var declaredDeadAt: SimulationInstant?
        var nextTick: SimulationInstant
    }

    /// A "dead" verdict one node reached about another.
    package struct Verdict: Hashable, Sendable {
        /// The node that declared.
        package var observer: ClusterNode
        /// The node declared dead.
        package var subject: ClusterNode
        /// When.
        package var at: SimulationInstant
        /// Whether the subject was actually running (and not partitioned away on purpose) then.
        package var wasFalse: Bool
    }

    enum Delivery {
        case message(Membership.Message, from: ClusterNode, to: ClusterNode)
        case toAddress(Membership.Message, from: ClusterNode, to: NodeAddress)
        case connectionLost(observer: ClusterNode, peer: ClusterNode)
    }

    struct Scheduled {
        var at: SimulationInstant
        var order: UInt64
        var delivery: Delivery
    }

    /// The protocol settings every node is created with.
    package var settings: Membership.Settings
    /// One-way network latency of every message.
    package var latency: Duration = .microseconds(200)
    /// Extra uniformly random latency in `0...jitter` per message.
    package var jitter: Duration = .zero
    /// Probability that a message is lost.
    package var dropRate: Double = 0
    /// Current simulated time.
    package private(set) var now: SimulationInstant = .zero
    /// Every process ever started, by identity (a restart is a new entry).
    package private(set) var processes: [ClusterNode: Process] = [:]
    /// Every "dead" verdict reached so far.
    package private(set) var verdicts: [Verdict] = []
    /// Messages handed to the network so far.
    package private(set) var messagesSent = 0
    /// Messages handed to the network so far, by kind (`ping`, `ack`, `pingRequest`, …).
    package private(set) var messagesByKind: [String: Int] = [:]

    private var queue: [Scheduled] = []
    private var order: UInt64 = 0
    private var random: SeededRandomNumberGenerator
    private var blocked: Set<[NodeAddress]> = []
    private var connections: Set<[ClusterNode]> = []
    private var intentionallyCut: Set<NodeAddress> = []
    private var blackholed: Set<ClusterNode> = []

    /// - Parameters:
    ///   - settings: membership settings of every node.
    ///   - seed: seeds the network's randomness and, derived from it, each node's generator.
    package init(settings: Membership.Settings = .init(), seed: UInt64 = 1) {
        self.settings = settings
        self.random = SeededRandomNumberGenerator(seed: seed)
    }

    // MARK: Processes

    /// The address a node named `name` listens on: 127.0.0.1 with a port derived from the name.
    package static func address(of name: String) -> NodeAddress {
        let digits = name.filter(\.isNumber)
        return NodeAddress(host: "127.0.0.1", port: 7000 + (Int(digits) ?? 0))
    }

    /// Starts a node (a new uid) named `name` and lets it join through `seeds`.
    @discardableResult
    package mutating func start(
        _ name: String, roles: [String] = [], region: String? = nil, seeds: [String] = []
    ) -> ClusterNode {
        let node = ClusterNode(name: name, address: Self.address(of: name), uid: random.next() | 1)
        var machine = Machine(
            myself: node, roles: roles, region: region, settings: settings, randomSeed: random.next(), now: now)
        let phase = settings.tickInterval * Double.random(in: 0..<1, using: &random)
        let directives = machine.join(seeds: seeds.map(Self.address(of:)), now: now)
        processes[node] = Process(machine: machine, nextTick: now.advanced(by: phase))
        perform(directives, at: node)
        return node
    }

    /// The running process named `name` (its current start).
    package func node(_ name: String) -> ClusterNode? {
        processes.filter { $0.key.name == name && $0.value.running }.keys.first
    }

    /// All running nodes, sorted.
    package var runningNodes: [ClusterNode] {
        processes.filter(\.value.running).keys.sorted()
    }

    /// Kills the process: it stops at once; every peer with an open connection sees it close, and
    /// dials to it are refused. With `silently` (a machine that loses power, a cable pulled) nothing
    /// closes and dials to it go unanswered.
    package mutating func kill(_ node: ClusterNode, silently: Bool = false) {
        processes[node]?.running = false
        guard !silently else {
            connections = connections.filter { !$0.contains(node) }
            blackholed.insert(node)
            return
        }
        for pair in connections.filter({ $0.contains(node) }).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            connections.remove(pair)
            let peer = pair[0] == node ? pair[1] : pair[0]
            schedule(.connectionLost(observer: peer, peer: node), after: latency)
        }
    }

    /// Graceful leave of a running node; it stops after `drain`.
    package mutating func leave(_ node: ClusterNode, drain: Duration = .milliseconds(500)) {
        guard processes[node]?.running == true else { return }
        let directives = processes[node]!.machine.leave(now: now)
        perform(directives, at: node)
        run(for: drain)
        processes[node]?.running = false
        for pair in connections where pair.contains(node) { connections.remove(pair) }
    }

    /// Delays every message to and from `node` by `extra` (each way).
    package mutating func setExtraLatency(_ extra: Duration, for node: ClusterNode) {
        processes[node]?.extraLatency = extra
    }

    /// The node gets no CPU for `duration` from now: no ticks, no message handling (work queues up).
    package mutating func stall(_ node: ClusterNode, for duration: Duration) {
        processes[node]?.stalledUntil = now.advanced(by: duration)
    }

    /// Cuts every message between the two groups (no connection closes, as in a real partition).
    package mutating func partition(_ side: [ClusterNode], from other: [ClusterNode]) {
        for a in side {
            for b in other {
                blocked.insert([a.address, b.address])
                blocked.insert([b.address, a.address])
            }
        }
        intentionallyCut.formUnion(side.map(\.address))
        intentionallyCut.formUnion(other.map(\.address))
    }

    /// Removes every partition.
    package mutating func heal() {
        blocked = []
        intentionallyCut = []
    }

    // MARK: Observation

    /// `observer`'s view of `subject`'s status (`nil`: unknown or removed).
    package func status(of subject: ClusterNode, seenBy observer: ClusterNode) -> Membership.Status? {
        processes[observer]?.machine.member(subject)?.status
    }

    /// The first time `observer` reported `change` about `subject`.
    package func firstEvent(
        _ change: Membership.Event.Change, about subject: ClusterNode, seenBy observer: ClusterNode
    ) -> SimulationInstant? {
        processes[observer]?.events.first { $0.event.change == change && $0.event.member.node == subject }?.at
    }

    /// Whether every running node sees exactly the running nodes as `alive` (and nothing else as live).
    package var isConverged: Bool {
        let running = Set(runningNodes)
        return running.allSatisfy { observer in
            let live = processes[observer]!.machine.members.filter { !$0.status.isTerminal }
            return Set(live.map(\.node)) == running && live.allSatisfy { $0.status == .alive }
        }
    }

    /// False "dead" verdicts so far: the subject was running and not deliberately cut off.
    package var falseVerdicts: [Verdict] { verdicts.filter(\.wasFalse) }

    // MARK: Running

    /// Advances simulated time by `duration`, delivering messages and ticking nodes in time order.
    package mutating func run(for duration: Duration) {
        let end = now.advanced(by: duration)
        while true {
            var tick: (node: ClusterNode, at: SimulationInstant)?
            for (node, process) in processes where process.running {
                if tick.map({ (process.nextTick, node) < ($0.at, $0.node) }) ?? true { tick = (node, process.nextTick) }
            }
            let next = queue.first
            if let next, next.at <= end, tick.map({ next.at <= $0.at }) ?? true {
                queue.removeFirst()
                now = next.at
                deliver(next.delivery)
            } else if let tick, tick.at <= end {
                now = tick.at
                runTick(of: tick.node)
            } else {
                now = end
                return
            }
        }
    }

    /// Runs until `condition` holds or `limit` passes; returns whether it held.
    @discardableResult
    package mutating func run(
        upTo limit: Duration, step: Duration = .milliseconds(10), until condition: (Self) -> Bool
    ) -> Bool {
        let end = now.advanced(by: limit)
        while now < end {
            if condition(self) { return true }
            run(for: min(step, now.duration(to: end)))
        }
        return condition(self)
    }

    private mutating func runTick(of node: ClusterNode) {
        // Mutate in place (no copy of the process), so the state machine's storage is not copied per event.
        if let until = processes[node]!.stalledUntil, until > now {
            processes[node]!.nextTick = until
            return
        }
        processes[node]!.stalledUntil = nil
        processes[node]!.nextTick = now.advanced(by: settings.tickInterval)
        let directives = processes[node]!.machine.tick(now: now)
        perform(directives, at: node)
    }

    private mutating func deliver(_ delivery: Delivery) {
        let recipient: ClusterNode
        switch delivery {
        case .message(_, _, let to): recipient = to
        case .connectionLost(let observer, _): recipient = observer
        case .toAddress(_, _, let address):
            guard let found = processes.first(where: { $0.key.address == address && $0.value.running })?.key else {
                return
            }
            recipient = found
        }
        guard let process = processes[recipient], process.running else { return }
        if let until = process.stalledUntil, until > now {
            schedule(delivery, at: until)
            return
        }
        let directives: [Membership.Directive]
        switch delivery {
        case .message(let message, let from, _):
            directives = processes[recipient]!.machine.receive(message, from: from, now: now)
        case .toAddress(let message, let from, _):
            directives = processes[recipient]!.machine.receive(message, from: from, now: now)
        case .connectionLost(_, let peer):
            directives = processes[recipient]!.machine.connectionLost(to: peer, now: now)
        }
        perform(directives, at: recipient)
    }

    private mutating func perform(_ directives: [Membership.Directive], at node: ClusterNode) {
        for directive in directives {
            switch directive {
            case .send(let message, let target):
                send(message, from: node, to: target)
            case .sendToAddress(let message, let address):
                guard !isBlocked(node.address, address), !drops() else { continue }
                messagesSent += 1
                messagesByKind[Self.kind(of: message), default: 0] += 1
                let target = processes.first { $0.key.address == address && $0.value.running }?.key
                schedule(.toAddress(message, from: node, to: address), after: delay(node, target))
            case .memberChanged(let event):
                processes[node]?.events.append((now, event))
                if event.change == .dead, event.member.node != node {
                    let subject = processes[event.member.node]
                    let wasFalse =
                        subject?.running == true && !intentionallyCut.contains(event.member.node.address)
                        && subject?.declaredDeadAt == nil
                    verdicts.append(Verdict(observer: node, subject: event.member.node, at: now, wasFalse: wasFalse))
                }
            case .closeConnection(let peer):
                connections.remove([node, peer].sorted())
            case .declaredDead:
                processes[node]?.declaredDeadAt = now
            }
        }
    }

    private static func kind(of message: Membership.Message) -> String {
        switch message {
        case .ping: "ping"
        case .pingRequest: "pingRequest"
        case .ack: "ack"
        case .nack: "nack"
        case .join: "join"
        case .joinReply: "joinReply"
        case .gossip: "gossip"
        case .statusRequest: "statusRequest"
        }
    }

    private mutating func send(_ message: Membership.Message, from: ClusterNode, to target: ClusterNode) {
        messagesSent += 1
        messagesByKind[Self.kind(of: message), default: 0] += 1
        guard !isBlocked(from.address, target.address), !blackholed.contains(target) else { return }
        guard processes[target]?.running == true else {
            // Nothing listens, or another uid answers the handshake: the dial fails quickly.
            schedule(.connectionLost(observer: from, peer: target), after: latency * 2)
            return
        }
        connections.insert([from, target].sorted())
        guard !drops() else { return }
        schedule(.message(message, from: from, to: target), after: delay(from, target))
    }

    private func isBlocked(_ a: NodeAddress, _ b: NodeAddress) -> Bool {
        blocked.contains([a, b])
    }

    private mutating func drops() -> Bool {
        dropRate > 0 && Double.random(in: 0..<1, using: &random) < dropRate
    }

    private mutating func delay(_ from: ClusterNode, _ to: ClusterNode?) -> Duration {
        var total = latency + (processes[from]?.extraLatency ?? .zero)
        if let to { total += processes[to]?.extraLatency ?? .zero }
        if jitter > .zero { total += jitter * Double.random(in: 0...1, using: &random) }
        return total
    }

    private mutating func schedule(_ delivery: Delivery, after delay: Duration) {
        schedule(delivery, at: now.advanced(by: delay))
    }

    private mutating func schedule(_ delivery: Delivery, at time: SimulationInstant) {
        order += 1
        let item = Scheduled(at: time, order: order, delivery: delivery)
        // Binary search for the insertion point; equal times keep their scheduling order.
        var low = 0
        var high = queue.count
        while low < high {
            let mid = (low + high) / 2
            if (queue[mid].at, queue[mid].order) < (item.at, item.order) { low = mid + 1 } else { high = mid }
        }
        queue.insert(item, at: low)
    }
}

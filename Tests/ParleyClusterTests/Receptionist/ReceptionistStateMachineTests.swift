import ParleyTestSupport
import Testing

@testable import ParleyCluster

/// A few receptionists wired together by a message queue the test controls.
private struct ReceptionistNetwork {
    typealias Machine = ReceptionistStateMachine<SimulationInstant>

    var now = SimulationInstant.zero
    var machines: [ClusterNode: Machine] = [:]
    var queue: [(from: ClusterNode, to: ClusterNode, message: Receptionist.Message)] = []
    /// Messages matching this are lost.
    var drop: (ClusterNode, ClusterNode, Receptionist.Message) -> Bool = { _, _, _ in false }
    var listings: [ClusterNode: [ReceptionKey: [ReceptionEntry]]] = [:]

    static func node(_ index: Int) -> ClusterNode {
        ClusterNode(
            name: "n\(index)", address: NodeAddress(host: "127.0.0.1", port: 7000 + index), uid: UInt64(index) * 101)
    }

    init(size: Int) {
        let nodes = (1...size).map(Self.node)
        for node in nodes {
            machines[node] = Machine(myself: node, randomSeed: node.uid, now: now)
        }
        for node in nodes {
            for peer in nodes where peer != node {
                perform(machines[node]!.memberUp(peer, now: now), at: node)
            }
        }
        deliverAll()
    }

    mutating func perform(_ directives: [Receptionist.Directive], at node: ClusterNode) {
        for directive in directives {
            switch directive {
            case .send(let message, let target):
                if !drop(node, target, message) { queue.append((node, target, message)) }
            case .listingChanged(let key, let entries):
                listings[node, default: [:]][key] = entries
            }
        }
    }

    mutating func with(_ node: ClusterNode, _ body: (inout Machine, SimulationInstant) -> [Receptionist.Directive]) {
        let now = self.now
        let directives = body(&machines[node]!, now)
        perform(directives, at: node)
    }

    mutating func deliverAll() {
        while !queue.isEmpty {
            let (from, to, message) = queue.removeFirst()
            guard machines[to] != nil else { continue }
            with(to) { $0.receive(message, from: from, now: $1) }
        }
    }

    /// Advances time in 100 ms steps, ticking every machine and delivering everything.
    mutating func run(for duration: Duration) {
        let end = now.advanced(by: duration)
        while now < end {
            now = now.advanced(by: .milliseconds(100))
            for node in machines.keys.sorted() { with(node) { $0.tick(now: $1) } }
            deliverAll()
        }
    }

    func everyoneSees(_ key: ReceptionKey, _ expected: [ReceptionEntry]) -> Bool {
        machines.values.allSatisfy { $0.lookup(key) == expected }
    }
}

@Suite struct ReceptionistStateMachineTests {
    let key: ReceptionKey = "model-api/smollm2"

    @Test func registrationIsPushedToEveryMember() {
        var network = ReceptionistNetwork(size: 3)
        let a = ReceptionistNetwork.node(1)
        let b = ReceptionistNetwork.node(2)
        network.with(a) { machine, _ in machine.register(key, path: "/model/1") }
        network.with(b) { machine, _ in machine.register(key, path: "/model/2") }
        network.deliverAll()
        let expected = [ReceptionEntry(node: a, path: "/model/1"), ReceptionEntry(node: b, path: "/model/2")]
        #expect(network.everyoneSees(key, expected))
        // Subscribers everywhere were told the full listing.
        for node in network.machines.keys { #expect(network.listings[node]?[key] == expected) }
        #expect(network.machines[ReceptionistNetwork.node(3)]!.lookup("other").isEmpty)
    }

    @Test func lostUpdateHealsThroughAntiEntropy() {
        var network = ReceptionistNetwork(size: 4)
        let a = ReceptionistNetwork.node(1)
        let c = ReceptionistNetwork.node(3)
        network.drop = { from, to, message in
            if case .registrations = message, from == a, to == c { return true }
            return false
        }
        network.with(a) { machine, _ in machine.register(key, path: "/model/1") }
        network.deliverAll()
        #expect(network.machines[c]!.lookup(key).isEmpty)
        // Only the direct push was lost: digests (relayed by others, or A's own) repair it.
        network.run(for: .seconds(5))
        #expect(network.everyoneSees(key, [ReceptionEntry(node: a, path: "/model/1")]))
        #expect(network.listings[c]?[key] == [ReceptionEntry(node: a, path: "/model/1")])
    }

    @Test func lostRemovalHealsToo() {
        var network = ReceptionistNetwork(size: 3)
        let a = ReceptionistNetwork.node(1)
        network.with(a) { machine, _ in machine.register(key, path: "/model/1") }
        network.with(a) { machine, _ in machine.register(key, path: "/model/9") }
        network.deliverAll()
        network.drop = { _, _, message in
            if case .registrations = message { return true }
            return false
        }
        network.with(a) { machine, _ in machine.removeAll(path: "/model/9") }
        network.deliverAll()
        network.drop = { _, _, _ in false }
        network.run(for: .seconds(5))
        #expect(network.everyoneSees(key, [ReceptionEntry(node: a, path: "/model/1")]))
    }

    @Test func olderVersionArrivingLateIsIgnored() {
        let a = ReceptionistNetwork.node(1)
        let b = ReceptionistNetwork.node(2)
        var machine = ReceptionistStateMachine<SimulationInstant>(myself: b, randomSeed: 1, now: .zero)
        let v2 = Receptionist.Registrations(
            node: a, version: 2, entries: [Receptionist.Registration(key: key, paths: ["/new"])])
        let v1 = Receptionist.Registrations(
            node: a, version: 1, entries: [Receptionist.Registration(key: key, paths: ["/old"])])
        let first = machine.receive(.registrations([v2]), from: a, now: .zero)
        #expect(first == [.listingChanged(key, [ReceptionEntry(node: a, path: "/new")])])
        let second = machine.receive(.registrations([v1]), from: a, now: .zero)
        #expect(second.isEmpty)
        #expect(machine.lookup(key) == [ReceptionEntry(node: a, path: "/new")])
    }

    @Test func entriesOfADownNodeDisappearAndStayGone() {
        var network = ReceptionistNetwork(size: 3)
        let a = ReceptionistNetwork.node(1)
        let b = ReceptionistNetwork.node(2)
        let c = ReceptionistNetwork.node(3)
        network.with(a) { machine, _ in machine.register(key, path: "/model/1") }
        network.with(c) { machine, _ in machine.register(key, path: "/model/3") }
        network.deliverAll()
        // A dies: B learns first; C still holds A's registrations and relays them in digests.
        network.machines[a] = nil
        network.with(b) { $0.memberDown(a, now: $1) }
        #expect(network.machines[b]!.lookup(key) == [ReceptionEntry(node: c, path: "/model/3")])
        #expect(network.listings[b]?[key] == [ReceptionEntry(node: c, path: "/model/3")])
        network.run(for: .seconds(3))
        #expect(network.machines[b]!.lookup(key) == [ReceptionEntry(node: c, path: "/model/3")])
        network.with(c) { $0.memberDown(a, now: $1) }
        #expect(network.everyoneSees(key, [ReceptionEntry(node: c, path: "/model/3")]))
    }

    @Test func memberThatJoinsLaterLearnsEverything() {
        var network = ReceptionistNetwork(size: 3)
        let a = ReceptionistNetwork.node(1)
        network.with(a) { machine, _ in machine.register(key, path: "/model/1") }
        network.deliverAll()
        let late = ReceptionistNetwork.node(4)
        network.machines[late] = ReceptionistStateMachine(myself: late, randomSeed: 4, now: network.now)
        for node in network.machines.keys.sorted() where node != late {
            network.with(node) { $0.memberUp(late, now: $1) }
            network.with(late) { $0.memberUp(node, now: $1) }
        }
        network.deliverAll()
        #expect(network.machines[late]!.lookup(key) == [ReceptionEntry(node: a, path: "/model/1")])
    }

    @Test func registeringTwiceOrRemovingUnknownChangesNothing() {
        var machine = ReceptionistStateMachine<SimulationInstant>(
            myself: ReceptionistNetwork.node(1), randomSeed: 1, now: .zero)
        #expect(!machine.register(key, path: "/a").isEmpty)
        #expect(machine.register(key, path: "/a").isEmpty)
        #expect(machine.remove(key, path: "/b").isEmpty)
        #expect(machine.version == 1)
    }
}

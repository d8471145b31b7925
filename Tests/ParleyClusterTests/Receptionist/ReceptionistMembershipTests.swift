import ParleyTestSupport
import Testing

@testable import ParleyCluster

/// The receptionist fed by the membership simulation the way the shell feeds it: `joined` → `memberUp`,
/// `dead`/`left`/`removed` → `memberDown`.
@Suite struct ReceptionistMembershipTests {
    typealias Machine = ReceptionistStateMachine<SimulationInstant>

    struct Cluster {
        var membership: MembershipSimulation
        var receptionists: [ClusterNode: Machine] = [:]
        var consumedEvents: [ClusterNode: Int] = [:]
        var queue: [(ClusterNode, ClusterNode, Receptionist.Message)] = []

        mutating func perform(_ directives: [Receptionist.Directive], at node: ClusterNode) {
            for case .send(let message, let target) in directives { queue.append((node, target, message)) }
        }

        /// Runs membership for `duration` in 100 ms steps; after each step every receptionist sees the new
        /// membership events of its node, ticks, and all receptionist messages are delivered.
        mutating func run(for duration: Duration) {
            var left = duration
            while left > .zero {
                membership.run(for: .milliseconds(100))
                left -= .milliseconds(100)
                let now = membership.now
                for node in membership.runningNodes {
                    if receptionists[node] == nil {
                        receptionists[node] = Machine(myself: node, randomSeed: node.uid, now: now)
                    }
                    let events = membership.processes[node]!.events
                    for (_, event) in events.dropFirst(consumedEvents[node] ?? 0) where event.member.node != node {
                        switch event.change {
                        case .joined, .alive:
                            perform(receptionists[node]!.memberUp(event.member.node, now: now), at: node)
                        case .dead, .left, .removed:
                            perform(receptionists[node]!.memberDown(event.member.node, now: now), at: node)
                        case .suspect:
                            break
                        }
                    }
                    consumedEvents[node] = events.count
                    perform(receptionists[node]!.tick(now: now), at: node)
                }
                while !queue.isEmpty {
                    let (from, to, message) = queue.removeFirst()
                    guard membership.processes[to]?.running == true else { continue }
                    perform(receptionists[to]!.receive(message, from: from, now: now), at: to)
                }
            }
        }

        mutating func register(_ key: ReceptionKey, path: String, on node: ClusterNode) {
            perform(receptionists[node]!.register(key, path: path), at: node)
        }

        func everyoneSees(_ key: ReceptionKey) -> Set<Set<ReceptionEntry>> {
            Set(membership.runningNodes.map { Set(receptionists[$0]!.lookup(key)) })
        }
    }

    @Test func registrationsFollowMembershipThroughKillAndRestart() {
        var cluster = Cluster(membership: MembershipSimulationTests.cluster(4, seed: 5))
        cluster.run(for: .milliseconds(100))
        let key: ReceptionKey = "worker"
        for node in cluster.membership.runningNodes { cluster.register(key, path: "/worker", on: node) }
        cluster.run(for: .seconds(1))
        let all = Set(cluster.membership.runningNodes.map { ReceptionEntry(node: $0, path: "/worker") })
        #expect(cluster.everyoneSees(key) == [all])

        let victim = cluster.membership.node("n3")!
        cluster.membership.kill(victim)
        cluster.run(for: .seconds(3))
        let survivors = all.filter { $0.node != victim }
        #expect(cluster.everyoneSees(key) == [survivors])

        let restarted = cluster.membership.start("n3", seeds: ["n1"])
        cluster.run(for: .seconds(1))
        cluster.register(key, path: "/worker", on: restarted)
        cluster.run(for: .seconds(2))
        #expect(cluster.everyoneSees(key) == [survivors.union([ReceptionEntry(node: restarted, path: "/worker")])])
    }
}

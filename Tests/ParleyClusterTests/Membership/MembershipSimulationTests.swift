import ParleyTestSupport
import Testing

@testable import ParleyCluster

/// Several membership state machines against each other over the simulated network.
@Suite struct MembershipSimulationTests {
    /// Starts `count` nodes n1…n<count>, all joining through n1, and waits until they agree.
    static func cluster(_ count: Int, seed: UInt64 = 1, settings: Membership.Settings = .init()) -> MembershipSimulation
    {
        var simulation = MembershipSimulation(settings: settings, seed: seed)
        for index in 1...count {
            simulation.start("n\(index)", seeds: ["n1"])
        }
        let converged = simulation.run(upTo: .seconds(10)) { $0.isConverged }
        precondition(converged, "cluster of \(count) did not converge")
        return simulation
    }

    @Test func joinThroughSeedConverges() {
        var simulation = MembershipSimulation(seed: 7)
        let first = simulation.start("n1", roles: ["gateway"], region: "eu", seeds: ["n1"])
        for index in 2...6 { simulation.start("n\(index)", roles: ["worker"], seeds: ["n1"]) }
        let converged = simulation.run(upTo: .seconds(5)) { $0.isConverged }
        #expect(converged)
        // Roles and region travel with the gossip.
        for observer in simulation.runningNodes {
            let seen = simulation.processes[observer]!.machine.member(first)
            #expect(seen?.roles == ["gateway"])
            #expect(seen?.region == "eu")
        }
        #expect(simulation.verdicts.isEmpty)
    }

    @Test func seedThatStartsLateStillJoinsEveryone() {
        var simulation = MembershipSimulation(seed: 3)
        // n2 and n3 point at n1, which is not up yet; n2 also lists n3.
        simulation.start("n2", seeds: ["n1", "n3"])
        simulation.start("n3", seeds: ["n1"])
        simulation.run(for: .seconds(2))
        simulation.start("n1", seeds: [])
        let converged = simulation.run(upTo: .seconds(12)) { $0.isConverged }
        if !converged {
            for node in simulation.runningNodes {
                print(node, simulation.processes[node]!.machine.members, simulation.processes[node]!.machine.joinState)
            }
        }
        #expect(converged)
    }

    /// The goal: a killed node is `dead` at every other member within 2 s (p50) / 3 s (max).
    @Test(arguments: [(3, UInt64(11)), (5, UInt64(12)), (8, UInt64(13))])
    func killedNodeIsDeclaredDeadByEveryMemberFast(size: Int, seed: UInt64) {
        var simulation = Self.cluster(size, seed: seed)
        var random = SeededRandomNumberGenerator(seed: seed)
        var detections: [Duration] = []
        for _ in 0..<12 {
            let victim = simulation.runningNodes.randomElement(using: &random)!
            simulation.run(for: .milliseconds(Int64.random(in: 0..<300, using: &random)))
            simulation.kill(victim)
            let killedAt = simulation.now
            let observers = simulation.runningNodes
            let allSaw = simulation.run(upTo: .seconds(5)) { sim in
                observers.allSatisfy { sim.firstEvent(.dead, about: victim, seenBy: $0) != nil }
            }
            #expect(allSaw)
            for observer in observers {
                if let at = simulation.firstEvent(.dead, about: victim, seenBy: observer) {
                    detections.append(killedAt.duration(to: at))
                }
            }
            // Restart it with a new uid and let everything settle before the next kill.
            simulation.start(victim.name, seeds: ["n1", "n2"])
            let converged = simulation.run(upTo: .seconds(10)) { $0.isConverged }
            #expect(converged)
        }
        let sorted = detections.sorted()
        let p50 = sorted[sorted.count / 2]
        let maximum = sorted.last!
        print("kill-to-detection, \(size) nodes, \(sorted.count) observations: p50 \(p50) max \(maximum)")
        #expect(p50 <= .seconds(2))
        #expect(maximum <= .seconds(3))
        #expect(simulation.falseVerdicts.isEmpty)
    }

    /// Every failed dial is reported as a lost connection; that must not feed back into ever more probes.
    @Test func killDoesNotSetOffAMessageStorm() {
        var simulation = Self.cluster(10, seed: 19)
        simulation.run(for: .seconds(2))
        let beforeSteady = simulation.messagesSent
        simulation.run(for: .seconds(3))
        let steady = simulation.messagesSent - beforeSteady
        simulation.kill(simulation.node("n4")!)
        let beforeKill = simulation.messagesSent
        simulation.run(for: .seconds(3))
        let aroundKill = simulation.messagesSent - beforeKill
        print("messages in 3 s, 10 nodes: steady \(steady), around a kill \(aroundKill)")
        #expect(aroundKill < steady * 3)
    }

    /// Without a closed connection or a refused dial (power loss, pulled cable) only the probes can tell,
    /// and the longer silent suspicion timeout applies; slower, but bounded.
    @Test func silentlyKilledNodeIsDeclaredDeadByProbing() {
        var simulation = Self.cluster(5, seed: 17)
        var random = SeededRandomNumberGenerator(seed: 17)
        var detections: [Duration] = []
        for round in 0..<8 {
            let victim = simulation.runningNodes[round % simulation.runningNodes.count]
            simulation.run(for: .milliseconds(Int64.random(in: 0..<300, using: &random)))
            simulation.kill(victim, silently: true)
            let killedAt = simulation.now
            let observers = simulation.runningNodes
            let allSaw = simulation.run(upTo: .seconds(10)) { sim in
                observers.allSatisfy { sim.firstEvent(.dead, about: victim, seenBy: $0) != nil }
            }
            #expect(allSaw)
            for observer in observers {
                if let at = simulation.firstEvent(.dead, about: victim, seenBy: observer) {
                    detections.append(killedAt.duration(to: at))
                }
            }
            simulation.start(victim.name, seeds: ["n1", "n2"])
            let converged = simulation.run(upTo: .seconds(10)) { $0.isConverged }
            #expect(converged)
        }
        let sorted = detections.sorted()
        let p50 = sorted[sorted.count / 2]
        print("silent kill-to-detection, 5 nodes, \(sorted.count) observations: p50 \(p50) max \(sorted.last!)")
        // A failed probe (600 ms) plus the silent suspicion timeout (3 s … 6 s), plus gossip.
        #expect(sorted.last! <= .seconds(7))
        #expect(simulation.falseVerdicts.isEmpty)
    }

    @Test func slowButAliveNodeIsNeverDeclaredDead() {
        var simulation = Self.cluster(5, seed: 21)
        let slow = simulation.node("n3")!
        // 250 ms each way: every direct ping to it times out, indirect pings mostly too; it must refute.
        simulation.setExtraLatency(.milliseconds(250), for: slow)
        simulation.run(for: .seconds(300))
        #expect(simulation.falseVerdicts.isEmpty)
        #expect(simulation.processes[slow]!.declaredDeadAt == nil)
        simulation.setExtraLatency(.zero, for: slow)
        let converged = simulation.run(upTo: .seconds(5)) { $0.isConverged }
        #expect(converged)
    }

    /// A harsh stand-in for "both cores saturated": every message is delayed by up to 300 ms, and in
    /// every 200 ms each node has a one-in-five chance to get no CPU for 50 ms to 1 s.
    @Test func noFalseDeadVerdictsUnderSimulatedSaturation() {
        var simulation = Self.cluster(5, seed: 31)
        simulation.jitter = .milliseconds(300)
        var random = SeededRandomNumberGenerator(seed: 99)
        for _ in 0..<(300 * 5) {  // 5 simulated minutes in 200 ms steps
            for node in simulation.runningNodes where Int.random(in: 0..<5, using: &random) == 0 {
                simulation.stall(node, for: .milliseconds(Int64.random(in: 50...1000, using: &random)))
            }
            simulation.run(for: .milliseconds(200))
        }
        #expect(simulation.falseVerdicts.isEmpty)
        #expect(simulation.runningNodes.allSatisfy { simulation.processes[$0]!.declaredDeadAt == nil })
    }

    /// Indirect probes and refutation carry the protocol through heavy message loss.
    @Test func noFalseDeadVerdictsWithTenPercentMessageLoss() {
        var simulation = Self.cluster(8, seed: 3)
        simulation.dropRate = 0.1
        simulation.run(for: .seconds(120))
        #expect(simulation.falseVerdicts.isEmpty)
        simulation.dropRate = 0
        let converged = simulation.run(upTo: .seconds(5)) { $0.isConverged }
        #expect(converged)
    }

    @Test func stalledNodeIsNotDeclaredDeadAndDoesNotBlameOthers() {
        var simulation = Self.cluster(4, seed: 41)
        let sleeper = simulation.node("n2")!
        // 2.5 s without CPU: its connections stay open, so the long (silent) suspicion timeout applies
        // and it refutes in time; and its own running probes must not expire against the others.
        simulation.stall(sleeper, for: .milliseconds(2500))
        simulation.run(for: .seconds(10))
        #expect(simulation.verdicts.isEmpty)
        let converged = simulation.isConverged
        #expect(converged)
    }

    @Test func gracefulLeaveIsSeenAsLeftNotDead() {
        var simulation = Self.cluster(5, seed: 51)
        let leaver = simulation.node("n4")!
        simulation.leave(leaver)
        for observer in simulation.runningNodes {
            #expect(simulation.status(of: leaver, seenBy: observer) == .left)
        }
        simulation.run(for: .seconds(5))
        #expect(simulation.verdicts.isEmpty)
        // After the removal delay it disappears, and stays gone.
        simulation.run(for: simulation.settings.removalDelay)
        for observer in simulation.runningNodes {
            #expect(simulation.status(of: leaver, seenBy: observer) == nil)
            #expect(simulation.firstEvent(.removed, about: leaver, seenBy: observer) != nil)
        }
    }

    @Test func restartWithNewUidRejoinsAndOldUidEndsDead() {
        var simulation = Self.cluster(4, seed: 61)
        let old = simulation.node("n3")!
        simulation.kill(old)
        // Restart at once, before the old uid could be detected by probing.
        let restarted = simulation.start("n3", seeds: ["n1"])
        let converged = simulation.run(upTo: .seconds(5)) { $0.isConverged }
        #expect(converged)
        for observer in simulation.runningNodes where observer != restarted {
            #expect(simulation.status(of: restarted, seenBy: observer) == .alive)
            let oldStatus = simulation.status(of: old, seenBy: observer)
            #expect(oldStatus == nil || oldStatus == .dead)
            #expect(simulation.processes[observer]!.machine.isRemoved(old) || oldStatus == .dead)
        }
        #expect(simulation.falseVerdicts.isEmpty)
    }

    @Test func shortPartitionHealsWithoutVerdicts() {
        var simulation = Self.cluster(6, seed: 71)
        let nodes = simulation.runningNodes
        simulation.partition(Array(nodes.prefix(3)), from: Array(nodes.suffix(3)))
        simulation.run(for: .milliseconds(700))  // shorter than a failed probe plus the minimum suspicion
        simulation.heal()
        simulation.run(for: .seconds(10))
        #expect(simulation.verdicts.isEmpty)
        let converged = simulation.isConverged
        #expect(converged)
    }

    @Test func longPartitionEndsInOneClusterAfterHeal() {
        var simulation = Self.cluster(6, seed: 81)
        let nodes = simulation.runningNodes
        let seedSide = nodes.filter { ["n1", "n2", "n3"].contains($0.name) }
        let otherSide = nodes.filter { !seedSide.contains($0) }
        simulation.partition(seedSide, from: otherSide)
        simulation.run(for: .seconds(10))
        // Each side declared the other dead.
        for observer in seedSide {
            for subject in otherSide { #expect(simulation.status(of: subject, seenBy: observer) == .dead) }
        }
        simulation.heal()
        // The cut-off side re-contacts its seed (n1), learns it was declared dead, and restarts.
        let told = simulation.run(upTo: .seconds(15)) { sim in
            otherSide.allSatisfy { sim.processes[$0]!.declaredDeadAt != nil }
        }
        #expect(told)
        for node in otherSide {
            simulation.kill(node)
            simulation.start(node.name, seeds: ["n1"])
        }
        let converged = simulation.run(upTo: .seconds(10)) { $0.isConverged }
        #expect(converged)
    }

    /// A new member's `joined` reaches every node through piggybacked gossip in O(log n) probe rounds.
    @Test(arguments: [10, 20, 50])
    func disseminationReachesEveryoneInLogarithmicRounds(size: Int) {
        var simulation = Self.cluster(size, seed: UInt64(size))
        simulation.run(for: .seconds(5))  // let the join gossip of the initial members die down
        let newcomer = simulation.start("n\(size + 1)", seeds: ["n1"])
        let start = simulation.now
        let reached = simulation.run(upTo: .seconds(20), step: .milliseconds(5)) { sim in
            sim.runningNodes.allSatisfy { sim.status(of: newcomer, seenBy: $0) == .alive }
        }
        #expect(reached)
        let rounds = start.duration(to: simulation.now) / simulation.settings.probeInterval
        let ceilLog2 = Double((size + 1).bitWidth - (size + 1).leadingZeroBitCount)  // ⌈log₂(n + 1)⌉
        print("dissemination of a join to \(size + 1) nodes: \(rounds) probe rounds (⌈log₂ n⌉ = \(ceilLog2))")
        #expect(rounds <= 1.5 * ceilLog2)
    }
}

import Distributed
import ParleyCluster
import Testing

/// Several `ClusterSystem`s in one process on loopback (port 0), running the real membership shell.
@Suite("Membership between systems", .serialized)
struct MembershipClusteredTests {
    @Test func joiningThroughOneSeedConverges() async throws {
        try await withCluster(4, roles: { $0 == 0 ? [] : ["worker"] }) { systems in
            try await converged(systems)
            let seed = systems[0]
            let seen = seed.members.first { $0.node == systems[2].node }
            #expect(seen?.roles == ["worker"])
            #expect(seen?.region == "default")
            #expect(seen?.incarnation == 0)
            #expect(seed.selfMember?.node == seed.node)
            #expect(seed.ring(role: "worker").nodes == systems[1...].map(\.node).sorted())
        }
    }

    @Test func eventSubscribersGetTheCurrentStateFirst() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            var iterator = systems[1].membershipEvents.makeAsyncIterator()
            var seen: Set<ClusterNode> = []
            for _ in 0..<3 {
                let event = try #require(await iterator.next())
                #expect(event.change == .joined)
                seen.insert(event.member.node)
            }
            #expect(seen == Set(systems.map(\.node)))
        }
    }

    @Test func aKilledNodeIsDeclaredDeadAndCallsToItFailFast() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            let victim = systems[2]
            let actor = EchoMember(actorSystem: victim)
            let remote = try EchoMember.resolve(id: actor.id, using: systems[0])
            #expect(try await remote.echo("hi") == "hi")

            let killedAt = ContinuousClock.now
            await victim.shutdown()  // no leave: like a crash, its connections just close
            for observer in systems[0..<2] {
                try await eventually(observer, within: .seconds(5), "\(victim.node.name) is dead") { members in
                    status(of: victim.node, in: members) == .dead
                }
            }
            let detection = killedAt.duration(to: .now)
            #expect(detection < .seconds(3), "detected after \(detection)")

            let callStart = ContinuousClock.now
            let error = await #expect(throws: ClusterError.self) { try await remote.echo("again") }
            #expect(error?.code == .nodeDown)
            #expect(callStart.duration(to: .now) < .milliseconds(500))
            systems.removeLast()
        }
    }

    @Test func aSuspectIsStillCalled() async throws {
        // `suspect` must not fail calls: only `dead` does. A live node refutes and stays callable.
        try await withCluster(2) { systems in
            try await converged(systems)
            let actor = EchoMember(actorSystem: systems[1])
            let remote = try EchoMember.resolve(id: actor.id, using: systems[0])
            #expect(try await remote.echo("x") == "x")
            #expect(!systems[0].isDown(systems[1].node))
        }
    }

    @Test func aRestartOnTheSamePortRejoinsAsANewIncarnation() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            let old = systems[2]
            let address = old.node.address
            await old.shutdown()
            try await eventually(systems[0], within: .seconds(5), "the old start is dead") { members in
                status(of: old.node, in: members) == .dead
            }
            var settings = fastClusterSettings(name: "n2", seeds: [systems[0].node.address])
            settings.listen = address
            let restarted = try await ClusterSystem.start(settings: settings)
            systems[2] = restarted
            #expect(restarted.node.address == address)
            #expect(restarted.node.uid != old.node.uid)
            try await converged(systems)
            for observer in systems[0..<2] {
                let old = observer.members.first { $0.node == old.node }
                #expect(old == nil || old?.status == .dead)
            }
            // Calls reach the new start.
            let actor = EchoMember(actorSystem: restarted)
            let remote = try EchoMember.resolve(id: actor.id, using: systems[1])
            #expect(try await remote.nodeName() == "n2")
        }
    }

    @Test func aGracefulLeaveIsSeenAsLeft() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            let leaver = systems[2]
            let actor = EchoMember(actorSystem: leaver)
            let remote = try EchoMember.resolve(id: actor.id, using: systems[0])
            #expect(try await remote.echo("before") == "before")
            await leaver.leave()
            systems.removeLast()
            for observer in systems {
                try await eventually(observer, within: .seconds(3), "\(leaver.node.name) left") { members in
                    status(of: leaver.node, in: members) == .left
                }
            }
            let error = await #expect(throws: ClusterError.self) { try await remote.echo("after") }
            #expect(error?.code == .nodeDown)
        }
    }

    @Test func aMalformedMembershipMessageIsDropped() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            try await systems[0].sendSystemMessage(channel: 1, to: systems[1].node, [0xFF, 0x13, 0x37])
            try await systems[0].sendSystemMessage(channel: 2, to: systems[1].node, [])
            let actor = EchoMember(actorSystem: systems[1])
            let remote = try EchoMember.resolve(id: actor.id, using: systems[0])
            #expect(try await remote.echo("still here") == "still here")
            #expect(systems[1].members.allSatisfy { $0.status == .alive })
        }
    }

    @Test func aNodeToldItIsDeadStops() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            let reply = try BinaryEncoder().encode(Membership.Message.joinReply(.declaredDead))
            try await systems[0].sendSystemMessage(channel: 1, to: systems[1].node, reply)
            await systems[1].waitUntilStopped()
            #expect(systems[1].wasDeclaredDead)
        }
    }

    @Test func clusterServiceLeavesWhenCancelled() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            let leaver = systems[1]
            let service = ClusterService(system: leaver)
            let running = Task { try await service.run() }
            running.cancel()
            try await running.value
            try await eventually(systems[0], within: .seconds(3), "the service's node left") { members in
                status(of: leaver.node, in: members) == .left
            }
            systems.removeLast()
        }
    }
}

@Suite("Membership: a node the cluster holds dead", .serialized)
struct DeclaredDeadClusteredTests {
    @Test func aLiveNodeThatOthersHoldDeadLearnsItAndStops() async throws {
        // As after a healed partition: the others declared B dead while B kept running.
        try await withCluster(3) { systems in
            try await converged(systems)
            let (a, b, c) = (systems[0], systems[1], systems[2])
            var dead = try #require(c.members.first { $0.node == b.node })
            dead.status = .dead
            let gossip = try BinaryEncoder().encode(Membership.Message.gossip([Membership.Gossip(member: dead)]))
            try await c.sendSystemMessage(channel: 1, to: a.node, gossip)
            try await eventually(a, within: .seconds(5), "b is dead at a") { members in
                status(of: b.node, in: members) == .dead
            }
            let stopped = Task { await b.waitUntilStopped() }
            let limit = Task {
                try await Task.sleep(for: .seconds(10))
                stopped.cancel()
            }
            await stopped.value
            limit.cancel()
            #expect(b.wasDeclaredDead)
        }
    }
}

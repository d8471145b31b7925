import Distributed
import ParleyCluster
import Testing

/// The receptionist across systems in one process, over the real membership shell.
@Suite("Receptionist between systems", .serialized)
struct ReceptionistClusteredTests {
    @Test func registrationsAreSeenOnEveryNodeAndCallable() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            let first = EchoMember(actorSystem: systems[1])
            let second = EchoMember(actorSystem: systems[2])
            systems[1].receptionist.register(first, key: "echo/a")
            systems[2].receptionist.register(second, key: "echo/a")
            systems[2].receptionist.register(second, key: "echo/b")
            let expected = Set([first.id, second.id])
            for system in systems {
                try await eventuallyListing(system, key: "echo/a", "has both actors") { Set($0) == expected }
                try await eventuallyListing(system, key: "echo/b", "has the second actor") { $0 == [second.id] }
            }
            #expect(Set(systems[0].receptionist.lookup("echo/a")) == expected)
            #expect(systems[0].receptionist.lookup("nothing").isEmpty)
            var names: [String] = []
            for id in systems[0].receptionist.lookup("echo/a") {
                names.append(try await EchoMember.resolve(id: id, using: systems[0]).nodeName())
            }
            #expect(names.sorted() == ["n1", "n2"])

            systems[2].receptionist.remove(second, key: "echo/a")
            try await eventuallyListing(systems[0], key: "echo/a", "lost the removed actor") { $0 == [first.id] }
        }
    }

    @Test func aRoleAnnouncesItselfOnceItsPrerequisiteIsKnown() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            let worker = EchoMember(actorSystem: systems[0])
            let pending = systems[0].receptionist.register(worker, key: "worker", once: "proxy", timeout: .seconds(30))
            #expect(pending != nil)
            #expect(systems[0].receptionist.lookup("worker").isEmpty)
            // The prerequisite appears on the other node: the worker follows.
            let proxy = EchoMember(actorSystem: systems[1])
            systems[1].receptionist.register(proxy, key: "proxy")
            try await eventuallyListing(systems[1], key: "worker", "has the worker") { $0 == [worker.id] }
            // With the prerequisite known, registration is immediate.
            let second = EchoMember(actorSystem: systems[0])
            #expect(systems[0].receptionist.register(second, key: "worker-2", once: "proxy") == nil)
            #expect(systems[0].receptionist.lookup("worker-2") == [second.id])
            // Waiting lookups answer as soon as something is registered, or empty after the limit.
            #expect(await systems[0].receptionist.lookup("nothing", waitingUpTo: .milliseconds(50)).isEmpty)
            #expect(await systems[0].receptionist.lookup("proxy", waitingUpTo: .seconds(5)) == [proxy.id])
        }
    }

    @Test func anActorThatDeinitializesDisappears() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            var actor: EchoMember? = EchoMember(actorSystem: systems[1])
            let id = actor!.id
            systems[1].receptionist.register(actor!, key: "short-lived")
            try await eventuallyListing(systems[0], key: "short-lived", "has the actor") { $0 == [id] }
            actor = nil
            try await eventuallyListing(systems[0], key: "short-lived", "is empty") { $0.isEmpty }
            #expect(systems[1].receptionist.lookup("short-lived").isEmpty)
        }
    }

    @Test func entriesOfADeadNodeDisappear() async throws {
        try await withCluster(3) { systems in
            try await converged(systems)
            let doomed = systems[2]
            let actor = EchoMember(actorSystem: doomed)
            let survivor = EchoMember(actorSystem: systems[1])
            doomed.receptionist.register(actor, key: "svc")
            systems[1].receptionist.register(survivor, key: "svc")
            try await eventuallyListing(systems[0], key: "svc", "has both") { $0.count == 2 }
            await doomed.shutdown()
            systems.removeLast()
            for system in systems {
                try await eventuallyListing(system, key: "svc", within: .seconds(5), "lost the dead node's actor") {
                    $0 == [survivor.id]
                }
            }
            _ = actor
        }
    }

    @Test func aLateJoinerLearnsExistingRegistrations() async throws {
        try await withCluster(2) { systems in
            try await converged(systems)
            let actor = EchoMember(actorSystem: systems[1])
            systems[1].receptionist.register(actor, key: "early")
            let late = try await ClusterSystem.start(
                settings: fastClusterSettings(name: "late", seeds: [systems[0].node.address]))
            systems.append(late)
            try await converged(systems)
            try await eventuallyListing(late, key: "early", "has the early actor") { $0 == [actor.id] }
        }
    }

    @Test func ringFollowsMembership() async throws {
        try await withCluster(3, roles: { _ in ["shard"] }) { systems in
            try await converged(systems)
            let owner = try #require(systems[0].ring(role: "shard").node(for: "user-42"))
            let observer = systems.first { $0.node != owner }!
            var updates = observer.ringUpdates(role: "shard").makeAsyncIterator()
            let full = try #require(await updates.next())
            #expect(full.nodes == systems.map(\.node).sorted())
            #expect(full.node(for: "user-42") == owner)
            let gone = systems.first { $0.node == owner }!
            await gone.shutdown()
            systems.removeAll { $0 === gone }
            var ring = full
            while ring.nodes.contains(owner) { ring = try #require(await updates.next()) }
            #expect(ring.nodes == systems.map(\.node).sorted())
            #expect(ring.node(for: "user-42") != owner)
        }
    }
}

import Distributed
import ParleyCluster
import Testing

/// A small actor for the clustered membership tests.
distributed actor EchoMember {
    typealias ActorSystem = ClusterSystem

    distributed func echo(_ text: String) -> String { text }

    distributed func nodeName() -> String { actorSystem.node.name }
}

/// Membership timings for tests: about 3× faster than production, still far above loopback latency.
func fastClusterSettings(name: String, seeds: [NodeAddress] = [], roles: [String] = []) -> ClusterSettings {
    var settings = ClusterSettings(name: name, roles: roles, seeds: seeds)
    settings.membership.probeInterval = .milliseconds(100)
    settings.membership.pingTimeout = .milliseconds(80)
    settings.membership.indirectPingTimeout = .milliseconds(150)
    settings.membership.suspicionTimeoutMin = .milliseconds(300)
    settings.membership.suspicionTimeoutMax = .milliseconds(900)
    settings.membership.silentSuspicionTimeoutMin = .seconds(1)
    settings.membership.silentSuspicionTimeoutMax = .seconds(2)
    settings.membership.tickInterval = .milliseconds(20)
    settings.membership.joinRetryInterval = .milliseconds(200)
    settings.membership.seedRecheckInterval = .seconds(1)
    settings.membership.fullSyncInterval = .seconds(2)
    settings.membership.removalDelay = .seconds(20)
    settings.receptionist.digestInterval = .milliseconds(300)
    settings.connectTimeout = .milliseconds(500)
    return settings
}

/// Starts `count` systems; the first is the seed of the others. Shuts down whatever the body left running.
func withCluster(
    _ count: Int, roles: (Int) -> [String] = { _ in [] },
    _ body: (inout [ClusterSystem]) async throws -> Void
) async throws {
    var systems: [ClusterSystem] = []
    do {
        let seed = try await ClusterSystem.start(settings: fastClusterSettings(name: "n0", roles: roles(0)))
        systems.append(seed)
        for index in 1..<count {
            systems.append(
                try await ClusterSystem.start(
                    settings: fastClusterSettings(name: "n\(index)", seeds: [seed.node.address], roles: roles(index))))
        }
        try await body(&systems)
    } catch {
        for system in systems { await system.shutdown() }
        throw error
    }
    for system in systems { await system.shutdown() }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting until \(what)" }
}

/// Waits (on membership events, no polling) until `condition` holds for `system`'s member list.
func eventually(
    _ system: ClusterSystem, within limit: Duration = .seconds(10), _ what: String,
    _ condition: @escaping @Sendable ([Membership.Member]) -> Bool
) async throws {
    let events = system.membershipEvents
    let met = await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await _ in events where condition(system.members) { return true }
            return condition(system.members)
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
    if !met { throw TimedOut(what: "\(system.node.name): \(what); members: \(system.members)") }
}

/// Waits until every system sees exactly the nodes of `systems` as alive.
func converged(_ systems: [ClusterSystem], within limit: Duration = .seconds(10)) async throws {
    let expected = Set(systems.map(\.node))
    for system in systems {
        try await eventually(system, within: limit, "all \(expected.count) nodes are alive") { members in
            Set(members.filter { $0.status == .alive }.map(\.node)) == expected
        }
    }
}

/// The status of `node` in a member list.
func status(of node: ClusterNode, in members: [Membership.Member]) -> Membership.Status? {
    members.first { $0.node == node }?.status
}

/// The status `observer` holds for `node`.
func status(of node: ClusterNode, at observer: ClusterSystem) -> Membership.Status? {
    observer.members.first { $0.node == node }?.status
}

/// Waits until the listing of `key` at `system` satisfies `condition`.
func eventuallyListing(
    _ system: ClusterSystem, key: String, within limit: Duration = .seconds(10), _ what: String,
    _ condition: @escaping @Sendable ([ClusterActorID]) -> Bool
) async throws {
    let listing = system.receptionist.listing(key)
    let met = await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await ids in listing where condition(ids) { return true }
            return false
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
    if !met {
        throw TimedOut(what: "\(system.node.name): listing of \(key) \(what); now \(system.receptionist.lookup(key))")
    }
}

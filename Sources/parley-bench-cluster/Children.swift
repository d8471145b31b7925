import Foundation
import Logging
import ParleyCluster

/// `parley-bench-cluster serve`: hosts `BenchTarget` and prints `READY port uid`.
func runServer() async throws {
    exitWhenParentGoes()
    var settings = ClusterSettings(name: "bench-server")
    settings.runsMembership = false
    let system = try await ClusterSystem.start(settings: settings, logger: quietLogger())
    let target = system.withWellKnownPath(BenchTarget.path) { BenchTarget(actorSystem: system) }
    emit("READY \(system.node.address.port) \(system.node.uid)")
    while true {
        try await Task.sleep(for: .seconds(3600))
        _ = target
    }
}

/// `parley-bench-cluster member NAME PORT [SEED_PORT]`: a cluster member with production membership
/// timings that prints `READY port uid` and one `EVENT change name uid wall-ns` line per event.
func runMember(name: String, port: Int, seedPort: Int?) async throws {
    exitWhenParentGoes()
    var settings = ClusterSettings(
        name: name, listen: NodeAddress(host: "127.0.0.1", port: port),
        seeds: seedPort.map { [NodeAddress(host: "127.0.0.1", port: $0)] } ?? [])
    settings.membership.removalDelay = .seconds(3600)
    let system = try await ClusterSystem.start(settings: settings, logger: quietLogger())
    emit("READY \(system.node.address.port) \(system.node.uid)")
    for await event in system.membershipEvents {
        emit("EVENT \(event.change) \(event.member.node.name) \(event.member.node.uid) \(wallNanos())")
    }
}

func quietLogger() -> Logger {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    return logger
}

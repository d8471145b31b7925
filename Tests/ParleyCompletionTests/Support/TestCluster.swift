import Foundation
import Logging
import ParleyCluster
import ParleyProtocol
import Synchronization

/// Several cluster systems in one process on loopback (port 0), joined through the first one.
final class TestCluster: Sendable {
    let systems: [String: ClusterSystem]
    /// Nodes stopped by the test (`ClusterSystem.shutdown()` is not idempotent: a second call hangs).
    private let stopped = Mutex<Set<String>>([])

    init(systems: [String: ClusterSystem]) {
        self.systems = systems
    }

    subscript(name: String) -> ClusterSystem { systems[name]! }

    static func start(_ names: [String]) async throws -> TestCluster {
        var systems: [String: ClusterSystem] = [:]
        var seed: NodeAddress?
        for name in names {
            let settings = ClusterSettings(name: name, seeds: seed.map { [$0] } ?? [])
            let system = try await ClusterSystem.start(settings: settings, logger: quietLogger)
            system.allowParleyProtocols()
            seed = seed ?? system.node.address
            systems[name] = system
        }
        return TestCluster(systems: systems)
    }

    /// Stops node `name` as a crash would: its connections close, its actors are gone.
    func stop(_ name: String) async {
        guard stopped.withLock({ $0.insert(name).inserted }) else { return }
        await systems[name]!.shutdown()
    }

    func shutdown() async {
        for name in systems.keys.sorted() { await stop(name) }
    }
}

/// Logs nothing (set `PARLEY_TEST_LOGS=1` to see the warnings).
let quietLogger: Logger = {
    if ProcessInfoEnvironment.showLogs { return Logger(label: "test") }
    return Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
}()

enum ProcessInfoEnvironment {
    static let showLogs: Bool = {
        guard let value = getenv("PARLEY_TEST_LOGS") else { return false }
        return String(cString: value) == "1"
    }()
}

/// Runs `body` on a fresh cluster of `names`, shutting it down afterwards.
func withCluster(_ names: [String], _ body: (TestCluster) async throws -> Void) async throws {
    let cluster = try await TestCluster.start(names)
    do {
        try await body(cluster)
    } catch {
        await cluster.shutdown()
        throw error
    }
    await cluster.shutdown()
}

struct WaitTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Waits until `system` sees at least `count` actors registered under `key` (at most `timeout`).
func waitForRegistrations(
    _ key: String, count: Int, on system: ClusterSystem, timeout: Duration = .seconds(15)
) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await ids in system.receptionist.listing(key) where ids.count >= count { return true }
            return false
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return false
        }
        let found = try await group.next() ?? false
        group.cancelAll()
        if !found { throw WaitTimedOut(description: "\(system.node.name) did not see \(count) × \(key)") }
    }
}

/// The first element of `stream` (at most `timeout`).
func first<Element: Sendable>(
    of stream: AsyncStream<Element>, timeout: Duration = .seconds(15)
) async throws -> Element {
    try await withThrowingTaskGroup(of: Element?.self) { group in
        group.addTask {
            for await element in stream { return element }
            return nil
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let element = try await group.next() ?? nil
        group.cancelAll()
        guard let element else { throw WaitTimedOut(description: "no element within \(timeout)") }
        return element
    }
}

import Foundation
import Logging
import ParleyCluster
@testable import ParleyConversation
import ParleyProtocol
import Synchronization

/// Conversation nodes in one process: each a `ClusterSystem` on loopback (port 0, role
/// `conversation`) with its own database folder, its `ConversationNode` and an anti-entropy task.
/// A node can be stopped as a crash would (its system shuts down, its actors and database are
/// dropped) and started again on the same folder and port.
final class ReplicaCluster: @unchecked Sendable {
    final class Member: @unchecked Sendable {
        let name: String
        let folder: URL
        var system: ClusterSystem?
        var node: ConversationNode?
        var antiEntropy: Task<Void, Never>?
        /// The port of the first start, reused by restarts (hints are kept per address).
        var port = 0

        init(name: String, folder: URL) {
            self.name = name
            self.folder = folder
        }

        var store: ConversationStore { node!.store }
        var database: ConversationDatabase { node!.database }
        var isRunning: Bool { system != nil }
    }

    let members: [Member]
    /// Each member's settings (the shared ones, as `adjust` left them).
    let memberSettings: [ReplicationSettings]
    private let lock = Mutex(())

    /// `adjust` changes the settings of one member (by index) from the shared ones.
    init(
        count: Int, settings: ReplicationSettings = ReplicaCluster.fastSettings,
        adjust: (Int, inout ReplicationSettings) -> Void = { _, _ in }
    ) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-repl-\(UUID().uuidString)")
        members = (0..<count).map { Member(name: "c\($0)", folder: root.appendingPathComponent("c\($0)")) }
        memberSettings = (0..<count).map { index in
            var own = settings
            adjust(index, &own)
            return own
        }
    }

    static var fastSettings: ReplicationSettings {
        var settings = ReplicationSettings()
        settings.antiEntropyInterval = .milliseconds(200)
        settings.pushTimeout = .seconds(1)
        settings.forwardTimeout = .seconds(3)
        settings.antiEntropyCallTimeout = .seconds(3)
        return settings
    }

    subscript(index: Int) -> Member { members[index] }

    static let logger: Logger = {
        if getenv("PARLEY_TEST_LOGS").map({ String(cString: $0) }) == "1" { return Logger(label: "test") }
        return Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    }()

    /// Starts every member that is not running (the first running one is the seed).
    func start() async throws {
        for index in members.indices where !members[index].isRunning { try await start(index) }
    }

    /// Starts member `index` on its folder, joining through any running member.
    func start(_ index: Int) async throws {
        let member = members[index]
        let seed = members.first(where: { $0.isRunning })?.system?.node.address
        var cluster = ClusterSettings(
            name: member.name, listen: NodeAddress(host: "127.0.0.1", port: member.port), roles: ["conversation"],
            seeds: seed.map { [$0] } ?? [])
        cluster.membership.probeInterval = .milliseconds(100)
        cluster.membership.pingTimeout = .milliseconds(80)
        cluster.membership.indirectPingTimeout = .milliseconds(150)
        cluster.membership.suspicionTimeoutMin = .milliseconds(300)
        cluster.membership.suspicionTimeoutMax = .milliseconds(900)
        cluster.membership.silentSuspicionTimeoutMin = .seconds(1)
        cluster.membership.silentSuspicionTimeoutMax = .seconds(2)
        cluster.membership.tickInterval = .milliseconds(20)
        cluster.membership.joinRetryInterval = .milliseconds(200)
        cluster.membership.fullSyncInterval = .seconds(1)
        cluster.receptionist.digestInterval = .milliseconds(300)
        cluster.connectTimeout = .milliseconds(500)
        let system = try await ClusterSystem.start(settings: cluster, logger: Self.logger)
        system.allowParleyProtocols()
        let database = try ConversationDatabase(
            configuration: .init(path: member.folder.appendingPathComponent("conversations.sqlite").path),
            logger: Self.logger)
        let node = ConversationNode(
            system: system, database: database, settings: memberSettings[index], logger: Self.logger)
        member.system = system
        member.port = system.node.address.port
        member.node = node
        member.antiEntropy = Task { await node.router.runAntiEntropy() }
    }

    /// Stops member `index` as a crash would.
    func stop(_ index: Int) async {
        let member = members[index]
        guard let system = member.system else { return }
        let antiEntropy = member.antiEntropy
        antiEntropy?.cancel()
        member.antiEntropy = nil
        member.node = nil
        member.system = nil
        await system.shutdown()
        // A crashed process holds no database lock: let the cancelled round end before a restart
        // opens the same file again.
        await antiEntropy?.value
    }

    /// Stops every member and removes the members' folders.
    func shutdown() async {
        for index in members.indices { await stop(index) }
        try? FileManager.default.removeItem(at: members[0].folder.deletingLastPathComponent())
    }

    /// Runs `body`, then shuts the cluster down, also when `body` throws: a test ends only once its
    /// members have stopped (no member's loops or anti-entropy outlive it into the next test) and
    /// their folders are gone.
    func shutDownAfter<T>(_ body: () async throws -> T) async throws -> T {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await shutdown()
        return try result.get()
    }

    /// Waits until every running member's ring holds exactly the running members.
    func waitForRing(within limit: Duration = .seconds(15)) async throws {
        let running = members.filter(\.isRunning)
        let names = Set(running.map(\.name))
        try await eventually(within: limit, "rings hold \(names.sorted())") {
            running.allSatisfy { member in
                Set(member.system!.ring(role: "conversation").nodes.map(\.name)) == names
            }
        }
    }

    /// Whether every running member has the same digests.
    func digestsAgree() async throws -> Bool {
        var seen: [PartitionDigest]?
        for member in members where member.isRunning {
            let digests = try await member.database.digests()
            if let seen, seen != digests { return false }
            seen = digests
        }
        return true
    }
}

struct ConditionTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Re-checks `condition` every 50 ms until it holds (at most `limit`). Used where the awaited
/// state (replica digests) has no event to wait on.
func eventually(
    within limit: Duration = .seconds(10), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw ConditionTimedOut(description: "timed out: \(what)") }
        try await Task.sleep(for: .milliseconds(50))
    }
}

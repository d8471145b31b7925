import Foundation
import ParleyTestSupport
import Testing

/// 3–4 `parley node` processes on loopback: membership across processes, kill and restart, a wrong
/// cluster key, garbage at the port. Every process a test starts is killed by that test (`defer`),
/// and every wait is on an output line or on `cluster status` answers, bounded by a deadline.
@Suite("Cluster of parley node processes", .serialized)
struct ClusterProcessTests {
    @Test func threeNodesConvergeAndStatusReportsThem() async throws {
        let cluster = try await NodeCluster(names: ["seed", "alpha", "beta"], roles: ["", "gateway,worker", "model"])
        defer { cluster.killAll() }
        let status = try await cluster.waitForStatus(within: .seconds(15)) { status in
            status.members.filter { $0.status == "alive" }.count == 3
        }
        #expect(status.`self` == "seed")
        let alpha = try #require(status.members.first { $0.name == "alpha" })
        #expect(alpha.roles == ["gateway", "worker"])
        #expect(alpha.address == "127.0.0.1:\(cluster.ports["alpha"]!)")
        #expect(alpha.incarnation == 0)
        #expect(alpha.region == "default")
        // The table form names every member.
        let table = try ParleyProcess(["cluster", "status", "--seed", cluster.seedAddress] + cluster.keyArguments)
        defer { table.kill() }
        try await table.waitForLine(containing: "beta")
        try await table.waitForLine(containing: "alpha")
    }

    @Test func aKilledNodeIsDeclaredDeadByEveryOtherMemberAndRejoinsAfterARestart() async throws {
        let names = ["n0", "n1", "n2", "n3"]
        let cluster = try await NodeCluster(names: names, roles: ["", "", "", ""])
        defer { cluster.killAll() }
        try await cluster.waitForStatus(within: .seconds(15)) { $0.members.filter { $0.status == "alive" }.count == 4 }
        let oldUID = cluster.uids["n3"]!
        let killedAt = ContinuousClock.now
        cluster.processes["n3"]!.kill()
        for observer in names.dropLast() {
            try await cluster.processes[observer]!.waitForLine(containing: "member dead", and: "#\(oldUID)", timeout: .seconds(10))
        }
        let detection = killedAt.duration(to: .now)
        #expect(detection < .seconds(5), "every member saw the kill after \(detection)")

        try await cluster.restart("n3")
        let newUID = cluster.uids["n3"]!
        #expect(newUID != oldUID)
        for observer in names.dropLast() {
            try await cluster.processes[observer]!.waitForLine(containing: "member joined", and: "#\(newUID)", timeout: .seconds(15))
        }
        let status = try await cluster.waitForStatus(within: .seconds(15)) { status in
            status.members.contains { $0.name == "n3" && $0.uid == newUID && $0.status == "alive" }
        }
        #expect(status.members.filter { $0.status == "alive" }.count == 4)
    }

    /// A frozen node (SIGSTOP: a paused VM, a machine that slept) is declared dead; when it runs
    /// again it learns that, stops, and starts again in place — same process, new identity — so it
    /// is back without anyone restarting it.
    @Test func aFrozenNodeDeclaredDeadComesBackByItselfUnderANewIdentity() async throws {
        let names = ["f0", "f1", "f2"]
        let cluster = try await NodeCluster(names: names, roles: ["", "", ""])
        defer { cluster.killAll() }
        try await cluster.waitForStatus(within: .seconds(15)) { $0.members.filter { $0.status == "alive" }.count == 3 }
        let oldUID = cluster.uids["f2"]!
        let frozen = cluster.processes["f2"]!
        Foundation.kill(frozen.pid, SIGSTOP)
        try await cluster.processes["f0"]!.waitForLine(containing: "member dead", and: "#\(oldUID)", timeout: .seconds(15))
        Foundation.kill(frozen.pid, SIGCONT)
        try await frozen.waitForLine(containing: "starting again under a new identity", timeout: .seconds(15))
        let status = try await cluster.waitForStatus(within: .seconds(20)) { status in
            status.members.contains { $0.name == "f2" && $0.status == "alive" && $0.uid != oldUID }
        }
        #expect(status.members.filter { $0.status == "alive" }.count == 3)
        #expect(frozen.isRunning, "the same process came back")
        // Started with port 0, it came back on the port it had.
        #expect(status.members.first { $0.name == "f2" && $0.uid != oldUID }?.address == "127.0.0.1:\(cluster.ports["f2"]!)")
    }

    /// With `--exit-when-declared-dead` the node leaves restarting to a supervisor: it exits with 75.
    @Test func aNodeDeclaredDeadCanExitForItsSupervisorInstead() async throws {
        let cluster = try await NodeCluster(
            names: ["e0", "e1"], roles: ["", ""], extraArguments: ["e1": ["--exit-when-declared-dead"]])
        defer { cluster.killAll() }
        try await cluster.waitForStatus(within: .seconds(15)) { $0.members.filter { $0.status == "alive" }.count == 2 }
        let frozen = cluster.processes["e1"]!
        Foundation.kill(frozen.pid, SIGSTOP)
        try await cluster.processes["e0"]!.waitForLine(
            containing: "member dead", and: "#\(cluster.uids["e1"]!)", timeout: .seconds(15))
        Foundation.kill(frozen.pid, SIGCONT)
        #expect(try await frozen.exitStatus(timeout: .seconds(15)) == 75)
    }

    @Test func aWrongClusterKeyIsRefused() async throws {
        let cluster = try await NodeCluster(names: ["keyed", "peer"], roles: ["", ""])
        defer { cluster.killAll() }
        try await cluster.waitForStatus(within: .seconds(15)) { $0.members.count == 2 }
        let wrongKey = try temporaryKeyFile("a-completely-different-cluster-key")
        defer { try? FileManager.default.removeItem(atPath: wrongKey) }
        let status = try ParleyProcess(["cluster", "status", "--seed", cluster.seedAddress, "--cluster-key", wrongKey])
        defer { status.kill() }
        try await status.waitForLine(containing: "rejected", timeout: .seconds(15))
        // A node holding the wrong key never joins.
        let intruder = try ParleyProcess([
            "node", "--name", "intruder", "--listen", "127.0.0.1:0", "--seed", cluster.seedAddress,
            "--cluster-key", wrongKey,
        ])
        defer { intruder.kill() }
        try await intruder.waitForLine(containing: "listening on")
        try await cluster.processes["keyed"]!.waitForLine(containing: "handshake failed", timeout: .seconds(15))
        let after = try await cluster.status()
        #expect(!after.members.contains { $0.name == "intruder" })
    }

    @Test func garbageAtTheClusterPortLeavesTheNodeServing() async throws {
        let cluster = try await NodeCluster(names: ["target", "witness"], roles: ["", ""])
        defer { cluster.killAll() }
        try await cluster.waitForStatus(within: .seconds(15)) { $0.members.filter { $0.status == "alive" }.count == 2 }
        let port = cluster.ports["target"]!
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20 {
            var bytes = (0..<Int.random(in: 1...4096, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if round % 4 == 0 { bytes = Array("PRLY".utf8) + [0, 1, 0xFF, 0xFF, 0xFF] }  // truncated, oversized
            try sendRaw(bytes, toPort: port)
        }
        let status = try await cluster.waitForStatus(within: .seconds(15)) { $0.members.filter { $0.status == "alive" }.count == 2 }
        #expect(status.`self` == "target")
        #expect(cluster.processes["target"]!.isRunning)
    }
}

/// Writes `bytes` to a fresh TCP connection on loopback and closes it.
func sendRaw(_ bytes: [UInt8], toPort port: Int) throws {
    try RawConnection(port: port).send(bytes)
}

func temporaryKeyFile(_ key: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-key-\(UUID().uuidString)").path
    try Data((key + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

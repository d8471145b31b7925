import Foundation
import ParleyTestSupport
import Testing

/// A network cut between conversation nodes that are separate processes: `c2` is cut off from
/// `c0` and `c1` (both directions, through the `PARLEY_FAULT_FILE` test hook of `parley node`),
/// a writer on each side appends to the same conversations, the cut heals, and every replica
/// ends with identical content holding every acknowledged write. A node that the other side
/// declared dead starts again by itself (same process, folder and port, new identity) when it
/// learns so. Every wait is on output lines, a child's exit or a polled condition, bounded by a deadline.
@Suite("Conversation nodes as processes across a network cut", .serialized)
struct ConversationPartitionProcessTests {
    @Test func bothSidesWriteAndAllReplicasConvergeAfterHealing() async throws {
        let started = ContinuousClock.now
        let nodes = try ConversationNodes(faultControl: true)
        defer { nodes.stop() }
        for name in ["c0", "c1", "c2"] { try await nodes.start(name) }

        // Before the cut: one conversation per owner, written through all three nodes.
        let before = try DriverProcess.start(
            ["load"] + nodes.clientArguments + ["--owners", "6", "--writers", "4", "--nodes", "3"])
        defer { before.kill() }
        try await before.waitForLines(startingWith: "ack ", count: 60, timeout: .seconds(30))
        before.kill()
        let conversationsFile = nodes.root.appendingPathComponent("conversations.txt")
        try Data(before.lines(startingWith: "conversation ").joined(separator: "\n").utf8).write(to: conversationsFile)

        // Cut c2 off: it drops frames from c0, c1 and the majority's writer; they drop c2 and its writer.
        try await nodes.cut([
            "c0": ["c2", "driver-c", "probe-c"], "c1": ["c2", "driver-c", "probe-c"],
            "c2": ["c0", "c1", "driver-a", "probe-a"],
        ])
        try await waitUntil(within: .seconds(20), "each side sees the other dead") {
            guard let c0 = await nodes.view(from: "c0"), let c1 = await nodes.view(from: "c1"),
                let c2 = await nodes.view(from: "c2")
            else { return false }
            let gone: (String?) -> Bool = { $0 == nil || $0 == "dead" }
            return gone(c0["c2"]) && gone(c1["c2"]) && gone(c2["c0"]) && gone(c2["c1"])
        }

        // Both sides append to the same conversations (so the same partitions), each through its side.
        let writerArguments = ["--conversations", conversationsFile.path, "--writers", "4", "--nodes", "1"]
        let majority = try DriverProcess.start(
            ["load", "--name", "driver-a", "--drop", "c2", "--only", "c0,c1"] + nodes.clientArguments(through: "c0")
                + writerArguments)
        defer { majority.kill() }
        let minority = try DriverProcess.start(
            ["load", "--name", "driver-c", "--drop", "c0,c1", "--only", "c2"] + nodes.clientArguments(through: "c2")
                + writerArguments)
        defer { minority.kill() }
        try await majority.waitForLines(startingWith: "ack ", count: 100, timeout: .seconds(30))
        try await minority.waitForLines(startingWith: "ack ", count: 100, timeout: .seconds(30))
        majority.kill()
        minority.kill()
        let majorityAcks = majority.lines(startingWith: "ack ")
        let minorityAcks = minority.lines(startingWith: "ack ")
        let acknowledged = before.lines(startingWith: "ack ") + majorityAcks + minorityAcks
        let acksFile = nodes.root.appendingPathComponent("acks.txt")
        try Data(acknowledged.joined(separator: "\n").utf8).write(to: acksFile)
        // The two sides now hold different content. The majority's two replicas agree once the
        // writes in flight when its writer was killed (stored on one, not yet acknowledged) have
        // reached the other: probed until they do.
        func digests(_ probe: ParleyProcess) async throws -> [String] {
            #expect(try await probe.exitStatus(timeout: .seconds(30)) == 0)
            return probe.lines(startingWith: "digest ").map { $0.split(separator: " ").dropFirst(2).joined(separator: " ") }
        }
        var majorityDigests: [String] = []
        try await waitUntil(within: .seconds(10), "the majority's replicas agree") {
            let probeA = try DriverProcess.start(
                ["digest", "--name", "probe-a", "--drop", "c2", "--only", "c0,c1", "--nodes", "1"]
                    + nodes.clientArguments(through: "c0"))
            defer { probeA.kill() }
            majorityDigests = try await digests(probeA)
            return majorityDigests.count == 2 && majorityDigests[0] == majorityDigests[1]
        }
        let probeC = try DriverProcess.start(
            ["digest", "--name", "probe-c", "--drop", "c0,c1", "--only", "c2", "--nodes", "1"]
                + nodes.clientArguments(through: "c2"))
        defer { probeC.kill() }
        let sideDigests = majorityDigests + (try await digests(probeC))
        #expect(sideDigests.count == 3 && Set(sideDigests).count == 2, "\(sideDigests)")

        // Heal. A node the other side declared dead starts again by itself; one that exited instead
        // would be restarted here (and fail the test below), until every node sees all three alive.
        try await nodes.cut(["c0": [], "c1": [], "c2": []])
        var restarted: [String] = []
        try await waitUntil(within: .seconds(30), "all three nodes alive in every view") {
            for name in ["c0", "c1", "c2"] where nodes.processes[name]?.isRunning != true {
                restarted.append(name)
                try await nodes.start(name)
            }
            for name in ["c0", "c1", "c2"] {
                guard let view = await nodes.view(from: name), ["c0", "c1", "c2"].allSatisfy({ view[$0] == "alive" })
                else { return false }
            }
            return true
        }
        #expect(restarted.isEmpty, "a node declared dead exited instead of starting again: \(restarted)")
        let converge = try DriverProcess.start(["converge"] + nodes.clientArguments + ["--nodes", "3", "--within", "20"])
        defer { converge.kill() }
        let convergeStatus = try await converge.exitStatus(timeout: .seconds(40))
        #expect(convergeStatus == 0, "\(converge.output.suffix(5))")

        // Every write acknowledged on either side is readable through all three.
        let verify = try DriverProcess.start(["verify"] + nodes.clientArguments + ["--acks", acksFile.path, "--nodes", "3"])
        defer { verify.kill() }
        let verifyStatus = try await verify.exitStatus(timeout: .seconds(60))
        #expect(verifyStatus == 0, "\(verify.output.suffix(5))")
        print(
            "conversation cut: \(majorityAcks.count) acks on c0/c1, \(minorityAcks.count) on c2; restarted \(restarted); "
                + "\(converge.lines(startingWith: "converged").joined()); \(verify.lines(startingWith: "verified").joined()); "
                + "total \((ContinuousClock.now - started).components.seconds) s")
    }

    /// Polls `condition` every 200 ms until it holds; throws after `limit`.
    func waitUntil(
        within limit: Duration, _ what: String, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestFailure("not within \(limit): \(what)") }
            try await Task.sleep(for: .milliseconds(200))
        }
    }
}

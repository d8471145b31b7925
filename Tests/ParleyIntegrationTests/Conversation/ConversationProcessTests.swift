import Foundation
import ParleyTestSupport
import Testing

/// Three `parley node --roles conversation` processes on loopback, written to and checked by a
/// `parley-bench-history drive` client process. Every process a test starts is killed by that test;
/// every wait is on output lines or on a child's exit, bounded by a deadline.
@Suite("Conversation nodes as processes", .serialized)
struct ConversationProcessTests {
    @Test func killNineUnderLoadLosesNoAcknowledgedWriteAndTheRestartedNodeCatchesUp() async throws {
        let nodes = try ConversationNodes()
        defer { nodes.stop() }
        for name in ["c0", "c1", "c2"] { try await nodes.start(name) }

        let load = try DriverProcess.start(["load"] + nodes.clientArguments + ["--owners", "24", "--writers", "8", "--nodes", "3"])
        defer { load.kill() }
        try await load.waitForLines(startingWith: "load started", timeout: .seconds(60))
        // kill -9 a node at a random moment of the load.
        let killAfter = Int.random(in: 20...600)
        try await load.waitForLines(startingWith: "ack ", count: killAfter, timeout: .seconds(60))
        let victim = ["c1", "c2"].randomElement()!
        nodes.processes[victim]!.kill()
        let acknowledgedAtKill = load.lines(startingWith: "ack ").count
        // The load goes on through the two survivors.
        try await load.waitForLines(startingWith: "ack ", count: acknowledgedAtKill + 300, timeout: .seconds(60))
        load.kill()
        let acknowledged = load.lines(startingWith: "ack ")
        let acksFile = nodes.root.appendingPathComponent("acks.txt")
        try Data(acknowledged.joined(separator: "\n").utf8).write(to: acksFile)

        // Every acknowledged write is readable through each survivor.
        let survivors = try DriverProcess.start(["verify"] + nodes.clientArguments + ["--acks", acksFile.path, "--nodes", "2"])
        defer { survivors.kill() }
        let survivorsStatus = try await survivors.exitStatus(timeout: .seconds(60))
        #expect(survivorsStatus == 0, "\(victim) killed after \(killAfter) acks: \(survivors.output.suffix(5))")

        // Restarted on its folder, the victim's digests equal the others' within 10 s.
        try await nodes.start(victim)
        let converge = try DriverProcess.start(["converge"] + nodes.clientArguments + ["--nodes", "3", "--within", "10"])
        defer { converge.kill() }
        let convergeStatus = try await converge.exitStatus(timeout: .seconds(30))
        #expect(convergeStatus == 0, "\(converge.output.suffix(5))")

        // And every acknowledged write is readable through all three.
        let all = try DriverProcess.start(["verify"] + nodes.clientArguments + ["--acks", acksFile.path, "--nodes", "3"])
        defer { all.kill() }
        let allStatus = try await all.exitStatus(timeout: .seconds(60))
        #expect(allStatus == 0, "\(all.output.suffix(5))")
        #expect(acknowledged.count >= acknowledgedAtKill + 300)
        print(
            "conversation processes: \(victim) killed after \(killAfter) acks; \(acknowledged.count) acknowledged; "
                + "\(survivors.lines(startingWith: "verified").joined()); after restart: "
                + "\(converge.lines(startingWith: "converged").joined()); \(all.lines(startingWith: "verified").joined())")
    }
}

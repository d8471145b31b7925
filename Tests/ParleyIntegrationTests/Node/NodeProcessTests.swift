import Foundation
import ParleyTestSupport
import Testing

@Suite("parley node as a process")
struct NodeProcessTests {
    @Test func nodeStartsPrintsItsAddressAndStopsOnSIGTERM() async throws {
        let node = try ParleyProcess(["node", "--name", "solo", "--listen", "127.0.0.1:0"])
        defer { node.kill() }
        let line = try await node.waitForLine(containing: "listening on")
        #expect(line.contains("parley node solo listening on 127.0.0.1:"))
        node.terminate()
        #expect(!node.isRunning)
    }

    @Test func unknownRoleIsAClearError() async throws {
        let node = try ParleyProcess(["node", "--name", "x", "--roles", "wizard"])
        defer { node.kill() }
        try await node.waitForLine(containing: "unknown role wizard")
    }
}

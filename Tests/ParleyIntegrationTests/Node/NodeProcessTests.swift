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

    @Test func devKeepsItsAPIKeyInTheDataFolderAcrossRestarts() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("parley-dev-key-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        func start() async throws -> (ParleyProcess, key: String) {
            let dev = try ParleyProcess(["dev", "--http", "127.0.0.1:0", "--data", data, "--model", "synthetic"])
            let line = try await dev.waitForLine(containing: "API key: ")
            return (dev, String(line.split(separator: " ").last ?? ""))
        }
        let (first, key) = try await start()
        first.kill()
        #expect(key.hasPrefix("pk-"))
        let kept = try String(contentsOfFile: data + "/dev-api-key", encoding: .utf8)
        #expect(kept == key + "\n")
        let permissions = try FileManager.default.attributesOfItem(atPath: data + "/dev-api-key")[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        // Killed and started again on the same folder: the same key, so clients keep working.
        let (second, again) = try await start()
        second.kill()
        #expect(again == key)
        // A damaged key file is a clear error, not a silently different key.
        try Data("\n".utf8).write(to: URL(fileURLWithPath: data + "/dev-api-key"))
        let third = try ParleyProcess(["dev", "--http", "127.0.0.1:0", "--data", data, "--model", "synthetic"])
        defer { third.kill() }
        try await third.waitForLine(containing: "holds no API key")
    }
}

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
        try await node.terminate()
        #expect(!node.isRunning)
    }

    /// `--log-format json`: every log line is one JSON object a collector can read; a log level or
    /// format the node does not know is a clear error, not a silent default.
    @Test func logLinesAreJSONWhenAskedAndUnknownLevelsAreRefused() async throws {
        for (arguments, complaint) in [(["--log-level", "loud"], "--log-level must be one of"), (["--log-format", "xml"], "--log-format must be")] {
            let refused = try ParleyProcess(["node", "--name", "x"] + arguments)
            defer { refused.kill() }
            try await refused.waitForLine(containing: complaint)
            #expect(try await refused.exitStatus(timeout: .seconds(10)) != 0)
        }

        let node = try ParleyProcess(["node", "--name", "logs", "--listen", "127.0.0.1:0", "--log-format", "json"])
        defer { node.kill() }
        let line = try await node.waitForLine(containing: #""message":"cluster listener started""#)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "parley.node")
        #expect((object["time"] as? String)?.hasSuffix("Z") == true)
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["node.id"] as? String == "logs")
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

    @Test func chatWaitsForTheModelOfAClusterThatIsStillStarting() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-chat-wait-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let key = "pk-chat-wait-0001"
        try "\(key) alice\n".write(toFile: folder + "/api-keys", atomically: true, encoding: .utf8)
        let front = try ParleyProcess([
            "node", "--name", "front", "--roles", "gateway,completion,worker,proxy,conversation", "--listen", "127.0.0.1:0",
            "--http", "127.0.0.1:0", "--api-keys", folder + "/api-keys", "--data", folder + "/data",
        ])
        defer { front.kill() }
        // "parley node front listening on HOST:PORT uid …"
        let listening = try await front.waitForLine(containing: "front listening on").split(separator: " ")
        let seed = String(listening[(listening.firstIndex(of: "on") ?? 0) + 1])
        let url = String(try await front.waitForLine(containing: "http on").split(separator: " ").last ?? "")
        // No model node yet: the chat waits for one instead of giving up at once.
        let chat = try ParleyProcess(["chat", "--url", url, "--api-key", key, "Hello there"])
        defer { chat.kill() }
        try await chat.waitForLine(containing: "waiting for the cluster to serve a model")
        let model = try ParleyProcess([
            "node", "--name", "model", "--roles", "model", "--listen", "127.0.0.1:0", "--seed", seed, "--model", "synthetic",
        ])
        defer { model.kill() }
        #expect(try await chat.exitStatus(timeout: .seconds(30)) == 0)
        #expect(!chat.output.contains { $0.contains("error") })
    }
}

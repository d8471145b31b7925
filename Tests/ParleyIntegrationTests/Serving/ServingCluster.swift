import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ParleyClient
import ParleyTestSupport

/// A serving cluster of `parley node` processes with two nodes of every serving role (one role per
/// node, so a kill hits exactly one role), two conversation nodes, the synthetic model, and two users.
final class ServingCluster: @unchecked Sendable {
    static let names = [
        "gw1", "gw2", "comp1", "comp2", "work1", "work2", "prox1", "prox2", "model1", "model2", "conv1",
        "conv2",
    ]
    static let users = ["alice": "pk-chaos-alice-0001", "bob": "pk-chaos-bob-00002"]

    let nodes: NodeCluster
    let keysFile: String
    let dataFolder: String
    private(set) var gatewayURLs: [String: String] = [:]

    init(tokensPerSecond: Int) async throws {
        dataFolder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-serving-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dataFolder, withIntermediateDirectories: true)
        keysFile = dataFolder + "/api-keys"
        try Self.users.map { "\($1) \($0)" }.joined(separator: "\n").write(toFile: keysFile, atomically: true, encoding: .utf8)
        let roles = Self.names.map { name in
            switch name.prefix(while: { $0.isLetter }) {
            case "gw": "gateway"
            case "comp": "completion"
            case "work": "worker"
            case "prox": "proxy"
            case "model": "model"
            default: "conversation"
            }
        }
        var extra: [String: [String]] = [:]
        for (name, role) in zip(Self.names, roles) {
            switch role {
            case "gateway": extra[name] = ["--http", "127.0.0.1:0", "--api-keys", keysFile]
            case "model": extra[name] = ["--model", "synthetic", "--synthetic-tps", String(tokensPerSecond)]
            case "conversation": extra[name] = ["--data", dataFolder + "/" + name]
            default: break
            }
        }
        nodes = try await NodeCluster(names: Self.names, roles: roles, extraArguments: extra)
        do {
            for gateway in ["gw1", "gw2"] {
                let line = try await nodes.processes[gateway]!.waitForLine(containing: "http on", timeout: .seconds(30))
                gatewayURLs[gateway] = String(line.split(separator: " ").last!)
            }
            try await waitUntilServing()
        } catch {
            stop()
            throw error
        }
    }

    func stop() {
        nodes.killAll()
        try? FileManager.default.removeItem(atPath: dataFolder)
    }

    func client(_ user: String, gateways: [String]) -> ParleyClient {
        ParleyClient(
            configuration: .init(
                gatewayURLs: gateways.map { gatewayURLs[$0]! }, apiKey: Self.users[user]!,
                resume: .init(maxAttempts: 20, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(500))))
    }

    /// Waits until both gateways see every node alive with its stats and answer a completion.
    private func waitUntilServing() async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(60))
        while ContinuousClock.now < deadline {
            var ready = true
            for gateway in ["gw1", "gw2"] {
                let members = (try? await cluster(from: gateway)) ?? []
                let alive = members.filter { $0.status == "alive" && $0.stats != nil }
                if alive.count < Self.names.count { ready = false }
            }
            if ready {
                let probe = client("alice", gateways: ["gw1", "gw2"])
                defer { Task { try? await probe.shutdown() } }
                if (try? await probe.chatCompletion(
                    .init(model: "synthetic", messages: [.user("ready?")], maxTokens: 1, store: false))) != nil
                {
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestFailure("the serving cluster did not become ready within 60 s")
    }

    struct Member: Decodable {
        struct Stats: Decodable {
            var streams_in_flight: Int
        }
        var name: String
        var roles: [String]
        var status: String
        var stats: Stats?
    }

    /// `GET /v1/cluster` of `gateway`.
    func cluster(from gateway: String) async throws -> [Member] {
        var request = HTTPClientRequest(url: gatewayURLs[gateway]! + "/v1/cluster")
        request.headers.add(name: "Authorization", value: "Bearer \(Self.users["alice"]!)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        struct Status: Decodable { var members: [Member] }
        return try JSONDecoder().decode(Status.self, from: Data(body.readableBytesView)).members
    }

    /// The JSON object `gateway` answers a POST of `body` to `path` with (as alice).
    func post(_ path: String, _ body: String, via gateway: String) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(request(path, body: body, via: gateway), timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return try JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any] ?? [:]
    }

    /// The data of the server-sent events `gateway` answers a POST of `body` to `path` with.
    func events(post path: String, _ body: String, via gateway: String) async throws -> AsyncThrowingStream<String, any Error> {
        try await events(request(path, body: body, via: gateway))
    }

    /// The data of the server-sent events `gateway` answers a GET of `path` with.
    func events(get path: String, via gateway: String) async throws -> AsyncThrowingStream<String, any Error> {
        try await events(request(path, body: nil, via: gateway))
    }

    private func request(_ path: String, body: String?, via gateway: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: gatewayURLs[gateway]! + path)
        request.headers.add(name: "Authorization", value: "Bearer \(Self.users["alice"]!)")
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        return request
    }

    private func events(_ request: HTTPClientRequest) async throws -> AsyncThrowingStream<String, any Error> {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        struct NotOK: Error { var status: HTTPResponseStatus }
        guard response.status == .ok else { throw NotOK(status: response.status) }
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: String.self)
        let task = Task {
            var parser = ServerSentEventParser()
            do {
                for try await buffer in response.body {
                    for event in try parser.feed(buffer.readableBytesView) { continuation.yield(event.data) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// The node of `role` that has a stream in flight now, as `gateway` sees it.
    func busyNode(role: String, via gateway: String) async throws -> String? {
        try await cluster(from: gateway).first { $0.roles == [role] && $0.status == "alive" && ($0.stats?.streams_in_flight ?? 0) > 0 }?
            .name
    }
}

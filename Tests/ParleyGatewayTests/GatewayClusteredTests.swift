import AsyncHTTPClient
import Distributed
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import ParleyCluster
@testable import ParleyGateway
import ParleyProtocol
import Synchronization
import Testing

/// What the test completion services did, observable as a stream of events.
final class CompletionProbe: Sendable {
    enum Event: Sendable, Equatable {
        /// `node` got a `complete` call (with the request's resume point).
        case called(node: String, resume: ResumePoint?)
        /// `node` sent tokens up to `holdAfter` and now waits.
        case holding(node: String)
        /// The producer on `node` stopped iterating (finished or cancelled), after `sent` tokens.
        case stopped(node: String, sent: Int)
        case cancelCalled(node: String, requestID: String)
    }

    private struct State {
        var events: [Event] = []
        var waiters: [(match: @Sendable (Event) -> Bool, continuation: CheckedContinuation<Event, Never>)] = []
    }

    private let state = Mutex(State())

    func record(_ event: Event) {
        let ready = state.withLock { state -> [CheckedContinuation<Event, Never>] in
            state.events.append(event)
            var ready: [CheckedContinuation<Event, Never>] = []
            state.waiters.removeAll { waiter in
                guard waiter.match(event) else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume(returning: event) }
    }

    /// The first event so far that matches, or the next one to come (the test's time limit bounds the wait).
    func next(where match: @escaping @Sendable (Event) -> Bool) async -> Event? {
        await withCheckedContinuation { continuation in
            let found = state.withLock { state -> Event? in
                if let event = state.events.first(where: match) { return event }
                state.waiters.append((match, continuation))
                return nil
            }
            if let found { continuation.resume(returning: found) }
        }
    }
}

/// A minimal completion service for gateway tests: answers `maxTokens` tokens "w0 ", "w1 ", …,
/// continuing after a resume point (repeating the token before it, to exercise deduplication),
/// and optionally holding the first attempt after `holdAfter` tokens until cancelled.
distributed actor TestCompletionService: CompletionServiceProtocol {
    typealias ActorSystem = ClusterSystem
    let probe: CompletionProbe
    let holdAfter: Int?

    init(actorSystem: ClusterSystem, probe: CompletionProbe, holdAfter: Int? = nil) {
        self.actorSystem = actorSystem
        self.probe = probe
        self.holdAfter = holdAfter
    }

    distributed func complete(_ request: CompletionRequest) async throws -> RemoteStream<CompletionEvent> {
        let node = actorSystem.node.name
        probe.record(.called(node: node, resume: request.resume))
        return actorSystem.makeStream(
            TestAnswer(
                count: request.sampling.maxTokens ?? 8, resume: request.resume,
                holdAfter: request.resume == nil ? holdAfter : nil, node: node, probe: probe))
    }

    distributed func cancel(requestID: String, userID: String) async throws -> Bool {
        probe.record(.cancelCalled(node: actorSystem.node.name, requestID: requestID))
        return false
    }
}

struct TestAnswer: AsyncSequence, Sendable {
    let count: Int
    let resume: ResumePoint?
    let holdAfter: Int?
    let node: String
    let probe: CompletionProbe

    final class Sentinel: Sendable {
        let node: String
        let probe: CompletionProbe
        let sent = Atomic<Int>(0)
        init(node: String, probe: CompletionProbe) {
            self.node = node
            self.probe = probe
        }
        deinit { probe.record(.stopped(node: node, sent: sent.load(ordering: .relaxed))) }
    }

    struct Iterator: AsyncIteratorProtocol {
        let answer: TestAnswer
        var next: Int
        var startedSent = false
        var finished = false
        let sentinel: Sentinel

        mutating func next() async throws -> CompletionEvent? {
            if !startedSent {
                startedSent = true
                return .started(conversationID: "conv-x", userMessageID: "u", assistantMessageID: "a")
            }
            if finished { return nil }
            if let hold = answer.holdAfter, next == hold {
                answer.probe.record(.holding(node: answer.node))
                try await Task.sleep(for: .seconds(60))
            }
            guard next < answer.count else {
                finished = true
                return .finished(.stop, TokenUsage(promptTokens: 3, completionTokens: answer.count))
            }
            defer { next += 1 }
            sentinel.sent.add(1, ordering: .relaxed)
            return .token(index: next, text: "w\(next) ")
        }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(answer: self, next: Swift.max(0, (resume?.tokenCount ?? 0) - 1), sentinel: Sentinel(node: node, probe: probe))
    }
}

/// A gateway node and two completion nodes on loopback.
final class TestCluster: Sendable {
    let gateway: ClusterSystem
    let completionSystems: [ClusterSystem]
    let probe: CompletionProbe
    let services: [TestCompletionService]

    static func start(holdAfter: Int? = nil) async throws -> TestCluster {
        let gateway = try await ClusterSystem.start(settings: ClusterSettings(name: "gw", roles: ["gateway"]))
        gateway.allowParleyProtocols()
        var systems: [ClusterSystem] = []
        for name in ["c1", "c2"] {
            let system = try await ClusterSystem.start(
                settings: ClusterSettings(name: name, roles: ["completion"], seeds: [gateway.node.address]))
            system.allowParleyProtocols()
            systems.append(system)
        }
        let probe = CompletionProbe()
        var services: [TestCompletionService] = []
        for system in systems {
            let service = TestCompletionService(actorSystem: system, probe: probe, holdAfter: holdAfter)
            system.receptionist.register(service, key: ServiceKeys.completion)
            services.append(service)
        }
        for await ids in gateway.receptionist.listing(ServiceKeys.completion) where ids.count == 2 { break }
        return TestCluster(gateway: gateway, completionSystems: systems, probe: probe, services: services)
    }

    init(gateway: ClusterSystem, completionSystems: [ClusterSystem], probe: CompletionProbe, services: [TestCompletionService]) {
        self.gateway = gateway
        self.completionSystems = completionSystems
        self.services = services
        self.probe = probe
    }

    func system(named name: String) -> ClusterSystem? { completionSystems.first { $0.node.name == name } }

    /// Systems already shut down (a second `shutdown()` must not be called).
    private let stopped = Mutex<Set<String>>([])

    func stop(_ system: ClusterSystem) async {
        guard stopped.withLock({ $0.insert(system.node.name).inserted }) else { return }
        await system.shutdown()
    }

    func shutdown() async {
        for system in completionSystems { await stop(system) }
        await stop(gateway)
    }

    func application(configure: (inout GatewayConfiguration) -> Void = { _ in }) async throws -> some ApplicationProtocol {
        var configuration = GatewayConfiguration(port: 0)
        configuration.auth.apiKeys = [testKey: "alice"]
        configuration.streaming.heartbeatInterval = .milliseconds(50)
        configure(&configuration)
        let metrics = GatewayMetrics()
        let logger = Logger(label: "test.gateway")
        let routes = try await GatewayRoutes(
            configuration: configuration,
            completions: ClusterCompletionBackend(
                system: gateway, streaming: configuration.streaming, callTimeout: .seconds(2), metrics: metrics, logger: logger),
            conversations: ClusterConversationBackend(system: gateway, callTimeout: .seconds(2)),
            status: ClusterNodeStatus(system: gateway), metrics: metrics, registry: nil, logger: logger)
        return GatewayService.application(routes: routes, configuration: configuration, logger: logger, onListening: { _ in })
    }
}

func texts(ofSSE body: String) -> (ids: [String?], text: String) {
    let events = SSETestParser.parse(body).filter { $0.data != "[DONE]" }
    let text = events.compactMap { event -> String? in
        let chunk = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
        return ((chunk?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
    }.joined()
    return (events.map(\.id), text)
}

@Suite("Gateway over a real cluster", .timeLimit(.minutes(1)))
struct GatewayClusteredTests {
    let chatBody = #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"stream":true}"#

    @Test func streamsThroughACompletionNode() async throws {
        let cluster = try await TestCluster.start()
        let app = try await cluster.application()
        try await app.test(.router) { client in
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: chatBody))
            #expect(response.status == .ok)
            #expect(response.headers[.conversationID] == "conv-x")
            let (ids, text) = texts(ofSSE: String(buffer: response.body))
            #expect(text == (0..<10).map { "w\($0) " }.joined())
            #expect(ids.compactMap { $0 } == (0...10).map(String.init))

            let members = try await client.execute(uri: "/v1/cluster", method: .get, headers: .auth())
            let object = try JSONSerialization.jsonObject(with: Data(members.body.readableBytesView)) as? [String: Any]
            #expect(object?["self"] as? String == "gw")
            let names = Set(((object?["members"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String })
            #expect(names == ["gw", "c1", "c2"])
        }
        await cluster.shutdown()
    }

    @Test func midStreamDeathOfTheCompletionNodeFailsOverWithoutLosingOrRepeatingTokens() async throws {
        let cluster = try await TestCluster.start(holdAfter: 4)
        let app = try await cluster.application()
        try await app.test(.router) { client in
            async let response = client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: chatBody))
            // Kill whichever node got the request once it has sent 4 tokens.
            guard case .holding(let victim) = await cluster.probe.next(where: { if case .holding = $0 { true } else { false } }),
                let system = cluster.system(named: victim)
            else {
                Issue.record("no node held the stream")
                return
            }
            await cluster.stop(system)
            let result = try await response
            #expect(result.status == .ok)
            let (ids, text) = texts(ofSSE: String(buffer: result.body))
            #expect(text == (0..<10).map { "w\($0) " }.joined())
            let numbered = ids.compactMap { $0.flatMap(Int.init) }
            #expect(numbered == Array(0...10))
            #expect(String(buffer: result.body).hasSuffix("data: [DONE]\n\n"))
        }
        await cluster.shutdown()
    }

    @Test func clientDisconnectCancelsTheGenerationDownstream() async throws {
        let cluster = try await TestCluster.start(holdAfter: 2)
        let app = try await cluster.application {
            $0.streaming.heartbeatInterval = .milliseconds(20)
            $0.streaming.disconnectGrace = .milliseconds(200)
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let reader = Task {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(testKey)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: chatBody))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                for try await _ in response.body {}
            }
            _ = await cluster.probe.next { if case .holding = $0 { true } else { false } }
            reader.cancel()
            // The gateway notices the client is gone at its next heartbeat; when no resume claims the
            // answer within the grace period it cancels downstream, and the producer stops.
            let cancel = await cluster.probe.next { if case .cancelCalled = $0 { true } else { false } }
            #expect(cancel != nil)
            let stopped = await cluster.probe.next { if case .stopped = $0 { true } else { false } }
            #expect(stopped != nil)
        }
        await cluster.shutdown()
    }

    @Test func modelNotServedAnywhereIsAClearError() async throws {
        let cluster = try await TestCluster.start()
        for system in cluster.completionSystems { await cluster.stop(system) }
        let app = try await cluster.application()
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: chatBody))
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.retryAfter] != nil)
        }
        await cluster.shutdown()
    }
}

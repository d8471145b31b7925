import Logging
import ParleyCluster
import ParleyModelAPI
import ParleyProtocol
import ParleyProxy
import Synchronization
import Testing

/// Nodes of a serving test on loopback (port 0): one proxy node that the others join, model nodes
/// running `ModelAPIService`, and a client node that calls the proxy like a worker would.
/// Services run in tasks the cluster owns; `stop()` cancels them and shuts every system down.
final class ServingTestCluster: Sendable {
    struct ModelNode: Sendable {
        let name: String
        let system: ClusterSystem
        let tracker: GenerationTracker
        let service: Task<Void, any Error>
    }

    let proxySystem: ClusterSystem
    let client: ClusterSystem
    let proxyID: ClusterActorID
    private let proxyService: Task<Void, any Error>
    private let models: Mutex<[ModelNode]> = Mutex([])
    private let killed: Mutex<Set<String>> = Mutex([])

    static func node(_ name: String, roles: [String], seed: NodeAddress?) async throws -> ClusterSystem {
        var settings = ClusterSettings(name: name, roles: roles, seeds: seed.map { [$0] } ?? [])
        settings.membership.joinRetryInterval = .milliseconds(200)
        let system = try await ClusterSystem.start(settings: settings, logger: Logger(label: "test.\(name)"))
        system.allowParleyProtocols()
        return system
    }

    private init(
        proxySystem: ClusterSystem, client: ClusterSystem, proxyID: ClusterActorID, proxyService: Task<Void, any Error>
    ) {
        self.proxySystem = proxySystem
        self.client = client
        self.proxyID = proxyID
        self.proxyService = proxyService
    }

    static func start(proxySettings: ProxySettings = .init()) async throws -> ServingTestCluster {
        let proxySystem = try await node("proxy", roles: ["proxy"], seed: nil)
        let (ready, readyContinuation) = AsyncStream<ClusterActorID>.makeStream()
        let service = Task {
            try await ModelProxyService(system: proxySystem, settings: proxySettings) { readyContinuation.yield($0.id) }
                .run()
        }
        var iterator = ready.makeAsyncIterator()
        guard let proxyID = await iterator.next() else { throw ClusterError(.shutDown, "proxy did not start") }
        let client = try await node("client", roles: ["worker"], seed: proxySystem.node.address)
        return ServingTestCluster(proxySystem: proxySystem, client: client, proxyID: proxyID, proxyService: service)
    }

    /// Runs `body` with a started cluster and stops the cluster afterwards, also when `body` throws.
    static func with(proxySettings: ProxySettings = .init(), _ body: (ServingTestCluster) async throws -> Void)
        async throws
    {
        let cluster = try await start(proxySettings: proxySettings)
        do {
            try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// Starts a model node with `backend` and waits until the proxy's receptionist lists it.
    @discardableResult
    /// Starts a model API on a new node (`onProxyNode`: on the proxy's own node) and waits until the
    /// proxy's receptionist lists it.
    func addModel(
        _ name: String, backend: ModelAPIService.Configuration.Backend, tracker: GenerationTracker = GenerationTracker(),
        onProxyNode: Bool = false
    )
        async throws -> ModelNode
    {
        let system =
            onProxyNode ? proxySystem : try await Self.node(name, roles: ["model"], seed: proxySystem.node.address)
        let service = Task {
            try await ModelAPIService(system: system, configuration: .init(backend: backend), tracker: tracker).run()
        }
        let node = ModelNode(name: name, system: system, tracker: tracker, service: service)
        models.withLock { $0.append(node) }
        let models: [String] =
            switch backend {
            case .synthetic(let synthetic): [synthetic.modelName]
            case .upstream(let upstream): upstream.models
            case .builtin(let model): [ModelAPIService.servedName(model)]
            }
        for key in [ServiceKeys.modelAPI] + models.map(ServiceKeys.modelAPI) {
            for await ids in proxySystem.receptionist.listing(key) where ids.contains(where: { $0.node == system.node })
            {
                break
            }
        }
        return node
    }

    func proxy() throws -> $ModelProxyProtocol {
        try $ModelProxyProtocol.resolve(id: proxyID, using: client)
    }

    /// Shuts `node`'s system down at once, as if its process died (its service task stays until `stop()`).
    func kill(_ node: ModelNode) async {
        killed.withLock { _ = $0.insert(node.name) }
        await node.system.shutdown()
    }

    func stop() async {
        let nodes = models.withLock { $0 }
        for node in nodes {
            node.service.cancel()
            _ = try? await node.service.value
            if !killed.withLock({ $0.contains(node.name) }) && node.system.node != proxySystem.node {
                await node.system.shutdown()
            }
        }
        proxyService.cancel()
        _ = try? await proxyService.value
        await client.shutdown()
        await proxySystem.shutdown()
    }

    static func request(_ id: String, maxTokens: Int, model: String = "synthetic", conversation: String? = nil)
        -> ModelRequest
    {
        ModelRequest(
            requestID: id, userID: "user-1", model: model,
            messages: [ChatMessage(role: "user", content: "Tell me about request \(id).")],
            sampling: SamplingOptions(maxTokens: maxTokens, seed: 42), conversationID: conversation)
    }
}

/// Checks that `events` are exactly the synthetic answer to `request`: every token once, in
/// order, with the right text, then one `finished`.
func expectExactAnswer(
    _ events: [GenerationEvent], for request: ModelRequest, sourceLocation: SourceLocation = #_sourceLocation
) {
    let expected = SyntheticModel.expectedAnswer(for: request)
    let tokens = events.compactMap { event -> GenerationEvent? in
        if case .token = event { event } else { nil }
    }
    #expect(tokens == expected.enumerated().map { .token(index: $0, text: $1) }, sourceLocation: sourceLocation)
    #expect(
        events.last
            == .finished(
                .length,
                TokenUsage(
                    promptTokens: SyntheticModel.promptTokenCount(for: request), completionTokens: expected.count)),
        sourceLocation: sourceLocation)
}

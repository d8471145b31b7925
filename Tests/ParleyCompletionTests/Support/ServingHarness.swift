import Logging
import ParleyCluster
import ParleyProtocol

@testable import ParleyCompletion

/// A gateway-less serving path in one process: a client system `g`, completion nodes `c1…`,
/// worker nodes `w1…` and proxy nodes (`p`, or `p1…` when there are several) each hosting a
/// ``TokenProxy``, all joined, with every registration visible where it is needed.
struct ServingHarness {
    let cluster: TestCluster
    let proxies: [String: TokenProxy]
    /// What each proxy saw, by node name.
    let probes: [String: ProxyProbe]
    /// What the proxy saw (the first one when there are several).
    var probe: ProxyProbe { probes[probes.keys.sorted()[0]]! }
    let workers: [String: WorkerService]
    let completions: [String: CompletionRoleService]
    let store: InMemoryHistoryStore

    var gateway: ClusterSystem { cluster["g"] }

    static func start(
        completions completionCount: Int = 1, workers workerCount: Int = 1, proxies proxyCount: Int = 1,
        tokenDelay: Duration = .zero,
        configuration: CompletionConfiguration = .init(), workerConfiguration: WorkerPoolConfiguration = .init()
    ) async throws -> ServingHarness {
        let completionNames = (1...completionCount).map { "c\($0)" }
        let workerNames = (1...workerCount).map { "w\($0)" }
        let proxyNames = proxyCount == 1 ? ["p"] : (1...proxyCount).map { "p\($0)" }
        let cluster = try await TestCluster.start(["g"] + completionNames + workerNames + proxyNames)
        var proxies: [String: TokenProxy] = [:]
        var probes: [String: ProxyProbe] = [:]
        for name in proxyNames {
            let probe = ProxyProbe()
            let proxy = TokenProxy(actorSystem: cluster[name], tokenDelay: tokenDelay, probe: probe)
            cluster[name].receptionist.register(proxy, key: ServiceKeys.modelProxy)
            proxies[name] = proxy
            probes[name] = probe
        }
        let store = InMemoryHistoryStore()
        var workers: [String: WorkerService] = [:]
        for name in workerNames {
            workers[name] = WorkerService(system: cluster[name], configuration: workerConfiguration, logger: quietLogger)
        }
        var completions: [String: CompletionRoleService] = [:]
        for name in completionNames {
            completions[name] = CompletionRoleService(
                system: cluster[name], configuration: configuration, stores: store, logger: quietLogger)
        }
        for name in completionNames {
            try await waitForRegistrations(ServiceKeys.workerPool, count: workerCount, on: cluster[name])
            try await waitForRegistrations(ServiceKeys.rateLimiter, count: completionCount, on: cluster[name])
        }
        for name in workerNames {
            try await waitForRegistrations(ServiceKeys.modelProxy, count: proxyCount, on: cluster[name])
        }
        try await waitForRegistrations(ServiceKeys.completion, count: completionCount, on: cluster["g"])
        return ServingHarness(cluster: cluster, proxies: proxies, probes: probes, workers: workers, completions: completions, store: store)
    }

    /// The completion service of node `name`, as the gateway calls it.
    func completion(_ name: String = "c1") throws -> $CompletionServiceProtocol {
        try $CompletionServiceProtocol.resolve(id: completions[name]!.completion.id, using: gateway)
    }

    func shutdown() async { await cluster.shutdown() }
}

/// Runs `body` on a fresh harness, shutting it down afterwards.
func withHarness(
    completions: Int = 1, workers: Int = 1, proxies: Int = 1, tokenDelay: Duration = .zero,
    configuration: CompletionConfiguration = .init(), workerConfiguration: WorkerPoolConfiguration = .init(),
    _ body: (ServingHarness) async throws -> Void
) async throws {
    let harness = try await ServingHarness.start(
        completions: completions, workers: workers, proxies: proxies, tokenDelay: tokenDelay,
        configuration: configuration,
        workerConfiguration: workerConfiguration)
    do {
        try await body(harness)
    } catch {
        await harness.shutdown()
        throw error
    }
    await harness.shutdown()
}

/// A one-message request for `maxTokens` tokens.
func request(
    _ id: String, user: String = "u", maxTokens: Int = 16, conversationID: String? = nil, store: Bool = true,
    text: String = "hello"
) -> CompletionRequest {
    CompletionRequest(
        requestID: id, userID: user, model: "m", messages: [ChatMessage(role: "user", content: text)],
        sampling: SamplingOptions(maxTokens: maxTokens), conversationID: conversationID, store: store)
}

/// Collects a completion stream: the `started` event, tokens by index (repeats counted), the finish.
struct CollectedCompletion {
    var started: CompletionEvent?
    var indexes: [Int] = []
    var text = ""
    var finished: (FinishReason, TokenUsage)?
    var eventsBeforeStart = 0
    /// The prompt-progress events, and how many tokens had come before each.
    var promptProgress: [(computed: Int, total: Int, tokensBefore: Int)] = []

    mutating func add(_ event: CompletionEvent) {
        switch event {
        case .started:
            started = event
        case .token(let index, let piece, _):
            if started == nil { eventsBeforeStart += 1 }
            indexes.append(index)
            text += piece
        case .finished(let reason, let usage):
            finished = (reason, usage)
        case .prompt(let computed, let total):
            if started == nil { eventsBeforeStart += 1 }
            promptProgress.append((computed, total, indexes.count))
        }
    }
}

public import Distributed
public import ParleyCluster
public import ParleyProtocol

/// Picks the best `ModelAPI` endpoint for each generation (role `proxy`) and relays its stream,
/// failing over to the next best endpoint — continuing after the tokens already sent — when one
/// dies or fails (see ``Router``, ``RoutingPolicy`` and ``CircuitBreaker``).
///
/// ``ModelProxyService`` hosts it, registers it under `ServiceKeys.modelProxy` and runs the
/// router's ``Router/follow()`` loop that keeps the endpoint table current.
public distributed actor ModelProxy: ModelProxyProtocol {
    public typealias ActorSystem = ClusterSystem

    private let router: Router

    /// Creates the proxy on `actorSystem`, routing with `router` (built on the same system).
    public init(actorSystem: ClusterSystem, router: Router) {
        self.actorSystem = actorSystem
        self.router = router
    }

    public distributed func generate(_ request: ModelRequest, region: String?) async throws -> RemoteStream<GenerationEvent> {
        guard router.serves(model: request.model) else {
            throw ServingError(ServingError.modelNotFound, "no live model API serves '\(request.model)'")
        }
        // The model starts now, not when the caller's reading task first runs; an endpoint that
        // fails to open is failed over here, as it would be on the first read.
        var relay = FailoverStream(request: request, region: region, router: router).makeAsyncIterator()
        try await relay.open()
        // The stream only relays the model API's tokens: relayed on the event loop, without a
        // hand-over per token.
        return actorSystem.makeStream(
            CountedGeneration(OpenedGeneration(relay), activity: actorSystem.activity, role: "proxy"),
            drainsWhenConsumerIsLost: false, relaysOnEventLoop: true)
    }

    public distributed func endpoints() -> [EndpointStatus] {
        router.statuses()
    }
}

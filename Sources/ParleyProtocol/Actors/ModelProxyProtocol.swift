public import Distributed
public import ParleyCluster

/// Health of one model endpoint as a proxy sees it.
public struct EndpointStatus: Hashable, Sendable, Codable {
    public var actor: ClusterActorID
    public var models: [String]
    public var region: String
    /// `closed` (healthy), `open` (refused) or `half-open` (probing).
    public var circuit: String
    public var inFlight: Int
    /// Moving averages, in milliseconds.
    public var timeToFirstTokenMillis: Double
    public var interTokenMillis: Double
    /// Moving average of the failure rate, 0...1.
    public var errorRate: Double

    public init(
        actor: ClusterActorID, models: [String], region: String, circuit: String, inFlight: Int,
        timeToFirstTokenMillis: Double, interTokenMillis: Double, errorRate: Double
    ) {
        self.actor = actor
        self.models = models
        self.region = region
        self.circuit = circuit
        self.inFlight = inFlight
        self.timeToFirstTokenMillis = timeToFirstTokenMillis
        self.interTokenMillis = interTokenMillis
        self.errorRate = errorRate
    }
}

/// Picks the best `ModelAPI` endpoint for each generation (role `proxy`) and fails over to
/// another endpoint, continuing after the tokens already sent, when one dies mid-stream.
@Resolvable
public protocol ModelProxyProtocol: DistributedActor where ActorSystem == ClusterSystem {
    /// Streams the answer from the best endpoint for `request.model`, preferring `region`.
    distributed func generate(_ request: ModelRequest, region: String?) async throws -> RemoteStream<GenerationEvent>
    /// Every known endpoint with its scores.
    distributed func endpoints() async throws -> [EndpointStatus]
}

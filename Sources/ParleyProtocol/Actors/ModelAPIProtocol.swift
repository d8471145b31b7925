public import Distributed
public import ParleyCluster

/// A node's model runner (role `model`): streams the tokens of one generation. Registered under
/// `ServiceKeys.modelAPI` and `ServiceKeys.modelAPI(model)` for each model it serves.
@Resolvable
public protocol ModelAPIProtocol: DistributedActor where ActorSystem == ClusterSystem {
    /// The models this endpoint serves.
    distributed func models() async throws -> [ModelInfo]
    /// Streams the answer to `request`; with `request.resume`, continues after the resume point
    /// and numbers tokens from `resume.tokenCount`. Cancelling the stream frees the slot.
    distributed func generate(_ request: ModelRequest) async throws -> RemoteStream<GenerationEvent>
    /// Streams in flight right now (for load-aware routing).
    distributed func inFlight() async throws -> Int
}

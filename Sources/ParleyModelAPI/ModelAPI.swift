public import Distributed
import struct Foundation.Date
public import ParleyCluster
public import ParleyProtocol

/// A node's model runner (role `model`): serves the models of one ``ModelBackend`` and streams
/// each generation as a `RemoteStream<GenerationEvent>`. Cancelling the stream (the consumer
/// stops or its node dies) cancels the backend's generation, which frees its slot.
///
/// ``ModelAPIService`` creates it, registers it with the receptionist under `ServiceKeys.modelAPI`
/// and `ServiceKeys.modelAPI(model)` and keeps it alive.
public distributed actor ModelAPI: ModelAPIProtocol {
    public typealias ActorSystem = ClusterSystem

    private let backend: any ModelBackend
    private let servedModels: [ModelInfo]
    private let tracker: GenerationTracker

    /// Creates the actor on `actorSystem`, serving `backend`; `tracker` counts and reports its
    /// generations (keep a reference to observe them).
    public init(actorSystem: ClusterSystem, backend: any ModelBackend, tracker: GenerationTracker = GenerationTracker())
    {
        self.actorSystem = actorSystem
        self.backend = backend
        let now = Int(Date().timeIntervalSince1970)
        self.servedModels = backend.models.map { model in
            var model = model
            model.created = model.created ?? now
            return model
        }
        self.tracker = tracker
    }

    public distributed func models() -> [ModelInfo] {
        servedModels
    }

    public distributed func generate(_ request: ModelRequest) throws -> RemoteStream<GenerationEvent> {
        guard servedModels.contains(where: { $0.id == request.model }) else {
            throw ServingError(
                ServingError.modelNotFound,
                "this endpoint serves \(servedModels.map(\.id).joined(separator: ", ")), not \(request.model)")
        }
        if let maxTokens = request.sampling.maxTokens, maxTokens < 1 {
            throw ServingError(ServingError.invalidRequest, "max_tokens must be at least 1")
        }
        if let resume = request.resume, resume.tokenCount < 0 {
            throw ServingError(ServingError.invalidRequest, "resume point before the start of the answer")
        }
        return try Self.stream(backend, request, tracker: tracker, system: actorSystem)
    }

    public distributed func inFlight() -> Int {
        tracker.inFlight
    }

    /// Opens the backend existential so its concrete event type reaches `makeStream`.
    private static func stream<Backend: ModelBackend>(
        _ backend: Backend, _ request: ModelRequest, tracker: GenerationTracker, system: ClusterSystem
    ) throws -> RemoteStream<GenerationEvent> {
        let events = try backend.generate(request)
        // Backends produce elsewhere (the engine on its own thread, an upstream over HTTP): the
        // stream only relays, on the event loop.
        return system.makeStream(
            CountedGeneration(
                TrackedEvents(base: events, tracker: tracker, requestID: request.requestID), activity: system.activity,
                role: "model"),
            drainsWhenConsumerIsLost: false, relaysOnEventLoop: true)
    }
}

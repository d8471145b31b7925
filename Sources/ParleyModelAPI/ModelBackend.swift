public import ParleyProtocol

/// One way of running a model behind a `ModelAPI` actor: the built-in engine
/// (``EngineBackend``), an OpenAI-compatible upstream server (``UpstreamBackend``) or the
/// deterministic load-test model (``SyntheticModel``).
///
/// A backend streams the events of one generation: `.token` events numbered from 0 — or from
/// `request.resume.tokenCount` when the request resumes a broken stream, in which case the
/// backend continues *after* the resume point — and then exactly one `.finished` whose usage
/// counts the whole answer (resumed tokens included). Generation starts when the sequence is
/// first iterated and stops as soon as its iterating task is cancelled or the iterator is dropped.
public protocol ModelBackend: Sendable {
    /// The events of one generation.
    associatedtype Events: AsyncSequence<GenerationEvent, any Error> & Sendable

    /// The models this backend serves (clients name them in `model`).
    var models: [ModelInfo] { get }

    /// The event stream of `request`. Throws only for requests that can be refused at once
    /// (a `ServingError`); errors during generation are thrown by the stream.
    func generate(_ request: ModelRequest) throws -> Events

    /// Releases the backend's resources (threads, connections); later streams fail.
    func shutdown() async
}

extension ModelRequest {
    /// The answer's first token index this generation produces: `resume.tokenCount`, or 0.
    package var firstTokenIndex: Int { max(0, resume?.tokenCount ?? 0) }
}

import Logging
import ParleyCluster
import ParleyProtocol

/// The relay of one generation through a proxy: streams from the best endpoint and, when that
/// endpoint fails — its node dies mid-stream, its call times out, it errs before the first token,
/// it goes silent for ``ProxySettings/stallTimeout``, or its stream ends without a proper finish —
/// resubmits the same request to the next best
/// endpoint with `resume` set to the tokens already relayed, dropping any event whose index was
/// already relayed, so the consumer sees every token exactly once. At most
/// ``ProxySettings/maxAttempts`` endpoints are tried; then the relay fails with
/// `ServingError(no_backend)` naming the last error. Invalid requests are not retried. The
/// consumer's cancellation is never retried: it cancels the endpoint's stream.
struct FailoverStream: AsyncSequence, Sendable {
    typealias Element = GenerationEvent
    typealias Failure = any Error

    let request: ModelRequest
    let region: String?
    let router: Router

    func makeAsyncIterator() -> Iterator {
        Iterator(request: request, region: region, router: router)
    }

    struct Iterator: AsyncIteratorProtocol {
        let request: ModelRequest
        let region: String?
        let router: Router
        /// Index of the next token to relay.
        var relayed: Int
        /// Text of the tokens relayed so far (the resume point's text).
        var text: String
        var downstream: RemoteStream<GenerationEvent>.AsyncIterator?
        var lease: AttemptLease?
        var attempts = 0
        var failed: Set<ClusterActorID> = []
        var lastError: (any Error)?
        var done = false

        init(request: ModelRequest, region: String?, router: Router) {
            self.request = request
            self.region = region
            self.router = router
            self.relayed = Swift.max(0, request.resume?.tokenCount ?? 0)
            self.text = request.resume?.text ?? ""
        }

        /// Opens a stream on the best endpoint that admits the request, failing over as `next()`
        /// would, if none is open yet.
        mutating func open() async throws {
            if downstream == nil && !done { try await connect() }
        }

        mutating func next() async throws -> GenerationEvent? {
            guard !done else { return nil }
            while true {
                if downstream == nil { try await connect() }
                do {
                    guard let event = try await downstream?.next() else {
                        throw ClusterError(.malformed, "the endpoint's stream ended without a finish event")
                    }
                    switch event {
                    case .prompt:
                        // The model is computing a long prompt: its arrival alone kept the stall
                        // timeout from firing. Not the endpoint's first token; relayed (for the
                        // person waiting) only while no token was, so a resumed answer just pauses.
                        if relayed > 0 { continue }
                        return event
                    case .token(let index, let tokenText, _):
                        lease?.received()
                        if index < relayed { continue }  // Already relayed before a failover.
                        guard index == relayed else {
                            throw ClusterError(.malformed, "the endpoint skipped from token \(relayed) to \(index)")
                        }
                        relayed += 1
                        text += tokenText
                        return event
                    case .finished(let reason, _):
                        lease?.received()
                        if reason == .cancelled && !Task.isCancelled {
                            // The endpoint stopped on its own (e.g. its engine shut down): continue elsewhere.
                            throw ClusterError(.cancelled, "the endpoint cancelled the generation")
                        }
                        lease?.end(.success)
                        lease = nil
                        downstream = nil
                        done = true
                        return event
                    }
                } catch {
                    try endAttempt(after: error)
                }
            }
        }

        /// Closes the current attempt after `error`; rethrows when the relay must not go on.
        private mutating func endAttempt(after error: any Error) throws {
            let endpoint = lease?.endpoint
            downstream = nil
            defer { lease = nil }
            if Task.isCancelled {
                lease?.end(.abandoned)
                throw CancellationError()
            }
            if Self.isInvalidRequest(error) {
                lease?.end(.abandoned)
                throw error
            }
            lease?.end(.failure)
            if let endpoint {
                failed.insert(endpoint)
                if (error as? ClusterError)?.code == .nodeDown { router.markDown(endpoint.node) }
                router.logger.warning(
                    "model endpoint failed, failing over",
                    metadata: [
                        "endpoint.id": "\(endpoint)", "request.id": "\(request.requestID)", "error": "\(error)",
                        "relayed.tokens": "\(relayed)",
                    ])
            }
            lastError = error
        }

        /// Opens a stream on the best endpoint that admits the request.
        private mutating func connect() async throws {
            while true {
                guard attempts < router.settings.maxAttempts else {
                    throw ServingError(
                        ServingError.noBackend,
                        "no model endpoint completed the request after \(attempts) attempts"
                            + (lastError.map { "; last error: \($0)" } ?? ""))
                }
                var ranked = router.rank(
                    model: request.model, region: region, conversationID: request.conversationID, excluding: failed)
                if ranked.isEmpty && !failed.isEmpty {
                    // Every live endpoint failed this request once; a transient failure may not repeat.
                    ranked = router.rank(model: request.model, region: region, conversationID: nil, excluding: [])
                }
                guard let admitted = admitFirst(of: ranked) else {
                    if attempts == 0 && lastError == nil && !router.serves(model: request.model) {
                        throw ServingError(ServingError.modelNotFound, "no live model API serves '\(request.model)'")
                    }
                    throw ServingError(
                        ServingError.noBackend,
                        "no healthy model endpoint for '\(request.model)'"
                            + (lastError.map { "; last error: \($0)" } ?? ""),
                        retryAfterSeconds: 1)
                }
                let (endpoint, isProbe) = admitted
                attempts += 1
                if attempts > 2 { try await Task.sleep(for: router.settings.retryBackoff * (attempts - 2)) }
                let lease = AttemptLease(
                    endpoint: endpoint, isProbe: isProbe, router: router, conversationID: request.conversationID)
                self.lease = lease
                var submitted = request
                if relayed > 0 || request.resume != nil {
                    submitted.resume = ResumePoint(tokenCount: relayed, text: text)
                }
                do {
                    let system = router.system
                    let api = try system.reference(to: endpoint, as: (any ModelAPIProtocol).self) {
                        try $ModelAPIProtocol.resolve(id: $0, using: system)
                    }
                    let stream = try await ClusterSystem.withCallTimeout(router.settings.callTimeout) {
                        try await api.generate(submitted)
                    }
                    // A model API on this node is read directly, in this task (its backend has timeouts of
                    // its own); one elsewhere may hang while its node stays alive: the stall timeout.
                    let settings = router.settings
                    downstream =
                        endpoint.node == system.node
                        ? stream.makeAsyncIterator()
                        : stream.makeAsyncIterator(
                            idleTimeout: settings.stallTimeout,
                            firstElementTimeout: settings.firstTokenStallTimeout(for: submitted))
                    return
                } catch {
                    try endAttempt(after: error)
                }
            }
        }

        /// The first endpoint of `ranked` whose breaker admits a request now.
        private func admitFirst(of ranked: [ClusterActorID]) -> (ClusterActorID, isProbe: Bool)? {
            for id in ranked {
                switch router.begin(id) {
                case .allow: return (id, false)
                case .probe: return (id, true)
                case .reject: continue
                }
            }
            return nil
        }

        static func isInvalidRequest(_ error: any Error) -> Bool {
            ServingError.code(of: error) == ServingError.invalidRequest
        }
    }
}

package import Logging
package import ParleyCluster
package import ParleyProtocol

/// The events of one generation relayed from a downstream hop with failover: opens the request on
/// the first candidate, forwards its events exactly once (``RelayState``), and when the producer's
/// node dies mid-stream (or the opening call fails in a retryable way) opens the same request on the
/// next candidate with a ``ResumePoint``, dropping repeated indexes. Cancelling the consuming task
/// cancels the current downstream stream, and with it the producer.
package struct FailoverStream: AsyncSequence, Sendable {
    package typealias Element = GenerationEvent
    package typealias Failure = any Error

    /// The candidates, in preference order, leaving out nodes that failed this request already.
    package typealias Candidates = @Sendable (_ excluding: Set<ClusterNode>) -> [ClusterActorID]
    /// Opens `request` on the candidate.
    package typealias Open = @Sendable (ClusterActorID, ModelRequest) async throws -> RemoteStream<GenerationEvent>

    let request: ModelRequest
    let maxAttempts: Int
    let backoff: Duration
    let openTimeout: Duration
    let logger: Logger
    let candidates: Candidates
    let open: Open
    /// What the producers are, for error messages (`worker pool`, `model proxy`).
    let producerKind: String

    /// - Parameters:
    ///   - request: the request; its `resume` is where the answer starts.
    ///   - maxAttempts: producers to try in all.
    ///   - backoff: pause before attempt n+1, times n.
    ///   - openTimeout: deadline of the call that opens a stream.
    package init(
        request: ModelRequest, producerKind: String, maxAttempts: Int, backoff: Duration, openTimeout: Duration,
        logger: Logger, candidates: @escaping Candidates, open: @escaping Open
    ) {
        self.producerKind = producerKind
        self.request = request
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.openTimeout = openTimeout
        self.logger = logger
        self.candidates = candidates
        self.open = open
    }

    package func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    package struct Iterator: AsyncIteratorProtocol {
        let stream: FailoverStream
        var relay: RelayState
        var current: RemoteStream<GenerationEvent>.Iterator?
        var currentNode: ClusterNode?
        var excluded: Set<ClusterNode> = []
        var lastError: (any Error)?

        init(stream: FailoverStream) {
            self.stream = stream
            self.relay = RelayState(resume: stream.request.resume, maxAttempts: stream.maxAttempts)
        }

        /// Tokens forwarded so far (answer-relative, the request's resume point included).
        package var tokenCount: Int { relay.nextIndex }

        /// Opens the stream on the first candidate that takes it, if not open yet (`next()` does
        /// that itself); throws what `next()` would.
        package mutating func open() async throws {
            if current == nil && !relay.isFinished { try await openNext() }
        }

        package mutating func next() async throws -> GenerationEvent? {
            while !relay.isFinished {
                if current == nil { try await openNext() }
                do {
                    guard let event = try await current?.next() else { throw RelayError.endedWithoutFinish }
                    switch relay.receive(event) {
                    case .drop: continue
                    case .forward(let event), .finish(let event): return event
                    }
                } catch {
                    try await recover(from: error)
                }
            }
            current = nil
            return nil
        }

        private mutating func openNext() async throws {
            var request = stream.request
            while true {
                let candidates = stream.candidates(excluded)
                guard let target = candidates.first else {
                    if let lastError { throw upstreamError(lastError) }
                    throw ServingError(ServingError.noBackend, "no \(stream.producerKind) is available")
                }
                relay.opening()
                request.resume = relay.resumePoint
                do {
                    let open = stream.open
                    let handle = try await ClusterSystem.withCallTimeout(stream.openTimeout) {
                        try await open(target, request)
                    }
                    current = handle.makeAsyncIterator()
                    currentNode = target.node
                    return
                } catch {
                    currentNode = target.node
                    try await recover(from: error)
                    if current != nil { return }
                }
            }
        }

        /// Decides after a failure: excludes the failed node and pauses (the caller then opens the next
        /// candidate), or throws the error upstream.
        private mutating func recover(from error: any Error) async throws {
            current = nil
            if Task.isCancelled { throw CancellationError() }
            lastError = error
            switch relay.failed(error) {
            case .fail:
                throw upstreamError(error)
            case .resubmit:
                if let node = currentNode { excluded.insert(node) }
                stream.logger.warning(
                    "producer failed, resubmitting",
                    metadata: [
                        "request.id": "\(stream.request.requestID)", "producer.node": "\(currentNode?.name ?? "-")",
                        "relay.tokens": "\(relay.nextIndex)", "relay.attempt": "\(relay.attempts + 1)",
                        "error": "\(error)",
                    ])
                currentNode = nil
                try await Task.sleep(for: stream.backoff * relay.attempts)
            }
        }

        /// The error reported upstream: relay failures become `no_backend`.
        private func upstreamError(_ error: any Error) -> any Error {
            guard error is RelayError else { return error }
            return ServingError(ServingError.noBackend, "every \(stream.producerKind) failed mid-stream")
        }
    }
}

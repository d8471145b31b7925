import CoreMetrics
import Distributed
import Logging
import ParleyCluster
import ParleyProtocol
import ServiceContextModule

/// One completion as the gateway relays it: each `next()` pulls the next event from the chosen
/// completion node's stream (no task or buffer in between), and a broken stream is resubmitted to
/// another node with the resume point (``CompletionRelayState``), so the caller sees every event
/// exactly once. Used by one task at a time (``EventIterator``); dropping it cancels the
/// completion's stream.
final class CompletionRelay {
    private let backend: ClusterCompletionBackend
    private var request: CompletionRequest
    private var state: CompletionRelayState
    private var failedNodes: Set<ClusterNode> = []
    private var stream: RemoteStream<CompletionEvent>.Iterator?
    private var target: ClusterActorID?
    private var done = false
    /// The context of the request that started the completion: a resubmission from the response's
    /// reader task carries the same trace.
    private let context: ServiceContext

    init(backend: ClusterCompletionBackend, request: CompletionRequest) {
        self.backend = backend
        self.request = request
        self.state = CompletionRelayState(maxAttempts: backend.streaming.maxAttempts)
        self.context = ServiceContext.current ?? .topLevel
    }

    func next() async throws -> CompletionEvent? {
        while !done {
            do {
                if stream == nil { stream = try await open() }
                guard let event = try await stream!.next() else {
                    throw ClusterError(.nodeDown, "the completion stream ended before its finish event")
                }
                guard case .forward(let forwarded) = state.received(event) else { continue }
                if case .finished = forwarded {
                    done = true
                    stream = nil
                }
                return forwarded
            } catch {
                stream = nil
                try await recover(from: error)
            }
        }
        return nil
    }

    /// Calls `complete` on a live completion node not known to have failed this request.
    private func open() async throws -> RemoteStream<CompletionEvent>.Iterator {
        let (backend, request, failedNodes) = (backend, request, failedNodes)
        let system = backend.system
        return try await ServiceContext.withValue(context) {
            let chosen = try await backend.chooseCompletionNode(for: request, excluding: failedNodes)
            target = chosen
            let service = try system.reference(to: chosen, as: (any CompletionServiceProtocol).self) {
                try $CompletionServiceProtocol.resolve(id: $0, using: system)
            }
            let stream = try await ClusterSystem.withCallTimeout(backend.streaming.startTimeout) {
                try await service.complete(request)
            }
            return stream.makeAsyncIterator()
        }
    }

    /// Resubmits after a failure, or throws what the caller should see.
    private func recover(from error: any Error) async throws {
        if Task.isCancelled {
            done = true
            throw CancellationError()
        }
        switch state.failed(error, userCancelled: false) {
        case .resubmit(let resume, let attempt):
            if let target { failedNodes.insert(target.node) }
            // Always marked as a resubmission, even when nothing reached the client: the failed
            // node may have stored the turn already, and the next one must not store it again in
            // a conversation the client was never told about.
            request.resume = resume ?? ResumePoint(tokenCount: 0, text: "")
            backend.metrics.failovers.increment()
            backend.logger.warning(
                "completion node failed, resubmitting",
                metadata: [
                    "request.id": "\(request.requestID)",
                    "error.code": "\((error as? ClusterError)?.code.rawValue ?? "-")",
                    "resume.tokens": "\(resume?.tokenCount ?? 0)", "attempt": "\(attempt)",
                ])
            do {
                try await Task.sleep(for: backend.streaming.retryBackoff * attempt)
            } catch {
                done = true
                throw CancellationError()
            }
        case .fail:
            done = true
            throw error
        }
    }
}

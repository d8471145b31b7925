import Logging
import ParleyCluster
import ParleyProtocol

/// Runs one generation through a model proxy (role `worker`): picks a proxy registered under
/// `ServiceKeys.modelProxy` (the one on this node first), calls `generate(request, region:)` and
/// relays its events. When the proxy's node dies mid-stream the request is resubmitted to another
/// proxy with a resume point, and repeated token indexes are dropped (``FailoverStream``).
struct Worker: Sendable {
    let system: ClusterSystem
    let configuration: WorkerPoolConfiguration
    /// The region the proxy should prefer (`ClusterSettings.region`).
    let region: String?
    let logger: Logger

    /// The events of `request`; the proxy is opened when iteration starts.
    func generate(_ request: ModelRequest) -> FailoverStream {
        let system = self.system
        let region = self.region
        return FailoverStream(
            request: request, producerKind: "model proxy", maxAttempts: configuration.proxyAttempts,
            backoff: .milliseconds(20), openTimeout: configuration.proxyCallTimeout, logger: logger,
            candidates: { excluding in
                CandidateOrder.order(
                    system.receptionist.lookup(ServiceKeys.modelProxy), local: system.node, key: request.requestID,
                    excluding: excluding)
            },
            open: { id, request in
                let proxy = try system.reference(to: id, as: (any ModelProxyProtocol).self) {
                    try $ModelProxyProtocol.resolve(id: $0, using: system)
                }
                return try await proxy.generate(request, region: region)
            })
    }
}

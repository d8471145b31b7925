import CoreMetrics
import ParleyCluster
public import Prometheus

/// The gateway's own metrics (besides Hummingbird's per-route request metrics).
struct GatewayMetrics: Sendable {
    /// Streams being written to clients now.
    let activeStreams: CoreMetrics.Meter
    /// Chat completions by outcome (`ok`, `error`, `client_gone`).
    let completions: @Sendable (String) -> CoreMetrics.Counter
    /// Tokens sent to clients.
    let tokens: CoreMetrics.Counter
    /// Time from the request to its first token.
    let timeToFirstToken: CoreMetrics.Timer
    /// Resubmissions to another completion node after a failure.
    let failovers: CoreMetrics.Counter
    /// The node's activity counters (role `gateway`), shown by the cluster view.
    let activity: NodeActivity

    init(factory: any MetricsFactory = MetricsSystem.factory, activity: NodeActivity = NodeActivity()) {
        self.activity = activity
        activeStreams = CoreMetrics.Meter(label: "parley_gateway_active_streams", dimensions: [], factory: factory)
        completions = { outcome in
            CoreMetrics.Counter(label: "parley_gateway_completions_total", dimensions: [("outcome", outcome)], factory: factory)
        }
        tokens = CoreMetrics.Counter(label: "parley_gateway_tokens_total", dimensions: [], factory: factory)
        timeToFirstToken = CoreMetrics.Timer(
            label: "parley_gateway_time_to_first_token_seconds", dimensions: [], factory: factory)
        failovers = CoreMetrics.Counter(label: "parley_gateway_failovers_total", dimensions: [], factory: factory)
    }

    /// A completion's answer began going to its client.
    func streamStarted() { activity.streamStarted(role: "gateway") }

    /// A completion's answer stopped going to its client (done, failed or gone).
    func streamEnded() { activity.streamEnded(role: "gateway") }

    /// One token sent to a client.
    func tokenSent() {
        tokens.increment()
        activity.recordTokens(1, role: "gateway")
    }
}

/// Prometheus as the process's metrics backend.
public enum GatewayMetricsBootstrap {
    /// Creates a Prometheus registry and installs it as the global `MetricsSystem` (call once per
    /// process, before anything records metrics). Pass the registry to ``GatewayService`` so
    /// `GET /metrics` serves it.
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import ParleyGateway
import Prometheus
import Testing

@Suite("Metrics")
struct MetricsTests {
    @Test func streamedTokensAndOutcomesShowInTheMetricsEndpoint() async throws {
        let registry = PrometheusCollectorRegistry()
        var configuration = GatewayConfiguration(port: 0)
        configuration.auth.apiKeys = [testKey: "alice"]
        let routes = try await GatewayRoutes(
            configuration: configuration,
            completions: ScriptedCompletions(script: ScriptedCompletions.answer(["a", "b", "c"])),
            conversations: RecordingConversations(), status: FixedStatus(),
            metrics: GatewayMetrics(factory: PrometheusMetricsFactory(registry: registry)), registry: registry,
            logger: Logger(label: "test"))
        let app = GatewayService.application(routes: routes, configuration: configuration, logger: Logger(label: "test"), onListening: { _ in })
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#))
            #expect(response.status == .ok)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("parley_gateway_tokens_total 3"))
            #expect(metrics.contains(#"parley_gateway_completions_total{outcome="ok"} 1"#))
            #expect(metrics.contains("parley_gateway_time_to_first_token_seconds_count 1"))
            #expect(metrics.contains("parley_gateway_active_streams 0"))
        }
    }
}

import Foundation
import Hummingbird
public import Logging
import NIOCore
public import ParleyCluster
public import Prometheus
public import ServiceLifecycle

/// The HTTP gateway of one node (role `gateway`): the OpenAI-compatible API, the conversation
/// endpoints, health, metrics and the web page, served by Hummingbird until graceful shutdown.
public struct GatewayService: Service {
    let application: Application<RouterResponder<GatewayRequestContext>>

    /// Builds the gateway over `system`; loads the API keys and the OIDC key set (failures are
    /// start-up errors). `metricsRegistry` is what `GET /metrics` serves (see
    /// ``GatewayMetricsBootstrap/bootstrapPrometheus()``). `onListening` is told the bound port.
    public init(
        system: ClusterSystem, configuration: GatewayConfiguration = GatewayConfiguration(),
        metricsRegistry: PrometheusCollectorRegistry? = nil, logger: Logger = Logger(label: "parley.gateway"),
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let metrics = GatewayMetrics(activity: system.activity)
        let routes = try await GatewayRoutes(
            configuration: configuration,
            completions: ClusterCompletionBackend(
                system: system, streaming: configuration.streaming, callTimeout: configuration.callTimeout,
                metrics: metrics, logger: logger),
            conversations: ClusterConversationBackend(system: system, callTimeout: configuration.callTimeout),
            status: ClusterNodeStatus(system: system), metrics: metrics, registry: metricsRegistry, logger: logger)
        application = Self.application(routes: routes, configuration: configuration, logger: logger, onListening: onListening)
    }

    static func application(
        routes: GatewayRoutes, configuration: GatewayConfiguration, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) -> Application<RouterResponder<GatewayRequestContext>> {
        Application(
            router: routes.makeRouter(),
            server: .loopBoundHTTP1(
                configuration: .init(
                    additionalChannelHandlers: [ExpectContinueHandler()],
                    idleTimeout: TimeAmount(configuration.idleTimeout))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "parley"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    public func run() async throws {
        try await application.run()
    }
}

extension GatewayRoutes {
    /// Routes with authentication loaded from `configuration.auth` and the web page from the bundle.
    init(
        configuration: GatewayConfiguration, completions: any CompletionBackend, conversations: any ConversationBackend,
        status: any NodeStatusProvider, metrics: GatewayMetrics, registry: PrometheusCollectorRegistry?, logger: Logger
    ) async throws {
        let apiKeys = try APIKeyStore(
            path: configuration.auth.apiKeysFile, fixedKeys: configuration.auth.apiKeys,
            reloadInterval: configuration.auth.apiKeysReloadInterval)
        var oidc: OIDCVerifier?
        if let settings = configuration.auth.oidc {
            oidc = try await OIDCVerifier(settings: settings, logger: logger)
        }
        if apiKeys.isEmpty, oidc == nil {
            logger.warning("no API keys and no OIDC configured: every /v1 request will be refused")
        }
        self.init(
            configuration: configuration, completions: completions, conversations: conversations, status: status,
            authenticator: Authenticator(apiKeys: apiKeys, oidc: oidc), metrics: metrics, registry: registry,
            web: WebAssets.load(), heartbeats: HeartbeatTicker(interval: configuration.streaming.heartbeatInterval),
            logger: logger)
    }
}

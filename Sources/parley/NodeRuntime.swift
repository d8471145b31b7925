import ArgumentParser
import Foundation
import Logging
import ParleyCluster
import ParleyCompletion
import ParleyConversation
import ParleyGateway
import ParleyModelAPI
import ParleyProxy
import Prometheus
import ServiceLifecycle
import UnixSignals

/// Composes a node: the cluster service first, then one service per role, run in one
/// `ServiceGroup` that leaves the cluster gracefully on SIGTERM/SIGINT.
enum NodeRuntime {
    /// Builds the role services of `roles` over `system`.
    static func services(
        roles: Set<String>, options: RoleOptions, system: ClusterSystem, logger: Logger,
        onHTTPListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> [any Service] {
        var services: [any Service] = []
        if roles.contains("conversation") {
            let data = options.data ?? "parley-data/\(system.node.name)"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            var configuration = ConversationStoreService.Configuration(dataDirectory: data)
            if let retention = options.generationLogRetention {
                configuration.generationLogs = GenerationLogRetention(retention: .milliseconds(Int64(retention * 1000)))
            }
            services.append(
                ConversationStoreService(system: system, configuration: configuration, logger: logger.role("conversation")))
        }
        if roles.contains("model") {
            // One model API (and one engine) per model the node serves.
            for configuration in try modelConfigurations(options) {
                services.append(ModelAPIService(system: system, configuration: configuration, logger: logger.role("model")))
            }
        }
        if roles.contains("proxy") {
            var settings = ProxySettings()
            if let stall = options.stallTimeout { settings.stallTimeout = .milliseconds(Int(stall * 1000)) }
            services.append(ModelProxyService(system: system, settings: settings, logger: logger.role("proxy")))
        }
        if roles.contains("worker") {
            var configuration = WorkerPoolConfiguration()
            if let slots = options.workerSlots { configuration.slotsPerModel = slots }
            services.append(WorkerService(system: system, configuration: configuration, logger: logger.role("worker")))
        }
        if roles.contains("completion") {
            var configuration = CompletionConfiguration()
            if let limit = options.rateLimit { configuration.rateLimits.requestsPerMinute = limit }
            services.append(
                CompletionRoleService(system: system, configuration: configuration, logger: logger.role("completion")))
        }
        if roles.contains("gateway") {
            services.append(
                try await GatewayService(
                    system: system, configuration: try gatewayConfiguration(options), metricsRegistry: metricsRegistry,
                    logger: logger.role("gateway"), onListening: onHTTPListening))
        }
        return services
    }

    /// The Prometheus registry `/metrics` serves; bootstrapped once per process.
    nonisolated(unsafe) static var metricsRegistry: PrometheusCollectorRegistry?

    /// The model APIs of a model node: the upstream's, or one per name in `--model` (comma-separated).
    static func modelConfigurations(_ options: RoleOptions) throws -> [ModelAPIService.Configuration] {
        if let upstream = options.upstream {
            let models = options.upstreamModels?.split(separator: ",").map(String.init) ?? []
            return [.init(backend: .upstream(.init(baseURL: upstream, models: models)))]
        }
        return RoleOptions.modelNames(options.model).map { model in
            if model == "synthetic" {
                return .init(
                    backend: .synthetic(
                        .init(
                            timeToFirstToken: .milliseconds(options.syntheticTTFT), tokensPerSecond: options.syntheticTPS,
                            promptProgressInterval: .milliseconds(500))))
            }
            return .init(backend: .builtin(model: model))
        }
    }

    static func gatewayConfiguration(_ options: RoleOptions, extraKeys: [String: String] = [:]) throws
        -> GatewayConfiguration
    {
        var configuration = GatewayConfiguration()
        if let http = options.http {
            guard let address = NodeAddress(parsing: http) else {
                throw ValidationError("--http must be HOST:PORT, got \(http)")
            }
            configuration.host = address.host
            configuration.port = address.port
        }
        configuration.auth.apiKeysFile = options.apiKeys
        configuration.auth.apiKeys = extraKeys
        if let idle = options.httpIdleTimeout { configuration.idleTimeout = .milliseconds(Int64(idle * 1_000)) }
        switch (options.oidcIssuer, options.oidcAudience, options.oidcJWKS) {
        case (nil, nil, nil): break
        case (let issuer?, let audience?, let jwks?):
            let source: GatewayConfiguration.OIDC.KeySource = jwks.hasPrefix("https://") || jwks.hasPrefix("http://")
                ? .url(jwks) : .file(jwks)
            configuration.auth.oidc = .init(keys: source, issuer: issuer, audience: audience)
        default:
            throw ValidationError("--oidc-issuer, --oidc-audience and --oidc-jwks go together")
        }
        return configuration
    }

    /// Runs the cluster service and `services` until SIGTERM/SIGINT, then shuts down gracefully
    /// (the node announces that it leaves, the roles drain) within bounded time.
    static func run(system: ClusterSystem, services: [any Service], logger: Logger) async throws {
        FaultControl.installIfRequested(system: system, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: ClusterService(system: system), successTerminationBehavior: .gracefullyShutdownGroup)]
                    + services.map { .init(service: $0, successTerminationBehavior: .ignore) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        try await group.run()
    }
}

extension Logger {
    /// A copy with `node.role` metadata.
    func role(_ role: String) -> Logger {
        var logger = self
        logger[metadataKey: "node.role"] = "\(role)"
        return logger
    }
}

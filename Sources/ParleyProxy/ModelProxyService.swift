public import Logging
public import ParleyCluster
import ParleyProtocol
public import ServiceLifecycle

/// The `proxy` role of a node as a swift-service-lifecycle `Service`: hosts one ``ModelProxy``,
/// registers it under `ServiceKeys.modelProxy`, and keeps its endpoint table current until
/// graceful shutdown (or cancellation); then it withdraws the registration.
public struct ModelProxyService: Service {
    public let system: ClusterSystem
    public let settings: ProxySettings
    private let logger: Logger
    private let ready: (@Sendable (ModelProxy) -> Void)?

    /// - Parameter ready: called once the proxy is hosted (it registers as soon as a model API is known).
    public init(
        system: ClusterSystem, settings: ProxySettings = .init(), logger: Logger = Logger(label: "parley.proxy"),
        ready: (@Sendable (ModelProxy) -> Void)? = nil
    ) {
        self.system = system
        self.settings = settings
        self.logger = logger
        self.ready = ready
    }

    public func run() async throws {
        let router = Router(system: system, settings: settings, logger: logger)
        let proxy = ModelProxy(actorSystem: system, router: router)
        let registration = system.receptionist.register(proxy, key: ServiceKeys.modelProxy, once: ServiceKeys.modelAPI)
        logger.info("model proxy serving", metadata: ["actor.id": "\(proxy.id)"])
        ready?(proxy)
        await cancelWhenGracefulShutdown {
            await router.follow()
        }
        registration?.cancel()
        system.receptionist.remove(proxy, key: ServiceKeys.modelProxy)
        logger.info("model proxy stopped", metadata: ["actor.id": "\(proxy.id)"])
        withExtendedLifetime(proxy) {}
    }
}

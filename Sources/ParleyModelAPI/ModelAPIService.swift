public import Logging
public import ParleyCluster
public import ParleyEngine
import ParleyProtocol
public import ServiceLifecycle

/// The `model` role of a node as a swift-service-lifecycle `Service`: builds the configured
/// backend, hosts one ``ModelAPI`` actor, registers it with the receptionist under
/// `ServiceKeys.modelAPI` and `ServiceKeys.modelAPI(model)` for every model it serves, and keeps
/// it alive until graceful shutdown; then it withdraws the registrations and shuts the backend down.
public struct ModelAPIService: Service {
    /// Which backend a model node runs, and its settings. Default: the built-in engine with `smollm2`.
    public struct Configuration: Sendable {
        /// The backends a model node can run.
        public enum Backend: Sendable {
            /// The built-in engine with a known model name (`smollm2`) or a GGUF file path
            /// (`--model`). The served name is the known name, or the file name without `.gguf`.
            case builtin(model: String)
            /// An OpenAI-compatible server (`--upstream URL`).
            case upstream(UpstreamBackend.Configuration)
            /// The deterministic load-test model (`--model synthetic`).
            case synthetic(SyntheticModel.Configuration)
        }

        /// The backend. Default `.builtin(model: "smollm2")`.
        public var backend: Backend
        /// Engine settings for `.builtin`. Default: the engine's defaults.
        public var engine: Engine.Configuration
        /// Where `.builtin` finds or fetches known models. Default: `$PARLEY_HOME` or `~/.cache/parley`.
        public var modelStore: ModelStore.Configuration

        /// Creates a configuration; every argument has the documented default.
        public init(
            backend: Backend = .builtin(model: "smollm2"), engine: Engine.Configuration = .init(),
            modelStore: ModelStore.Configuration = .init()
        ) {
            self.backend = backend
            self.engine = engine
            self.modelStore = modelStore
        }
    }

    public let system: ClusterSystem
    public let configuration: Configuration
    /// Observes the hosted actor's generations (in-flight count, start and end events).
    public let tracker: GenerationTracker
    private let logger: Logger
    private let ready: (@Sendable (ModelAPI) -> Void)?

    /// - Parameter ready: called once the actor is registered (e.g. to print its id or wire it locally).
    public init(
        system: ClusterSystem, configuration: Configuration = .init(), tracker: GenerationTracker = GenerationTracker(),
        logger: Logger = Logger(label: "parley.model"), ready: (@Sendable (ModelAPI) -> Void)? = nil
    ) {
        self.system = system
        self.configuration = configuration
        self.tracker = tracker
        self.logger = logger
        self.ready = ready
    }

    public func run() async throws {
        let backend = try await makeBackend()
        let api = ModelAPI(actorSystem: system, backend: backend, tracker: tracker)
        let models = backend.models.map(\.id)
        system.receptionist.register(api, key: ServiceKeys.modelAPI)
        for model in models { system.receptionist.register(api, key: ServiceKeys.modelAPI(model)) }
        logger.info(
            "model API serving", metadata: ["actor.id": "\(api.id)", "model.ids": "\(models.joined(separator: ","))"])
        ready?(api)
        try? await gracefulShutdown()
        system.receptionist.remove(api, key: ServiceKeys.modelAPI)
        for model in models { system.receptionist.remove(api, key: ServiceKeys.modelAPI(model)) }
        await backend.shutdown()
        logger.info("model API stopped", metadata: ["actor.id": "\(api.id)"])
        withExtendedLifetime(api) {}
    }

    /// Builds the configured backend (loading the engine may fetch the model on first use).
    public func makeBackend() async throws -> any ModelBackend {
        switch configuration.backend {
        case .synthetic(let synthetic):
            return SyntheticModel(configuration: synthetic)
        case .upstream(let upstream):
            return try await UpstreamBackend.connect(upstream)
        case .builtin(let model):
            let store = ModelStore(configuration: configuration.modelStore)
            let path = try store.resolve(model)
            let engine = try Engine(modelPath: path, configuration: configuration.engine)
            return EngineBackend(engine: engine, modelName: Self.servedName(model))
        }
    }

    /// The name a built-in model is served under: a known name as is, a path's file name without `.gguf`.
    public static func servedName(_ model: String) -> String {
        guard model.contains("/") else { return model }
        let file = model.split(separator: "/").last.map(String.init) ?? model
        return file.hasSuffix(".gguf") ? String(file.dropLast(5)) : file
    }
}

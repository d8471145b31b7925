import ArgumentParser
import Foundation
import Logging
import ParleyCluster
import ParleyGateway
import ParleyModelAPI
import ParleyProtocol
import ServiceLifecycle

/// `parley dev`: every role in one process, the built-in model, data under one folder.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev", abstract: "Run every role in one process: a complete Parley on this machine.")

    @Option(help: "HTTP listen address HOST:PORT.") var http: String = "127.0.0.1:8080"
    @Option(help: "Data folder.") var data: String = ".parley-dev"
    @Option(
        help: """
            Model: smollm2 (default), gemma3-270m, synthetic, or a GGUF file path; several separated by \
            commas are served side by side (the web page's picker lists them).
            """)
    var model: String = "smollm2"
    @Option(
        name: .customLong("api-key"),
        help: "The API key to accept (unless given: the one kept in the data folder, made and kept there on the first run).")
    var apiKey: String?
    @Option(
        name: .customLong("synthetic-ttft"),
        help: "Synthetic model: time to first token, in milliseconds (reported as prompt progress every 500 ms).")
    var syntheticTTFT: Int = 20
    @Option(name: .customLong("synthetic-tps"), help: "Synthetic model: tokens per second.") var syntheticTPS: Double = 100
    @Option(name: .customLong("rate-limit"), help: "Requests per minute per user (default 60).") var rateLimit: Int?
    @Option(name: .customLong("api-keys"), help: "More API keys: a file of `KEY USER-ID` lines, # comments.")
    var apiKeys: String?
    @Option(name: .customLong("worker-slots"), help: "Inference slots per model (default 8).")
    var workerSlots: Int?
    @Option(
        name: .customLong("generation-log-retention"),
        help: "Seconds the generation log of a finished answer is kept for resumes and repeats (default 86400).")
    var generationLogRetention: Double?
    @OptionGroup var logOptions: LogOptions

    func run() async throws {
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let key = try apiKey ?? Self.keptKey(in: data)
        var options = try RoleOptions.parse([])
        options.http = http
        options.data = data
        options.model = model
        options.syntheticTTFT = syntheticTTFT
        options.syntheticTPS = syntheticTPS
        options.rateLimit = rateLimit
        options.apiKeys = apiKeys
        options.workerSlots = workerSlots
        options.generationLogRetention = generationLogRetention
        try options.validate()
        NodeRuntime.metricsRegistry = GatewayMetricsBootstrap.bootstrapPrometheus()
        let logger = logOptions.logger(label: "parley.dev", defaultLevel: .notice)
        var settings = ClusterSettings(
            name: "dev", listen: NodeAddress(host: "127.0.0.1", port: 0),
            roles: NodeRoles.all)
        settings.apiVersion = parleyAPIVersion
        let system = try await ClusterSystem.start(settings: settings, logger: logger)
        system.allowParleyProtocols()
        let services: [any Service]
        do {
            var roleServices = try await NodeRuntime.services(
                roles: ["conversation", "model", "proxy", "worker", "completion"], options: options, system: system,
                logger: logger)
            let gateway = try await GatewayService(
                system: system,
                configuration: try NodeRuntime.gatewayConfiguration(options, extraKeys: [key: "dev-user"]),
                metricsRegistry: NodeRuntime.metricsRegistry, logger: logger.role("gateway"),
                onListening: { [model] port in
                    // Announced once a chat can be answered: the completion role registers when its
                    // worker pool, proxy and model have (the built-in model takes a moment to load),
                    // and every model named is served (so the web page's picker lists them all).
                    Task {
                        _ = await system.receptionist.lookup(ServiceKeys.completion, waitingUpTo: .seconds(60))
                        for name in RoleOptions.modelNames(model) {
                            let key = ServiceKeys.modelAPI(ModelAPIService.servedName(name))
                            _ = await system.receptionist.lookup(key, waitingUpTo: .seconds(120))
                        }
                        let host = NodeAddress(parsing: http)?.host ?? "127.0.0.1"
                        print("Parley is running at http://\(host):\(port)/")
                        print("API key: \(key)")
                        print("Try: parley chat --url http://\(host):\(port) --api-key \(key) \"Hello!\"")
                        fflush(nil)
                    }
                })
            roleServices.append(gateway)
            services = roleServices
        } catch {
            await system.shutdown()
            throw error
        }
        try await NodeRuntime.run(system: system, services: services, logger: logger)
    }

    /// The API key kept in the (existing) data folder as `dev-api-key`: made on the first run
    /// (readable by its owner only), so a restarted `parley dev` accepts the key its clients
    /// already have. A key file that cannot be read is an error, never replaced.
    static func keptKey(in folder: String) throws -> String {
        let path = URL(fileURLWithPath: folder).appendingPathComponent("dev-api-key").path
        if FileManager.default.fileExists(atPath: path) {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read the API key in \(path): \(error.localizedDescription)")
            }
            let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !key.isEmpty, !key.contains(where: \.isWhitespace) else {
                throw ValidationError("\(path) holds no API key: delete it to make a new one, or pass --api-key")
            }
            return key
        }
        let key = generateKey()
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw ValidationError("cannot write the API key to \(path): is the data folder writable?") }
        return key
    }

    /// A random API key: `pk-` and 32 hex digits.
    static func generateKey() -> String {
        "pk-" + (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

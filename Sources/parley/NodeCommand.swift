import ArgumentParser
import Foundation
import Logging
import ParleyCluster
import ParleyGateway
import ParleyProtocol
import ServiceLifecycle
import Synchronization

/// `parley node`: one cluster node with the given roles.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run one cluster node with one or more roles.")

    @Option(help: "Node name, unique in the cluster.") var name: String
    @Option(help: "Comma-separated roles: gateway, completion, worker, proxy, model, conversation.")
    var roles: String = ""
    @Option(help: "Cluster listen address HOST:PORT (port 0 picks a free port).") var listen: String = "127.0.0.1:0"
    @Option(help: "Seed node HOST:PORT to join through (repeatable).") var seed: [String] = []
    @Option(help: "Address other nodes use to reach this one, when it differs from --listen.") var advertise: String?
    @Option(help: "Region label used for routing preferences.") var region: String = "default"
    @Option(name: .customLong("cluster-key"), help: "File holding the shared cluster secret.") var clusterKey: String?
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain for mutual TLS between nodes.") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "PEM private key for mutual TLS.") var tlsKey: String?
    @Option(name: .customLong("tls-ca"), help: "PEM trust roots for mutual TLS.") var tlsCA: String?
    @OptionGroup var logOptions: LogOptions
    @Flag(help: "Exit (status 75) when the cluster declares this node dead, for a supervisor that restarts it; by default the node starts again under a new identity by itself.")
    var exitWhenDeclaredDead = false
    @OptionGroup var roleOptions: RoleOptions

    func run() async throws {
        ProcessRestart.recordStartingDescriptors()
        let settings = try clusterSettings()
        NodeRuntime.metricsRegistry = GatewayMetricsBootstrap.bootstrapPrometheus()
        let logger = logOptions.logger(label: "parley.node", defaultLevel: .info)
        let system = try await ClusterSystem.start(settings: settings, logger: logger)
        system.allowParleyProtocols()
        let services: [any Service]
        let httpPort = Mutex<Int?>(nil)
        do {
            services = try await NodeRuntime.services(
                roles: Set(settings.roles), options: roleOptions, system: system, logger: logger,
                onHTTPListening: { port in
                    httpPort.withLock { $0 = port }
                    print("parley node \(settings.name) http on http://\(settings.listen.host):\(port)")
                    fflush(nil)
                })
        } catch {
            await system.shutdown()
            throw error
        }
        // The ready line: scripts and tests wait for it.
        print(
            "parley node \(system.node.name) listening on \(system.node.address) uid \(String(system.node.uid, radix: 16)) roles \(settings.roles.joined(separator: ","))"
        )
        fflush(nil)
        do {
            try await NodeRuntime.run(system: system, services: services, logger: logger)
        } catch where system.wasDeclaredDead {
            // The system stopped itself: what follows decides how the node goes on.
        }
        if system.wasDeclaredDead {
            // The same addresses again, also those that were picked (port 0): the last of a repeated option counts.
            var arguments = CommandLine.arguments
            if settings.listen.port == 0 { arguments += ["--listen", "\(settings.listen.host):\(system.node.address.port)"] }
            if let http = roleOptions.http, http.hasSuffix(":0"), let port = httpPort.withLock({ $0 }) {
                arguments += ["--http", "\(http.dropLast(2)):\(port)"]
            }
            try await goOnAfterBeingDeclaredDead(arguments: arguments, logger)
        }
    }

    /// The cluster declared this incarnation dead (it was unreachable for too long: frozen, paused,
    /// cut off) and the node stopped. Its roles have moved to other nodes; it comes back as a new
    /// member after a pause, unless `--exit-when-declared-dead` leaves that to a supervisor.
    private func goOnAfterBeingDeclaredDead(arguments: [String], _ logger: Logger) async throws {
        guard !exitWhenDeclaredDead else {
            logger.error("the cluster declared this node dead; exiting (--exit-when-declared-dead)")
            throw ExitCode(EX_TEMPFAIL)
        }
        // A pause, so a node that keeps being declared dead does not restart in a tight loop; a
        // SIGTERM meanwhile ends it.
        ProcessRestart.restoreDefaultSignals()
        try await Task.sleep(for: .seconds(1))
        logger.warning("the cluster declared this node dead; starting again under a new identity")
        let error = ProcessRestart.replaceProcess(arguments: arguments)
        logger.critical("could not start again: \(String(cString: strerror(error)))")
        throw ExitCode(EX_TEMPFAIL)
    }

    func clusterSettings() throws -> ClusterSettings {
        guard let listenAddress = NodeAddress(parsing: listen) else {
            throw ValidationError("--listen must be HOST:PORT, got \(listen)")
        }
        let seeds = try seed.map { text in
            guard let address = NodeAddress(parsing: text) else { throw ValidationError("--seed must be HOST:PORT, got \(text)") }
            return address
        }
        let roleList = roles.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let known = Set(NodeRoles.all)
        if let unknown = roleList.first(where: { !known.contains($0) }) {
            throw ValidationError("unknown role \(unknown); roles are \(known.sorted().joined(separator: ", "))")
        }
        var settings = ClusterSettings(name: name, listen: listenAddress, roles: roleList, seeds: seeds)
        settings.region = region
        settings.advertisedHost = advertise
        settings.apiVersion = parleyAPIVersion
        if let clusterKey {
            settings.clusterKey = try ClusterKeyFile.read(clusterKey)
        }
        switch (tlsCert, tlsKey, tlsCA) {
        case (nil, nil, nil): break
        case (let cert?, let key?, let ca?):
            settings.tls = try ClusterSettings.TLS(certificateFile: cert, keyFile: key, caFile: ca)
        default:
            throw ValidationError("--tls-cert, --tls-key and --tls-ca go together")
        }
        return settings
    }
}

/// Reads a cluster key file: its bytes with surrounding whitespace removed; at least 16 bytes.
enum ClusterKeyFile {
    static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the cluster key file \(path)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count >= 16 else {
            throw ValidationError("the cluster key in \(path) is shorter than 16 bytes")
        }
        return Array(text.utf8)
    }
}

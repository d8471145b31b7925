import Foundation
public import Logging
public import ParleyCluster
import ParleyProtocol
public import ServiceLifecycle

/// The `conversation` role of a node: opens the node's database under its data folder, hosts the
/// `ConversationStore` actor and its replica peer, registers them with the receptionist, keeps the
/// node's partitions in step with the other replicas (anti-entropy), marks answers whose producer
/// went silent as `interrupted` (so none stays "streaming" forever), and prunes the generation logs of
/// answers finished longer ago than their retention.
public struct ConversationStoreService: Service {
    /// Settings of the role, every field defaulted.
    public struct Configuration: Sendable {
        /// Folder of the node's data; the database is `conversations.sqlite` inside it.
        public var dataDirectory: String
        /// A streaming answer with no new event for this long is marked interrupted (default 60 s).
        public var orphanTimeout: Duration = .seconds(60)
        /// A streaming answer whose producer is not a live member is marked interrupted once it
        /// has had no new event for this long (default 5 s): a completion node restarted under
        /// its name may serve before this node has seen it come back.
        public var producerGoneGrace: Duration = .seconds(5)
        /// How often orphaned answers are looked for (default 10 s).
        public var orphanSweepInterval: Duration = .seconds(10)
        /// How long the generation logs of finished answers are kept (default 24 hours, pruned
        /// every 10 minutes); the same on every conversation node.
        public var generationLogs = GenerationLogRetention()
        /// Replicas per partition (default 3; fewer when fewer `conversation` nodes are alive).
        public var replicationFactor: Int = 3
        /// Pause between anti-entropy rounds (default 2 s).
        public var antiEntropyInterval: Duration = .seconds(2)

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }
    }

    let system: ClusterSystem
    let configuration: Configuration
    let logger: Logger

    public init(system: ClusterSystem, configuration: Configuration, logger: Logger) {
        self.system = system
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        let path = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("conversations.sqlite").path
        let database = try ConversationDatabase(configuration: .init(path: path), logger: logger)
        var settings = ReplicationSettings()
        settings.replicationFactor = configuration.replicationFactor
        settings.antiEntropyInterval = configuration.antiEntropyInterval
        settings.generationLogRetention = configuration.generationLogs.retention
        let node = ConversationNode(system: system, database: database, settings: settings, logger: logger)
        // Runs past the retention are refused from the start, before anti-entropy pulls anything.
        database.refuseGenerations(finishedBefore: configuration.generationLogs.cutoff(at: Date()))
        logger.info("conversation store ready", metadata: ["data.path": "\(path)"])
        // Runs until the service group shuts down; the actors stay alive as long as this loop.
        try? await cancelWhenGracefulShutdown {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await node.router.runAntiEntropy() }
                group.addTask {
                    while true {
                        try await Task.sleep(for: configuration.orphanSweepInterval)
                        await sweepOrphans(node)
                    }
                }
                group.addTask {
                    let logs = configuration.generationLogs
                    while true {
                        await pruneGenerationLogs(database, before: logs.cutoff(at: Date()))
                        try await Task.sleep(for: .seconds(max(0, logs.nextPrune(after: Date()).timeIntervalSinceNow)))
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        }
        withExtendedLifetime(node) {}
    }

    /// Drops the logs of answers finished before `cutoff` (every replica does the same, at the
    /// same moments; their answers stay in their conversations).
    private func pruneGenerationLogs(_ database: ConversationDatabase, before cutoff: Date) async {
        do {
            try await database.pruneGenerations(finishedBefore: cutoff)
        } catch {
            logger.warning("pruning generation logs failed", metadata: ["error.type": "\(type(of: error))"])
        }
    }

    /// Marks streaming answers with no event for `orphanTimeout` as interrupted: the partition's
    /// primary does it, as a replicated write (every replica holds the run).
    private func sweepOrphans(_ node: ConversationNode) async {
        do {
            // A producer is a completion node's name; runs of nodes that are no longer members
            // (or that went silent for the timeout) are orphans.
            let live = Set(
                system.members.filter { $0.status == .alive || $0.status == .suspect }.map(\.node.name))
            let orphans = try await node.database.orphanedGenerations(
                liveProducers: live, idleTimeout: configuration.orphanTimeout, goneGrace: configuration.producerGoneGrace)
            var interrupted = 0
            for run in orphans where node.router.isPrimary(owner: run.owner) {
                _ = try await node.router.replicatedWrite(owner: run.owner) {
                    try await node.database.finishGeneration(owner: run.owner, requestID: run.requestID, status: .interrupted)
                }
                interrupted += 1
            }
            if interrupted > 0 {
                logger.notice("marked silent answers interrupted", metadata: ["count": "\(interrupted)"])
            }
        } catch {
            logger.warning("orphan sweep failed", metadata: ["error.type": "\(type(of: error))"])
        }
    }
}

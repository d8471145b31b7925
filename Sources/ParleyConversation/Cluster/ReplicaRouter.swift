import Distributed
package import Logging
package import ParleyCluster
import ParleyProtocol
import Synchronization

/// Placement and write replication of one conversation node.
///
/// An owner's conversations live in partition `partition(ofOwner:)`; the partition's replicas are
/// the first `replicationFactor` nodes of the `conversation` ring for its key (fewer when fewer
/// are alive). A write is applied locally by a replica (the coordinator), then its rows are pushed
/// to the other replicas (through per-replica lanes that carry many concurrent writes per call);
/// it is acknowledged once one other replica has them durably, or, when no other replica takes
/// them, with the rows stored as hints (in SQLite) and handed to the missing replicas when they are
/// back. Anti-entropy (``runAntiEntropy()``) repairs whatever pushes and hints missed.
package final class ReplicaRouter: Sendable {
    let system: ClusterSystem
    let database: ConversationDatabase
    let settings: ReplicationSettings
    let logger: Logger
    /// Per-replica pipelines of pushed writes (many writes per remote call).
    let lanes: ReplicaPushLanes
    /// The ring and partition placement of the live members last seen.
    private let placementCache = Mutex<Placement?>(nil)
    /// Anti-entropy cursors: the peer database's change sequence pulled so far, per partition
    /// (also stored, see ``ConversationDatabase/saveReplicaCursor(peer:partition:seq:)``).
    let cursors = Mutex<[PeerPartition: Int64]>([:])
    /// Peer databases whose stored cursors are loaded into `cursors`, and the database identity
    /// of each peer incarnation seen.
    let peerDatabases = Mutex<(loaded: Set<String>, byUID: [UInt64: String])>(([], [:]))
    /// Partitions found differing from a peer's and not pulled yet (see
    /// ``shouldPullNow(_:remote:local:now:)``), with the peer's digest last seen and since when.
    let deferredPulls = Mutex<[PeerPartition: DeferredPull]>([:])
    /// Counters for tests and logs.
    let stats = Mutex(Stats())

    struct PeerPartition: Hashable {
        /// The peer's database identity.
        var peer: String
        var partition: Int
    }

    /// What replication did so far.
    package struct Stats: Sendable, Hashable {
        package var pushesAcknowledged = 0
        package var pushesFailed = 0
        /// Remote calls that carried the acknowledged pushes.
        package var pushCalls = 0
        package var hintsDelivered = 0
        package var snapshotChunksApplied = 0
        package var changeRowsPulled = 0
        package var readRepairs = 0
        /// Differing partitions whose pull anti-entropy put off (writes were still arriving).
        package var pullsDeferred = 0
        /// Anti-entropy rounds finished (with every peer, whether or not a call failed).
        package var antiEntropyRounds = 0
        /// Peer incarnations found keeping generation logs for another time than this node.
        package var retentionMismatches = 0
    }

    package init(system: ClusterSystem, database: ConversationDatabase, settings: ReplicationSettings, logger: Logger) {
        self.system = system
        self.database = database
        self.settings = settings
        self.logger = logger
        let reference = RouterReference()
        self.lanes = ReplicaPushLanes(
            maxInFlight: settings.pushCallsInFlightPerPeer, maxCallBytes: settings.pushCallBytes
        ) { node, batches in
            await reference.router?.send(batches, to: node) ?? false
        }
        reference.router = self
    }

    package var currentStats: Stats { stats.withLock { $0 } }

    // MARK: Placement

    /// The replicas of `partition` as the current ring places them (preference order).
    func replicas(ofPartition partition: Int, ring: HashRing? = nil) -> [ClusterNode] {
        if let ring {
            return ring.nodes(for: ReplicationSettings.ringKey(partition: partition), count: max(1, settings.replicationFactor))
        }
        return placement { $0.replicas(of: partition, count: max(1, settings.replicationFactor)) }
    }

    /// The ring of the role's live members now.
    func currentRing() -> HashRing {
        placement { $0.ring }
    }

    /// Runs `body` on the placement of the current live members, rebuilt only when they changed
    /// (building a ring hashes every virtual node: too costly for every write). The live members
    /// are listed again only when membership's version moved.
    private func placement<T>(_ body: (inout Placement) -> T) -> T {
        let (version, members) = system.versionedMembers
        return placementCache.withLock { cache in
            if cache?.membersVersion != version {
                let live = members.filter { !$0.status.isTerminal && $0.hasRole(settings.role) }.map(\.node).sorted()
                if cache?.nodes != live {
                    cache = Placement(nodes: live, ring: HashRing(nodes: live))
                }
                cache!.membersVersion = version
            }
            return body(&cache!)
        }
    }

    /// Where a call for `owner` runs: `nil` to run here (this node is a replica, or no ring is
    /// known, e.g. a node without membership), else the replicas to forward to, in order. For a
    /// `primaryOnly` call a replica forwards to the primary alone (and runs the call itself when
    /// the primary does not answer, see ``isReplica(owner:)``), so forwarding never loops.
    func forwardTargets(owner: String, primaryOnly: Bool) -> [ClusterNode]? {
        let replicas = replicas(ofPartition: database.partition(ofOwner: owner))
        if replicas.isEmpty { return nil }
        if primaryOnly ? replicas.first == system.node : replicas.contains(system.node) { return nil }
        if primaryOnly && replicas.contains(system.node) { return [replicas[0]] }
        return replicas.filter { $0 != system.node }
    }

    /// Whether this node holds a replica of `owner`'s partition.
    func isReplica(owner: String) -> Bool {
        replicas(ofPartition: database.partition(ofOwner: owner)).contains(system.node)
    }

    /// Whether this node is the primary replica of `owner`'s partition (or no ring is known).
    func isPrimary(owner: String) -> Bool {
        let replicas = replicas(ofPartition: database.partition(ofOwner: owner))
        return replicas.isEmpty || replicas[0] == system.node
    }

    // MARK: Writes

    /// Runs a local write of `owner`'s partition, then replicates the rows it changed (recorded
    /// inside its transaction, see ``ChangeCapture``); returns as the type's documentation says.
    func replicatedWrite<T: Sendable>(owner: String, _ write: @Sendable () async throws -> T) async throws -> T {
        let partition = database.partition(ofOwner: owner)
        let capture = ChangeCapture()
        let result = try await ChangeCapture.$current.withValue(capture) { try await write() }
        let batch = capture.batch(partition: partition)
        if !batch.isEmpty {
            let targets = replicas(ofPartition: partition).filter { $0 != system.node }
            for piece in ReplicaBatchWire.split(batch) {
                await push(piece, to: targets)
            }
        }
        return result
    }

    /// Pushes `batch` to every target through their lanes; returns after the first durable
    /// acknowledgement, or after every target failed (each failure is then a stored hint).
    /// Slower pushes finish in the background.
    func push(_ batch: ReplicaBatchWire, to targets: [ClusterNode]) async {
        guard !targets.isEmpty else { return }
        let outcome = FirstSuccess(total: targets.count)
        for target in targets {
            lanes.enqueue(batch, to: target) { outcome.report($0) }
        }
        _ = await outcome.wait()
    }

    /// One call of a lane: delivers the batches of many writes; on failure stores them as hints
    /// for the target's address (durable before the writes learn the outcome).
    func send(_ batches: [ReplicaBatchWire], to target: ClusterNode) async -> Bool {
        do {
            let peer = try ReplicaPeer.on(target, system: system)
            try await ClusterSystem.withCallTimeout(settings.pushTimeout) { try await peer.applyAll(batches) }
            stats.withLock {
                $0.pushesAcknowledged += batches.count
                $0.pushCalls += 1
            }
            return true
        } catch {
            stats.withLock { $0.pushesFailed += batches.count }
            do {
                try await database.storeHints(batches, for: target.address.description, limit: settings.maxHintsPerNode)
            } catch {
                logger.warning("cannot store hints", metadata: ["peer": "\(target)", "error": "\(error)"])
            }
            logger.debug("push to a replica failed; kept as hints", metadata: ["peer": "\(target)"])
            return false
        }
    }

    /// Hands stored hints to the replicas that are alive again (oldest first, in pages; stops at
    /// a replica's first failure). A hint is deleted once the replica took it durably.
    func deliverHints(ring: HashRing) async {
        guard let addresses = try? await database.hintAddresses() else { return }
        for address in addresses {
            guard let node = ring.nodes.first(where: { $0.address.description == address && $0 != system.node }) else {
                continue
            }
            while !Task.isCancelled {
                guard let hints = try? await database.hints(for: address, limit: settings.hintsPerDelivery),
                    !hints.isEmpty
                else { break }
                do {
                    let peer = try ReplicaPeer.on(node, system: system)
                    try await ClusterSystem.withCallTimeout(settings.pushTimeout) {
                        try await peer.applyAll(hints.map(\.batch))
                    }
                    try await database.deleteHints(hints.map(\.id))
                    stats.withLock { $0.hintsDelivered += hints.count }
                } catch {
                    break
                }
            }
        }
    }

    /// Writes waiting as hints, over all replicas.
    package func pendingHints() async throws -> Int { try await database.pendingHintCount() }

    // MARK: Forwarding

    /// Runs `call` on the first of `targets` that answers; transport failures try the next one.
    func forward<T: Sendable>(
        to targets: [ClusterNode], storePath: String,
        _ call: @Sendable ($ConversationStoreProtocol) async throws -> T
    ) async throws -> T {
        var lastError: (any Error)?
        for target in targets {
            do {
                let store = try $ConversationStoreProtocol.resolve(
                    id: ClusterActorID(node: target, path: storePath), using: system)
                return try await ClusterSystem.withCallTimeout(settings.forwardTimeout) { try await call(store) }
            } catch let error as ClusterError where Self.isTransportFailure(error) {
                lastError = error
            }
        }
        throw lastError ?? ClusterError(.nodeDown, "no replica of the partition is reachable")
    }

    static func isTransportFailure(_ error: ClusterError) -> Bool {
        let transient: [ClusterError.Code] = [.nodeDown, .timedOut, .actorNotFound, .shutDown, .overloaded]
        return transient.contains(error.code)
    }

    // MARK: Read repair

    /// Fetches a generation this replica does not know (it was down when the run started, or it is
    /// the primary back from a restart) from the other replicas of its owner's partition. True when
    /// one had it and it is now stored here (a run this replica pruned, or removed with its
    /// conversation, is not taken back).
    func repairGeneration(owner: String, requestID: String) async -> Bool {
        let partition = database.partition(ofOwner: owner)
        for other in replicas(ofPartition: partition) where other != system.node {
            do {
                let peer = try ReplicaPeer.on(other, system: system)
                let theirs = try await ClusterSystem.withCallTimeout(settings.readRepairTimeout) {
                    try await peer.generationRows(requestID: requestID)
                }
                var batch = try theirs.batch()
                guard !batch.generationRuns.isEmpty else { continue }
                batch.partition = partition
                let applied = try await database.apply(batch)
                stats.withLock { $0.readRepairs += 1 }
                guard applied.generationRunsChanged > 0 else { continue }
                return true
            } catch {
                continue
            }
        }
        return false
    }

    /// Read repair of one conversation against the next replica that answers (one that cannot be
    /// reached — just killed, say — is skipped) or, with `everyReplica` (a conversation missing
    /// here), against each other replica until one had rows to give. True when rows were fetched.
    func repairConversation(owner: String, id: String, everyReplica: Bool = false) async -> Bool {
        let partition = database.partition(ofOwner: owner)
        for other in replicas(ofPartition: partition) where other != system.node {
            guard let changed = await repairConversation(id: id, partition: partition, from: other) else { continue }
            if changed || !everyReplica { return changed }
        }
        return false
    }

    /// Read repair of one conversation against one other replica: whether rows were fetched, or nil
    /// when that replica did not answer.
    private func repairConversation(id: String, partition: Int, from other: ClusterNode) async -> Bool? {
        do {
            let peer = try ReplicaPeer.on(other, system: system)
            let local = try await database.conversationDigest(id: id)
            let remote = try await ClusterSystem.withCallTimeout(settings.readRepairTimeout) {
                try await peer.conversationDigest(id: id)
            }
            guard remote.digest.hash != local.hash || remote.rowCount != local.rowCount else { return false }
            stats.withLock { $0.readRepairs += 1 }
            let theirs = try await ClusterSystem.withCallTimeout(settings.readRepairTimeout) {
                try await peer.conversationRows(id: id)
            }
            var changed = false
            if !theirs.isEmpty {
                var batch = try theirs.batch()
                batch.partition = partition
                let result = try await database.apply(batch)
                changed = result.conversationsChanged + result.messagesInserted > 0
            }
            var mine = try await database.replicationRows(conversationID: id)
            mine.partition = partition
            if !mine.conversations.isEmpty || !mine.messages.isEmpty {
                lanes.enqueue(ReplicaBatchWire(mine), to: other) { _ in }
            }
            return changed
        } catch let error as ClusterError where Self.isTransportFailure(error) {
            return nil
        } catch {
            return false
        }
    }
}

/// The router as its lanes see it (they are created before it is complete).
private final class RouterReference: Sendable {
    /// Set once, right after the router is initialised and before any push.
    nonisolated(unsafe) weak var router: ReplicaRouter?
}

/// A ring over a set of live nodes, with the replicas of the partitions asked for so far.
struct Placement {
    let nodes: [ClusterNode]
    let ring: HashRing
    private var cached: [Int: [ClusterNode]] = [:]
    /// The membership version `nodes` were last compared at (``ClusterSystem/versionedMembers``).
    var membersVersion: UInt64?

    init(nodes: [ClusterNode], ring: HashRing) {
        self.nodes = nodes
        self.ring = ring
    }

    mutating func replicas(of partition: Int, count: Int) -> [ClusterNode] {
        if let known = cached[partition] { return known }
        let replicas = ring.nodes(for: ReplicationSettings.ringKey(partition: partition), count: count)
        cached[partition] = replicas
        return replicas
    }
}

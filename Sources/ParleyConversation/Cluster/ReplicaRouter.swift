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
/// to the other replicas; it is acknowledged once one other replica has them durably, or, when no
/// other replica takes them, with the rows kept as hints and handed to the missing replicas when
/// they are back. Anti-entropy (``runAntiEntropy()``) repairs whatever pushes and hints missed.
package final class ReplicaRouter: Sendable {
    let system: ClusterSystem
    let database: ConversationDatabase
    let settings: ReplicationSettings
    let logger: Logger
    /// Writes not yet delivered, by the address of the replica that missed them.
    let hints = Mutex<[NodeAddress: [ReplicaBatchWire]]>([:])
    /// Anti-entropy cursors: the peer incarnation's change sequence pulled so far, per partition.
    let cursors = Mutex<[PeerPartition: Int64]>([:])
    /// Counters for tests and logs.
    let stats = Mutex(Stats())

    struct PeerPartition: Hashable {
        var peerUID: UInt64
        var partition: Int
    }

    /// What replication did so far.
    package struct Stats: Sendable, Hashable {
        package var pushesAcknowledged = 0
        package var pushesFailed = 0
        package var hintsDelivered = 0
        package var snapshotChunksApplied = 0
        package var changeRowsPulled = 0
        package var readRepairs = 0
    }

    package init(system: ClusterSystem, database: ConversationDatabase, settings: ReplicationSettings, logger: Logger) {
        self.system = system
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    package var currentStats: Stats { stats.withLock { $0 } }

    // MARK: Placement

    /// The replicas of `partition` as the current ring places them (preference order).
    func replicas(ofPartition partition: Int, ring: HashRing? = nil) -> [ClusterNode] {
        (ring ?? system.ring(role: settings.role))
            .nodes(for: ReplicationSettings.ringKey(partition: partition), count: max(1, settings.replicationFactor))
    }

    /// Where a call for `owner` runs: `nil` to run here (this node is a replica, or no ring is
    /// known, e.g. a node without membership), else the replicas to forward to, in order.
    func forwardTargets(owner: String, primaryOnly: Bool) -> [ClusterNode]? {
        let replicas = replicas(ofPartition: database.partition(ofOwner: owner))
        if replicas.isEmpty { return nil }
        if primaryOnly ? replicas.first == system.node : replicas.contains(system.node) { return nil }
        return replicas.filter { $0 != system.node }
    }

    // MARK: Writes

    /// Runs a local write of `owner`'s partition, then replicates the rows it changed (see the
    /// type's documentation for when this returns).
    func replicatedWrite<T: Sendable>(owner: String, _ write: @Sendable () async throws -> T) async throws -> T {
        let partition = database.partition(ofOwner: owner)
        let before = try await database.lastChangeSeq(partition: partition)
        let result = try await write()
        let batch = try await database.allChanges(partition: partition, after: before)
        if !batch.conversations.isEmpty || !batch.messages.isEmpty {
            let targets = replicas(ofPartition: partition).filter { $0 != system.node }
            for piece in ReplicaBatchWire.split(batch) {
                await push(piece, to: targets)
            }
        }
        return result
    }

    /// Pushes `batch` to every target; returns after the first durable acknowledgement, or after
    /// every target failed (each failure is kept as a hint). Slower pushes finish in the background.
    func push(_ batch: ReplicaBatchWire, to targets: [ClusterNode]) async {
        guard !targets.isEmpty else { return }
        let (results, continuation) = AsyncStream<Bool>.makeStream()
        for target in targets {
            Task {
                continuation.yield(await self.deliver(batch, to: target))
            }
        }
        var remaining = targets.count
        for await delivered in results {
            remaining -= 1
            if delivered || remaining == 0 { break }
        }
        continuation.finish()
    }

    /// Delivers one batch; on failure keeps it as a hint for the target's address.
    func deliver(_ batch: ReplicaBatchWire, to target: ClusterNode) async -> Bool {
        do {
            let peer = try ReplicaPeer.on(target, system: system)
            try await ClusterSystem.withCallTimeout(settings.pushTimeout) { try await peer.apply(batch) }
            stats.withLock { $0.pushesAcknowledged += 1 }
            return true
        } catch {
            stats.withLock { $0.pushesFailed += 1 }
            addHint(batch, for: target.address)
            logger.debug("push to a replica failed; kept as a hint", metadata: ["peer": "\(target)"])
            return false
        }
    }

    func addHint(_ batch: ReplicaBatchWire, for address: NodeAddress) {
        hints.withLock { hints in
            var queue = hints[address, default: []]
            queue.append(batch)
            if queue.count > settings.maxHintsPerNode { queue.removeFirst(queue.count - settings.maxHintsPerNode) }
            hints[address] = queue
        }
    }

    /// Hands queued hints to the replicas that are alive again (in order; stops at the first failure).
    func deliverHints(ring: HashRing) async {
        let waiting = hints.withLock { $0 }
        for (address, queue) in waiting where !queue.isEmpty {
            guard let node = ring.nodes.first(where: { $0.address == address && $0 != system.node }) else { continue }
            var delivered = 0
            for batch in queue {
                do {
                    let peer = try ReplicaPeer.on(node, system: system)
                    try await ClusterSystem.withCallTimeout(settings.pushTimeout) { try await peer.apply(batch) }
                    delivered += 1
                } catch {
                    break
                }
            }
            guard delivered > 0 else { continue }
            hints.withLock { hints in
                guard var queue = hints[address] else { return }
                queue.removeFirst(min(delivered, queue.count))
                hints[address] = queue.isEmpty ? nil : queue
            }
            stats.withLock { $0.hintsDelivered += delivered }
        }
    }

    /// Writes waiting as hints, over all replicas.
    package var pendingHints: Int { hints.withLock { $0.values.reduce(0) { $0 + $1.count } } }

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

    /// Compares conversation `id` with one other live replica and merges both ways when they
    /// differ; returns whether local rows changed. Failures are ignored (the read goes on).
    func repairConversation(owner: String, id: String) async -> Bool {
        let partition = database.partition(ofOwner: owner)
        guard let other = replicas(ofPartition: partition).first(where: { $0 != system.node }) else { return false }
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
                let wire = ReplicaBatchWire(mine)
                Task { _ = await self.deliver(wire, to: other) }
            }
            return changed
        } catch {
            return false
        }
    }
}

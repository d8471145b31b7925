import Logging
import Synchronization
import ParleyCluster
import ParleyProtocol

extension ReplicaRouter {
    /// Runs anti-entropy rounds every `antiEntropyInterval` until the task is cancelled.
    package func runAntiEntropy() async {
        while !Task.isCancelled {
            let nodes = currentRing().nodes
            await antiEntropyRound()
            // Wait for the next round, but start it at once when the ring changes (a node joined or
            // came back: it has everything to catch up on).
            let next = ContinuousClock.now + settings.antiEntropyInterval
            while ContinuousClock.now < next, !Task.isCancelled, currentRing().nodes == nodes {
                try? await Task.sleep(for: min(.milliseconds(100), settings.antiEntropyInterval))
            }
        }
    }

    /// One round: delivers hints, then, for every other live node, compares the digests of the
    /// partitions both hold replicas of and pulls what differs from it (the peer pulls from this
    /// node in its own round). A peer incarnation seen for the first time for a partition sends a
    /// zstd snapshot, later rounds its change feed from the remembered cursor.
    package func antiEntropyRound() async {
        let ring = currentRing()
        await deliverHints(ring: ring)
        let me = system.node
        guard ring.nodes.contains(me) else { return }
        for peerNode in ring.nodes where peerNode != me {
            if Task.isCancelled { return }
            do {
                let peer = try ReplicaPeer.on(peerNode, system: system)
                let remote = try await ClusterSystem.withCallTimeout(settings.antiEntropyCallTimeout) {
                    try await peer.digests()
                }
                let local = Dictionary(
                    try await database.digests().map { ($0.partition, $0) }, uniquingKeysWith: { a, _ in a })
                let identity = try await peerDatabase(peer, node: peerNode)
                var inStep: [(partition: Int, seq: Int64)] = []
                var differing: [Int] = []
                let now = ContinuousClock.now
                for theirs in remote {
                    let partition = theirs.partition
                    let holders = replicas(ofPartition: partition, ring: ring)
                    guard holders.contains(me), holders.contains(peerNode) else { continue }
                    let key = PeerPartition(peer: identity, partition: partition)
                    if let mine = local[partition], mine.hash == theirs.digest.hash, mine.rowCount == theirs.rowCount {
                        // Equal contents: everything of the peer's feed up to its sequence is here.
                        inStep.append((partition, theirs.changeSeq))
                        deferredPulls.withLock { _ = $0.removeValue(forKey: key) }
                    } else if shouldPullNow(key, remote: theirs.digest, local: local[partition], now: now) {
                        differing.append(partition)
                    }
                }
                try await advanceCursors(peer: identity, inStep)
                try await pullAll(differing, from: peer, database: identity)
            } catch {
                logger.debug("anti-entropy with a peer failed", metadata: ["peer": "\(peerNode)", "error": "\(error)"])
            }
        }
        stats.withLock { $0.antiEntropyRounds += 1 }
    }

    /// Whether a partition found differing from the peer's is pulled in this round. The change feed
    /// sends every row the peer changed since the cursor, so pulling a partition that is being
    /// written to sends back the rows the pushes just delivered: under a steady load every row
    /// would travel and be merged twice more. So a partition is pulled at once only when this node
    /// is clearly behind (``ReplicationSettings/antiEntropyLagRows``), has never pulled it from this
    /// peer, nothing changed it here for an anti-entropy interval (no writes are arriving), or the
    /// peer's partition stood still for a round (its writes have settled and still differ);
    /// otherwise it waits, at most ``ReplicationSettings/antiEntropyMaxDeferral``. A
    /// partition whose writes settle equal is never pulled: its cursor moves to the peer's sequence.
    func shouldPullNow(_ key: PeerPartition, remote: PartitionDigest, local: PartitionDigest?, now: ContinuousClock.Instant)
        -> Bool
    {
        let hasCursor = cursors.withLock { $0[key] != nil }
        let quietHere = database.writer.lastChange(partition: key.partition).map { now - $0 >= settings.antiEntropyInterval } ?? true
        let pull = deferredPulls.withLock { deferred -> Bool in
            let previous = deferred[key]
            let behind = remote.rowCount - (local?.rowCount ?? 0) >= settings.antiEntropyLagRows
            let settled = previous.map { $0.remote == remote } ?? false
            let overdue = previous.map { now - $0.since >= settings.antiEntropyMaxDeferral } ?? false
            if !hasCursor || local == nil || behind || settled || overdue || quietHere {
                deferred[key] = nil
                return true
            }
            deferred[key] = DeferredPull(remote: remote, since: previous?.since ?? now)
            return false
        }
        if !pull { stats.withLock { $0.pullsDeferred += 1 } }
        return pull
    }

    /// The database identity of a peer incarnation, with the cursors stored for that database
    /// loaded (once per process).
    func peerDatabase(_ peer: ReplicaPeer, node: ClusterNode) async throws -> String {
        if let known = peerDatabases.withLock({ $0.byUID[node.uid] }) { return known }
        let identity = try await ClusterSystem.withCallTimeout(settings.antiEntropyCallTimeout) {
            try await peer.identity()
        }
        let needsLoad = peerDatabases.withLock { !$0.loaded.contains(identity) }
        if needsLoad {
            let stored = try await database.replicaCursors(peer: identity)
            cursors.withLock { cursors in
                for (partition, seq) in stored {
                    let key = PeerPartition(peer: identity, partition: partition)
                    cursors[key] = max(cursors[key] ?? 0, seq)
                }
            }
        }
        peerDatabases.withLock {
            $0.loaded.insert(identity)
            $0.byUID[node.uid] = identity
        }
        await compareRetention(peer, node: node)
        return identity
    }

    /// Warns when `peer` keeps generation logs for another time than this node: their replicas
    /// would never hold the same runs (one prunes what the other keeps), so anti-entropy would pull
    /// the partitions that differ every round. A peer that cannot say (an older version) is skipped.
    func compareRetention(_ peer: ReplicaPeer, node: ClusterNode) async {
        guard let mine = settings.generationLogRetention?.wholeMilliseconds else { return }
        let theirs = try? await ClusterSystem.withCallTimeout(settings.antiEntropyCallTimeout) {
            try await peer.generationLogRetentionMilliseconds()
        }
        guard let theirs, theirs >= 0, theirs != mine else { return }
        stats.withLock { $0.retentionMismatches += 1 }
        logger.warning(
            "a conversation peer keeps generation logs for another time than this node: give every conversation node the same --generation-log-retention",
            metadata: ["peer": "\(node)", "peer.retention.ms": "\(theirs)", "retention.ms": "\(mine)"])
    }

    /// Pulls what `peer` has of `partition` since the last pull from its database (everything, as a
    /// streamed snapshot, the first time), then stores the new cursor.
    func pull(partition: Int, from peer: ReplicaPeer, database peerDatabase: String) async throws {
        let key = PeerPartition(peer: peerDatabase, partition: partition)
        var cursor: Int64
        var start: Int64?
        if let known = cursors.withLock({ $0[key] }) {
            cursor = known
            start = known
        } else {
            cursor = try await pullSnapshot(partition: partition, from: peer)
            cursors.withLock { $0[key] = cursor }
        }
        while true {
            let page = try await ClusterSystem.withCallTimeout(settings.antiEntropyCallTimeout) {
                try await peer.changes(partition: partition, after: cursor, limit: settings.changePageRows)
            }
            if !page.isEmpty {
                let batch = try page.batch()
                try await database.apply(batch)
                stats.withLock {
                    $0.changeRowsPulled += batch.conversations.count + batch.messages.count
                        + batch.generationRuns.count + batch.generationLogSpans.count
                }
            }
            cursor = max(cursor, page.lastSeq)
            cursors.withLock { $0[key] = cursor }
            if page.isComplete || page.isEmpty { break }
        }
        if cursor != start {
            try await database.saveReplicaCursor(peer: peerDatabase, partition: partition, seq: cursor)
        }
    }

    /// Pulls `partitions` from `peer`, `pullsInFlight` at a time: transfers overlap with applying,
    /// and the group commit puts concurrent applies into shared transactions.
    func pullAll(_ partitions: [Int], from peer: ReplicaPeer, database identity: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = partitions.makeIterator()
            for _ in 0..<max(1, settings.pullsInFlight) {
                guard let partition = next.next() else { break }
                group.addTask { try await self.pull(partition: partition, from: peer, database: identity) }
            }
            while try await group.next() != nil {
                if Task.isCancelled { break }
                guard let partition = next.next() else { continue }
                group.addTask { try await self.pull(partition: partition, from: peer, database: identity) }
            }
        }
    }

    /// Moves the cursors of partitions found equal to the peer's sequences (stored in one write).
    func advanceCursors(peer: String, _ positions: [(partition: Int, seq: Int64)]) async throws {
        let moved = cursors.withLock { cursors in
            positions.filter { position in
                let key = PeerPartition(peer: peer, partition: position.partition)
                guard position.seq > (cursors[key] ?? -1) else { return false }
                cursors[key] = position.seq
                return true
            }
        }
        try await database.saveReplicaCursors(peer: peer, moved)
    }

    /// Streams and applies a snapshot of `partition`; returns the peer's sequence it covers.
    func pullSnapshot(partition: Int, from peer: ReplicaPeer) async throws -> Int64 {
        let stream = try await ClusterSystem.withCallTimeout(settings.antiEntropyCallTimeout) {
            try await peer.snapshot(partition: partition)
        }
        var throughSeq: Int64 = 0
        for try await piece in stream {
            guard piece.partition == partition else {
                throw ConversationError(.corruptData, "snapshot piece of another partition")
            }
            if let chunk = piece.chunk {
                try await database.applySnapshotChunk(chunk)
                stats.withLock { $0.snapshotChunksApplied += 1 }
            }
            throughSeq = piece.throughSeq
        }
        return throughSeq
    }
}

/// A differing partition whose pull waits (see ``ReplicaRouter/shouldPullNow(_:remote:local:now:)``).
struct DeferredPull {
    /// The peer's digest of the partition when last compared.
    var remote: PartitionDigest
    /// When the partition was first found differing.
    var since: ContinuousClock.Instant
}

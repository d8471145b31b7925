import Logging
import Synchronization
import ParleyCluster
import ParleyProtocol

extension ReplicaRouter {
    /// Runs anti-entropy rounds every `antiEntropyInterval` until the task is cancelled.
    package func runAntiEntropy() async {
        while !Task.isCancelled {
            await antiEntropyRound()
            try? await Task.sleep(for: settings.antiEntropyInterval)
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
                for theirs in remote {
                    let partition = theirs.partition
                    let mine = local[partition]
                    if let mine, mine.hash == theirs.digest.hash, mine.rowCount == theirs.rowCount { continue }
                    let holders = replicas(ofPartition: partition, ring: ring)
                    guard holders.contains(me), holders.contains(peerNode) else { continue }
                    try await pull(partition: partition, from: peer, node: peerNode)
                }
            } catch {
                logger.debug("anti-entropy with a peer failed", metadata: ["peer": "\(peerNode)", "error": "\(error)"])
            }
        }
    }

    /// Pulls what `peer` has of `partition` since the last pull from this incarnation (everything,
    /// as a streamed snapshot, the first time).
    func pull(partition: Int, from peer: ReplicaPeer, node: ClusterNode) async throws {
        let key = PeerPartition(peerUID: node.uid, partition: partition)
        var cursor: Int64
        if let known = cursors.withLock({ $0[key] }) {
            cursor = known
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
                stats.withLock { $0.changeRowsPulled += batch.conversations.count + batch.messages.count }
            }
            cursor = max(cursor, page.lastSeq)
            cursors.withLock { $0[key] = cursor }
            if page.isComplete || page.isEmpty { break }
        }
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

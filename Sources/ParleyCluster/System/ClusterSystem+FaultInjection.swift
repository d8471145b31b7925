import Synchronization

/// Test hook: a network partition without touching the network. Frames that arrive from the
/// named nodes are dropped on receipt (calls, replies, streams, membership), so calls to them time
/// out and membership comes to suspect them, as if the link were cut. Cut both sides for a
/// symmetric partition; an empty set heals it. Not for production use.
extension ClusterSystem {
    private static let anyDropped = Atomic<Bool>(false)
    private static let droppedPeers = Mutex<[ObjectIdentifier: Set<String>]>([:])

    /// Drops every frame from the nodes named `names` from now on (replacing an earlier set).
    package func dropFrames(fromNodesNamed names: Set<String>) {
        Self.droppedPeers.withLock { table in
            table[ObjectIdentifier(self)] = names.isEmpty ? nil : names
            Self.anyDropped.store(!table.isEmpty, ordering: .releasing)
        }
    }

    /// Whether frames from `peer` are dropped (one atomic load when no test cut anything).
    func dropsFrames(from peer: ClusterNode) -> Bool {
        guard Self.anyDropped.load(ordering: .acquiring) else { return false }
        return Self.droppedPeers.withLock { $0[ObjectIdentifier(self)]?.contains(peer.name) ?? false }
    }
}

package import ParleyCluster

/// Orders the registered actors of a role for one request: an actor on this node first (no network
/// hop), then the others by rendezvous hashing of the request id, so requests spread evenly and each
/// request's fallback order is stable.
package enum CandidateOrder {
    package static func order(
        _ ids: [ClusterActorID], local: ClusterNode, key: String, excluding: Set<ClusterNode>
    ) -> [ClusterActorID] {
        var seen: Set<ClusterNode> = []
        let usable = ids.filter { !excluding.contains($0.node) && seen.insert($0.node).inserted }
        return usable.sorted { lhs, rhs in
            let lhsLocal = lhs.node == local
            let rhsLocal = rhs.node == local
            if lhsLocal != rhsLocal { return lhsLocal }
            let lhsScore = StableHash.hash("\(key)|\(lhs.node.name)|\(lhs.node.uid)")
            let rhsScore = StableHash.hash("\(key)|\(rhs.node.name)|\(rhs.node.uid)")
            return (lhsScore, lhs.node) < (rhsScore, rhs.node)
        }
    }
}

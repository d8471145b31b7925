package import ParleyCluster

/// What tools and benchmarks may ask a conversation node's replica peer from outside the role.
package enum ReplicaProbe {
    /// The partition digests of the conversation node `node` (every partition holding rows).
    package static func digests(of node: ClusterNode, using system: ClusterSystem) async throws -> [PartitionDigest] {
        let peer = try ReplicaPeer.on(node, system: system)
        return try await peer.digests().map(\.digest)
    }
}

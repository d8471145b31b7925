/// A consistent-hash ring over a set of nodes (typically the live members of one role), with virtual
/// nodes, for placing keys such as rate-limiter shards or conversation partitions.
///
/// - Positions derive from each node's *name* through ``StableHash``, so every process computes the
///   same ring, and a node restarted with a new uid takes the same positions back.
/// - ``nodes(for:count:)`` walks clockwise from the key's position and returns distinct nodes in
///   preference order: the first is the owner, the next ones are the replicas.
/// - When a node joins, only the keys that now fall to it move (about 1/n of them); when one leaves,
///   only its keys move, each to the next node on the ring.
/// - Balance: with the default 128 virtual nodes per node, each node's share of keys stays within
///   about ±25 % of the mean for clusters of up to 20 nodes (checked in `HashRingTests`).
public struct HashRing: Sendable {
    /// Virtual nodes per node unless told otherwise.
    public static let defaultVirtualNodesPerNode = 128

    /// The nodes on the ring, sorted.
    public let nodes: [ClusterNode]
    /// Virtual nodes per node.
    public let virtualNodesPerNode: Int
    /// Ring positions, sorted by hash; `owner` indexes `nodes`.
    private let points: [(hash: UInt64, owner: Int)]

    /// Builds the ring. Duplicate nodes are ignored; two nodes with the same name (which the cluster
    /// forbids by convention) share positions, and the lower one in `ClusterNode` order wins them.
    ///
    /// - Parameters:
    ///   - nodes: the nodes to place.
    ///   - virtualNodesPerNode: positions per node; more gives better balance and a bigger ring. Default 128.
    public init(nodes: some Sequence<ClusterNode>, virtualNodesPerNode: Int = HashRing.defaultVirtualNodesPerNode) {
        precondition(virtualNodesPerNode > 0, "virtualNodesPerNode must be positive")
        let sorted = Array(Set(nodes)).sorted()
        self.nodes = sorted
        self.virtualNodesPerNode = virtualNodesPerNode
        var points: [(hash: UInt64, owner: Int)] = []
        points.reserveCapacity(sorted.count * virtualNodesPerNode)
        for (index, node) in sorted.enumerated() {
            for replica in 0..<virtualNodesPerNode {
                points.append((StableHash.hash("\(node.name)#\(replica)"), index))
            }
        }
        points.sort { ($0.hash, $0.owner) < ($1.hash, $1.owner) }
        self.points = points
    }

    /// Builds the ring over the live (`alive` or `suspect`) members that hold `role`.
    public init(
        members: some Sequence<Membership.Member>, role: String,
        virtualNodesPerNode: Int = HashRing.defaultVirtualNodesPerNode
    ) {
        self.init(
            nodes: members.filter { !$0.status.isTerminal && $0.hasRole(role) }.map(\.node),
            virtualNodesPerNode: virtualNodesPerNode)
    }

    /// Whether the ring has no nodes.
    public var isEmpty: Bool { nodes.isEmpty }

    /// Up to `count` distinct nodes for `key`, in preference order (owner first).
    public func nodes(for key: String, count: Int) -> [ClusterNode] {
        nodes(forHash: StableHash.hash(key), count: count)
    }

    /// Up to `count` distinct nodes for a binary key, in preference order (owner first).
    public func nodes(forBytes key: some Sequence<UInt8>, count: Int) -> [ClusterNode] {
        nodes(forHash: StableHash.hash(key), count: count)
    }

    /// The owner of `key`, or `nil` when the ring is empty.
    public func node(for key: String) -> ClusterNode? {
        nodes(for: key, count: 1).first
    }

    private func nodes(forHash hash: UInt64, count: Int) -> [ClusterNode] {
        guard !points.isEmpty, count > 0 else { return [] }
        let wanted = min(count, nodes.count)
        // First point at or after the hash, wrapping around.
        var low = 0
        var high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid].hash < hash { low = mid + 1 } else { high = mid }
        }
        var chosen: [Int] = []
        var index = low % points.count
        while chosen.count < wanted {
            let owner = points[index].owner
            if !chosen.contains(owner) { chosen.append(owner) }
            index = (index + 1) % points.count
        }
        return chosen.map { nodes[$0] }
    }
}

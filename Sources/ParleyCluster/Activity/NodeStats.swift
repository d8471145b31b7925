public import Distributed
import Synchronization

/// Answers a node's ``NodeActivity`` to other nodes. Every system that runs membership hosts one,
/// registered under ``NodeStats/key``.
public distributed actor NodeStats {
    public typealias ActorSystem = ClusterSystem

    /// The receptionist key of every node's stats actor.
    public static let key = "node-stats"

    private let activity: NodeActivity

    init(activity: NodeActivity, actorSystem: ClusterSystem) {
        self.activity = activity
        self.actorSystem = actorSystem
    }

    /// This node's activity now.
    public distributed func snapshot() -> NodeActivitySnapshot {
        activity.snapshot()
    }
}

extension ClusterSystem {
    /// Hosts this node's ``NodeStats`` and registers it with the receptionist.
    func startNodeStats() {
        let stats = NodeStats(activity: activity, actorSystem: self)
        runtime.withLock { $0.nodeStats = stats }
        receptionist.register(stats, key: NodeStats.key)
    }

    /// Every reachable node's activity, asked concurrently, each answer within `timeout`; a node
    /// that does not answer in time is left out.
    public func nodeActivities(timeout: Duration = .milliseconds(500)) async -> [ClusterNode: NodeActivitySnapshot] {
        let ids = receptionist.lookup(NodeStats.key)
        return await withTaskGroup(of: (ClusterNode, NodeActivitySnapshot)?.self) { group in
            for id in ids {
                group.addTask {
                    guard let stats = try? NodeStats.resolve(id: id, using: self) else { return nil }
                    let snapshot = try? await ClusterSystem.withCallTimeout(timeout) { try await stats.snapshot() }
                    return snapshot.map { (id.node, $0) }
                }
            }
            var result: [ClusterNode: NodeActivitySnapshot] = [:]
            for await answer in group {
                if let (node, snapshot) = answer { result[node] = snapshot }
            }
            return result
        }
    }
}

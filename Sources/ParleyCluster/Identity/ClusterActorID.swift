/// The identity of a distributed actor: the node incarnation that hosts it and its path there.
///
/// Well-known actors have stable paths (`/system/membership`, `/user/completion`); other actors get
/// generated ones. Because the node carries its per-start uid, an id from before a restart never
/// reaches the restarted node's actors.
public struct ClusterActorID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var node: ClusterNode
    public var path: String

    public init(node: ClusterNode, path: String) {
        self.node = node
        self.path = path
    }

    public var description: String { "\(node)\(path)" }
}

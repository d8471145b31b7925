/// The name under which actors register, for example `model-api/smollm2`.
public struct ReceptionKey: Hashable, Sendable, Codable, Comparable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The key's text; by convention `role-or-service/instance`.
    public var name: String

    public init(_ name: String) {
        self.name = name
    }

    public init(stringLiteral name: String) {
        self.name = name
    }

    public var description: String { name }

    public static func < (lhs: ReceptionKey, rhs: ReceptionKey) -> Bool { lhs.name < rhs.name }
}

/// One registered actor: the two fields of its cluster actor id, the node it lives on and its path.
public struct ReceptionEntry: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// The node (one start of it) hosting the actor.
    public var node: ClusterNode
    /// The actor's path on that node.
    public var path: String

    public init(node: ClusterNode, path: String) {
        self.node = node
        self.path = path
    }

    public var description: String { "\(node)/\(path)" }

    public static func < (lhs: ReceptionEntry, rhs: ReceptionEntry) -> Bool {
        (lhs.node, lhs.path) < (rhs.node, rhs.path)
    }
}

/// Namespace of the receptionist: a cluster-wide registry of actors by key, with no central server.
///
/// Each node owns its own registrations and numbers every change of them with a version. It pushes
/// its full, small registration list to every member when it changes, and every
/// ``Settings/digestInterval`` it compares versions with one random member (anti-entropy), so an update
/// that was lost heals. A higher version from the owner always wins, so replicas converge whatever the
/// order of delivery. When membership reports a node dead or left, its registrations disappear.
public enum Receptionist {}

extension Receptionist {
    /// Timings of the receptionist.
    package struct Settings: Sendable, Hashable {
        /// How often this node sends its version digest to one random member. Default 1 s: a lost
        /// update heals within a few seconds in a small cluster.
        package var digestInterval: Duration = .seconds(1)
        /// How long the registrations of a node that went down stay ignored (stale copies relayed by
        /// slower members must not bring them back). Default 1 h.
        package var downRetention: Duration = .seconds(3600)

        package init() {}

        package func validate() {
            precondition(digestInterval > .zero, "digestInterval must be positive")
            precondition(downRetention >= .zero, "downRetention must not be negative")
        }
    }

    /// All registrations of one node at one version, as replicated.
    package struct Registrations: Hashable, Sendable, Codable {
        /// The owner.
        package var node: ClusterNode
        /// Raised by the owner on every change; a higher version replaces a lower one.
        package var version: UInt64
        /// Key → actor paths, sorted.
        package var entries: [Registration]
    }

    /// One key and the paths registered under it on the owner.
    package struct Registration: Hashable, Sendable, Codable {
        /// The key.
        package var key: ReceptionKey
        /// Paths of the owner's actors registered under it, sorted.
        package var paths: [String]
    }

    /// One node's version, as compared during anti-entropy.
    package struct Version: Hashable, Sendable, Codable {
        /// The owner of the registrations.
        package var node: ClusterNode
        /// The owner's version the sender holds.
        package var version: UInt64
    }

    /// Every receptionist message on the wire.
    package enum Message: Hashable, Sendable, Codable {
        /// Full registrations of one or more nodes (a push on change, or an answer to a digest or request).
        case registrations([Registrations])
        /// The versions the sender holds, its own included.
        case digest([Version])
        /// Ask for the registrations of these nodes (the sender saw newer versions in a digest).
        case request([ClusterNode])
    }

    /// An instruction from ``ReceptionistStateMachine`` to its shell.
    package enum Directive: Hashable, Sendable {
        /// Send `message` to the node.
        case send(Message, to: ClusterNode)
        /// The actors registered under `key` changed; here is the full new list (sorted). The shell
        /// passes it to that key's subscribers.
        case listingChanged(ReceptionKey, [ReceptionEntry])
    }
}

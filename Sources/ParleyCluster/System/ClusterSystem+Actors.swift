public import Distributed
import Synchronization

/// The local actors of a system, held weakly: the application keeps its actors alive, and an actor
/// that nobody retains deinitializes (and its id is resigned).
struct ActorTable {
    struct WeakActor {
        weak var actor: (any DistributedActor)?
    }

    var byPath: [String: WeakActor] = [:]
    var nextNumber: UInt64 = 1
}

/// Carries a well-known path into `assignID`; taken once, so actors created inside the init of
/// the named actor get generated paths.
final class PendingPath: Sendable {
    private let path: Mutex<String?>
    init(_ path: String) { self.path = Mutex(path) }
    func take() -> String? { path.withLock { value in defer { value = nil }; return value } }
}

extension ClusterSystem {
    @TaskLocal static var pendingPath: PendingPath?

    /// Creates an actor with a stable, well-known path (for example `/user/completion`), so other
    /// nodes can address it without a lookup. Only the first actor created inside `make` gets it.
    public func withWellKnownPath<Act: DistributedActor>(_ path: String, _ make: () throws -> Act) rethrows -> Act
    where Act.ActorSystem == ClusterSystem {
        try Self.$pendingPath.withValue(PendingPath(path)) { try make() }
    }

    public func assignID<Act>(_ actorType: Act.Type) -> ClusterActorID
    where Act: DistributedActor, Act.ID == ClusterActorID {
        if let path = Self.pendingPath?.take() {
            return ClusterActorID(node: node, path: path)
        }
        let number = actors.withLock { table in
            defer { table.nextNumber += 1 }
            return table.nextNumber
        }
        return ClusterActorID(node: node, path: "/a/\(number)")
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ClusterActorID {
        actors.withLock { $0.byPath[actor.id.path] = ActorTable.WeakActor(actor: actor) }
    }

    public func resignID(_ id: ClusterActorID) {
        receptionist.actorResigned(path: id.path)
        actors.withLock { table in
            if let entry = table.byPath[id.path], entry.actor == nil || entry.actor?.id as? ClusterActorID == id {
                table.byPath[id.path] = nil
            }
        }
    }

    /// Returns the local actor for a local id; `nil` (a remote proxy) for remote ids and for local
    /// ids whose actor is not of type `Act` (a `@Resolvable` stub), whose calls then run in memory.
    public func resolve<Act>(id: ClusterActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ClusterActorID {
        guard id.node == node else { return nil }
        return localActor(path: id.path) as? Act
    }

    /// The actor with `id` seen through its protocol `P` (`(any P).self`): the instance itself when it
    /// lives on this node, so calls to it are plain async calls with nothing encoded; otherwise
    /// `remote(id)`, the protocol's stub (`$P.resolve(id:using:)`), whose calls go over the wire.
    public func reference<P>(to id: ClusterActorID, as _: P.Type, remote: (ClusterActorID) throws -> P) rethrows -> P {
        if id.node == node, let local = localActor(path: id.path) as? P { return local }
        return try remote(id)
    }

    func localActor(path: String) -> (any DistributedActor)? {
        actors.withLock { $0.byPath[path]?.actor }
    }
}

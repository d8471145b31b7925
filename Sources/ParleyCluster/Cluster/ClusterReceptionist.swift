public import Distributed
import Synchronization

/// The cluster-wide registry of actors by key, as seen from one node (``ClusterSystem/receptionist``).
///
/// Registrations are replicated to every member (see ``Receptionist``); a registration disappears
/// when its actor deinitializes or resigns, when it is removed explicitly, and on every node when the
/// hosting node is declared dead or leaves.
public struct ClusterReceptionist: Sendable {
    let system: ClusterSystem

    /// Registers a local actor under `key`, for example `model-api/smollm2`. An actor may be registered
    /// under several keys; registering it twice under the same key changes nothing.
    public func register<Act: DistributedActor>(_ actor: Act, key: String) where Act.ActorSystem == ClusterSystem {
        let id = actor.id
        precondition(id.node == system.node, "only local actors can be registered")
        guard let shell = system.membershipShell else { return }
        let effects = shell.update { state, _, effects in
            shell.apply(state.receptionist.register(ReceptionKey(key), path: id.path), to: &state, effects: &effects)
        }
        shell.perform(effects)
    }

    /// Removes a local actor from `key`.
    public func remove<Act: DistributedActor>(_ actor: Act, key: String) where Act.ActorSystem == ClusterSystem {
        let path = actor.id.path
        guard let shell = system.membershipShell else { return }
        let effects = shell.update { state, _, effects in
            shell.apply(state.receptionist.remove(ReceptionKey(key), path: path), to: &state, effects: &effects)
        }
        shell.perform(effects)
    }

    /// The ids of every actor registered under `key` on any live node known here (this one included),
    /// sorted by node and path.
    public func lookup(_ key: String) -> [ClusterActorID] {
        guard let shell = system.membershipShell else { return [] }
        return shell.state.withLock { state in
            state.receptionist.lookup(ReceptionKey(key)).map { ClusterActorID(node: $0.node, path: $0.path) }
        }
    }

    /// The actors registered under `key`: first the current list, then the full new list after every
    /// change. Ends when the system shuts down.
    public func listing(_ key: String) -> AsyncStream<[ClusterActorID]> {
        let receptionKey = ReceptionKey(key)
        let shell = system.membershipShell
        return AsyncStream(bufferingPolicy: .bufferingNewest(64)) { continuation in
            guard let shell else {
                continuation.finish()
                return
            }
            let id: UInt64? = shell.state.withLock { state in
                guard !state.stopped else { return nil }
                let current = state.receptionist.lookup(receptionKey).map {
                    ClusterActorID(node: $0.node, path: $0.path)
                }
                continuation.yield(current)
                let id = state.makeSubscriberID()
                state.listingSubscribers[receptionKey, default: [:]][id] = continuation
                return id
            }
            guard let id else {
                continuation.finish()
                return
            }
            continuation.onTermination = { [weak shell] _ in
                // Not on this thread: a cancelled consumer runs this holding its task's status lock,
                // while membership yields to subscribers holding its state lock (lock-order inversion).
                Task {
                    shell?.state.withLock { state in
                        state.listingSubscribers[receptionKey]?[id] = nil
                        if state.listingSubscribers[receptionKey]?.isEmpty == true {
                            state.listingSubscribers[receptionKey] = nil
                        }
                    }
                }
            }
        }
    }

    /// The local actor at `path` resigned (deinitialized): drop its registrations.
    func actorResigned(path: String) {
        guard let shell = system.membershipShell else { return }
        let effects = shell.update { state, _, effects in
            shell.apply(state.receptionist.removeAll(path: path), to: &state, effects: &effects)
        }
        shell.perform(effects)
    }
}

extension ClusterSystem {
    /// This node's view of the cluster-wide actor registry.
    public var receptionist: ClusterReceptionist { ClusterReceptionist(system: self) }
}

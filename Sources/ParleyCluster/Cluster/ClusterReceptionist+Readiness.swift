public import Distributed

extension ClusterReceptionist {
    /// The actors registered under `key`; when there are none yet (a node that has just joined and
    /// not heard of them), waits up to `limit` for the first ones.
    public func lookup(_ key: String, waitingUpTo limit: Duration) async -> [ClusterActorID] {
        let deadline = ContinuousClock.now.advanced(by: limit)
        var ids = lookup(key)
        // Registrations arrive with gossip; a short poll is simpler than a subscription here.
        while ids.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
            ids = lookup(key)
        }
        return ids
    }

    /// Registers `actor` under `key` once at least one actor is registered under `prerequisite` —
    /// at once when one is — or after `timeout` regardless: a role announces itself only when it can
    /// serve (a worker pool once it knows a model proxy, …), so a node that has just started is not
    /// chosen before it has heard of the rest of the cluster. Cancel the returned task to give up
    /// a pending registration.
    @discardableResult
    public func register<Act: DistributedActor>(
        _ actor: Act, key: String, once prerequisite: String, timeout: Duration = .seconds(10)
    ) -> Task<Void, Never>? where Act.ActorSystem == ClusterSystem {
        if !lookup(prerequisite).isEmpty {
            register(actor, key: key)
            return nil
        }
        return Task {
            _ = await lookup(prerequisite, waitingUpTo: timeout)
            guard !Task.isCancelled else { return }
            register(actor, key: key)
        }
    }
}

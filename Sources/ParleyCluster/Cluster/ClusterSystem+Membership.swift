import Logging
import Synchronization
extension ClusterSystem {
    /// The membership shell; `nil` for a system started without membership (a status client).
    var membershipShell: ClusterMembership? {
        runtime.withLock { $0.membership }
    }

    /// Creates and starts the membership shell (called by `start` unless `settings.runsMembership` is off).
    func startMembership() {
        let shell = ClusterMembership(system: self)
        runtime.withLock { $0.membership = shell }
        shell.start(seeds: settings.seeds)
    }

    /// Every member this node knows, itself included, sorted by address; `dead` and `left` members stay
    /// listed until membership removes them (``Membership/Settings/removalDelay``). Empty when
    /// membership is not running.
    public var members: [Membership.Member] {
        membershipShell?.state.withLock { $0.membership.members } ?? []
    }

    /// ``members`` with a number that grows whenever they may have changed (always 0 without
    /// membership): keep something derived from the members and rebuild it only when it moves.
    public var versionedMembers: (version: UInt64, members: [Membership.Member]) {
        membershipShell?.state.withLock { ($0.membership.membersVersion, $0.membership.members) } ?? (0, [])
    }

    /// This node's own membership record (status `alive`, or `left` after ``leave(drain:)``).
    public var selfMember: Membership.Member? {
        membershipShell?.state.withLock { $0.membership.myself }
    }

    /// Membership events. Each subscriber first gets a `joined` event for every member currently
    /// known (carrying its current record, so its status may already be `suspect`, `dead` or `left`),
    /// then every change as it happens. The sequence ends when the system shuts down.
    public var membershipEvents: AsyncStream<Membership.Event> {
        AsyncStream(bufferingPolicy: .unbounded) { continuation in
            guard let shell = membershipShell else {
                continuation.finish()
                return
            }
            let id: UInt64? = shell.state.withLock { state in
                guard !state.stopped else { return nil }
                for member in state.membership.members {
                    continuation.yield(Membership.Event(.joined, member: member, previousStatus: nil))
                }
                let id = state.makeSubscriberID()
                state.eventSubscribers[id] = continuation
                return id
            }
            guard let id else {
                continuation.finish()
                return
            }
            continuation.onTermination = { [weak shell] _ in
                // Not on this thread: a cancelled consumer runs this holding its task's status lock,
                // while membership yields to subscribers holding its state lock (lock-order inversion).
                Task { _ = shell?.state.withLock { $0.eventSubscribers.removeValue(forKey: id) } }
            }
        }
    }

    /// Leaves the cluster gracefully, then shuts the system down: this node announces `left` to
    /// every member it can reach, keeps answering pings for `drain` (default: one probe interval) so
    /// the news spreads, and stops. Other nodes fail calls to it at once from then on.
    public func leave(drain: Duration? = nil) async {
        if let shell = membershipShell, !isShutDown {
            shell.leave()
            logger.info("leaving the cluster")
            let wait = drain ?? settings.membership.probeInterval
            try? await Task.sleep(for: wait)
        }
        await shutdown()
    }

    /// Returns when the system stopped: it was shut down, or the cluster declared this node dead.
    public func waitUntilStopped() async {
        if let shell = membershipShell {
            await shell.waitUntilStopped()
        }
    }

    /// Whether the cluster declared this node incarnation dead (it then shuts down; start the
    /// process again to rejoin under a new identity).
    public var wasDeclaredDead: Bool {
        membershipShell?.wasDeclaredDead ?? false
    }

    /// A consistent-hash ring over the live (`alive` or `suspect`) members that hold `role`, as
    /// known now. Build a new one after membership changes (see ``ringUpdates(role:virtualNodesPerNode:)``).
    public func ring(role: String, virtualNodesPerNode: Int = HashRing.defaultVirtualNodesPerNode) -> HashRing {
        HashRing(members: members, role: role, virtualNodesPerNode: virtualNodesPerNode)
    }

    /// The ring of `role`, first as it is now, then again every time its set of nodes changes.
    public func ringUpdates(
        role: String, virtualNodesPerNode: Int = HashRing.defaultVirtualNodesPerNode
    ) -> AsyncStream<HashRing> {
        let events = membershipEvents
        return AsyncStream { continuation in
            let task = Task {
                var current: [ClusterNode]?
                for await _ in events {
                    let ring = self.ring(role: role, virtualNodesPerNode: virtualNodesPerNode)
                    if ring.nodes != current {
                        current = ring.nodes
                        continuation.yield(ring)
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

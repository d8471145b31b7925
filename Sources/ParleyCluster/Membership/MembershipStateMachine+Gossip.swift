/// Updates waiting to be piggybacked, at most one per member (a newer update replaces an older one),
/// each sent a bounded number of times.
struct GossipBuffer: Sendable {
    struct Pending: Sendable {
        var gossip: Membership.Gossip
        var transmissions: Int
    }

    private(set) var pending: [ClusterNode: Pending] = [:]

    /// Queues `gossip` as fresh (never sent), replacing what was queued about the same member.
    mutating func enqueue(_ gossip: Membership.Gossip) {
        pending[gossip.member.node] = Pending(gossip: gossip, transmissions: 0)
    }

    /// The least-sent entries, at most `count`, `first`'s entry (if any) in front; entries sent `limit`
    /// times are dropped.
    mutating func take(count: Int, limit: Int, first: ClusterNode?) -> [Membership.Gossip] {
        guard !pending.isEmpty else { return [] }
        var order = pending.sorted {
            ($0.value.transmissions, $0.key) < ($1.value.transmissions, $1.key)
        }.map(\.key)
        if let first, let index = order.firstIndex(of: first) {
            order.remove(at: index)
            order.insert(first, at: 0)
        }
        var taken: [Membership.Gossip] = []
        for node in order.prefix(count) {
            guard var entry = pending[node] else { continue }
            taken.append(entry.gossip)
            entry.transmissions += 1
            pending[node] = entry.transmissions >= limit ? nil : entry
        }
        return taken
    }
}

extension MembershipStateMachine {
    /// How often one update is piggybacked: λ·⌈log₂(n + 1)⌉ for n live members.
    var gossipTransmissionLimit: Int {
        let n = max(liveMemberCount, 1)
        return settings.gossipRetransmitMultiplier * (n.bitWidth - n.leadingZeroBitCount)
    }

    /// Gossip to piggyback on a message to `receiver`; an update about the receiver itself (a suspicion
    /// it should refute) goes first.
    mutating func piggyback(for receiver: ClusterNode) -> [Membership.Gossip] {
        gossip.take(count: settings.maxGossipEntriesPerMessage, limit: gossipTransmissionLimit, first: receiver)
    }

    /// The gossip entry describing `node`'s current record.
    func gossipEntry(for node: ClusterNode) -> Membership.Gossip? {
        guard let record = records[node] else { return nil }
        return Membership.Gossip(member: record.member, suspectedBy: (record.suspicion?.suspectors ?? []).sorted())
    }

    /// Independent confirmations to wait for: `min(k, n − 2)`.
    var expectedConfirmations: Int {
        min(settings.indirectProbeCount, max(0, liveMemberCount - 2))
    }

    mutating func apply(_ entries: [Membership.Gossip], now: Instant, into out: inout [Directive]) {
        for entry in entries {
            guard lifecycle == .running else { return }
            apply(entry, now: now, into: &out)
        }
    }

    /// Merges one update into the member list by SWIM precedence. `fromSubject`: the update is the
    /// member's own record, sent by the member itself (a join request, a ping's origin).
    mutating func apply(
        _ entry: Membership.Gossip, fromSubject: Bool = false, now: Instant, into out: inout [Directive]
    ) {
        let incoming = entry.member
        let node = incoming.node
        if node == myself.node {
            applyAboutMyself(entry, now: now, into: &out)
            return
        }
        guard removed[node] == nil else { return }
        guard var record = records[node] else {
            if incoming.status.isTerminal {
                // Never knew it alive: only remember that the uid is gone.
                removed[node] = now.advanced(by: settings.tombstoneRetention)
            } else {
                admit(entry, fromSubject: fromSubject, now: now, into: &out)
            }
            return
        }
        let current = record.member
        if incoming.status == .suspect, current.status == .suspect, incoming.incarnation == current.incarnation {
            // The same suspicion from more members: independent confirmations shorten the timeout.
            let before = record.suspicion?.suspectors.count ?? 0
            record.suspicion?.suspectors.formUnion(entry.suspectedBy)
            if (record.suspicion?.suspectors.count ?? 0) > before {
                records[node] = record
                if let updated = gossipEntry(for: node) { gossip.enqueue(updated) }
            }
            return
        }
        guard incoming.supersedes(current) else { return }
        transition(
            node, to: incoming.status, incarnation: incoming.incarnation, suspectors: Set(entry.suspectedBy),
            now: now, into: &out)
    }

    /// A member not known before: add it, replacing an earlier start of the same node.
    private mutating func admit(
        _ entry: Membership.Gossip, fromSubject: Bool, now: Instant, into out: inout [Directive]
    ) {
        let node = entry.member.node
        // Another uid at this node's address or with its name is an earlier start. When the new uid
        // speaks for itself, that implies the old one is dead. Second-hand news only replaces records
        // that are dead or left already: uids cannot be ordered, and a stale rumor must not kill the
        // live start (a live old one is left to the probes). A record claiming *our* name or address
        // is ignored.
        if node.address == myself.node.address || node.name == myself.node.name { return }
        let earlier = records.keys.filter {
            $0 != myself.node && ($0.address == node.address || $0.name == node.name)
        }.sorted()
        for old in earlier {
            if let status = records[old]?.member.status, !status.isTerminal {
                guard fromSubject else { continue }
                transition(
                    old, to: .dead, incarnation: records[old]!.member.incarnation, suspectors: [], now: now, into: &out)
            }
            remove(old, now: now, into: &out)
        }
        var record = Record(member: entry.member)
        if entry.member.status == .suspect {
            record.suspicion = Membership.Suspicion(
                startedAt: now, suspectors: Set(entry.suspectedBy), expectedConfirmations: expectedConfirmations)
        }
        records[node] = record
        out.append(.memberChanged(Membership.Event(.joined, member: entry.member, previousStatus: nil)))
        gossip.enqueue(entry)
        // New members go to a random place in the current probe round (SWIM).
        probeOrder.insert(node, at: Int.random(in: 0...probeOrder.count, using: &random))
    }

    /// Moves a known member to a new status and reports it.
    mutating func transition(
        _ node: ClusterNode, to status: Membership.Status, incarnation: UInt64, suspectors: Set<UInt64>,
        now: Instant, into out: inout [Directive]
    ) {
        guard var record = records[node] else { return }
        let previous = record.member.status
        record.member.status = status
        record.member.incarnation = incarnation
        switch status {
        case .alive:
            record.suspicion = nil
        case .suspect:
            record.suspicion = Membership.Suspicion(
                startedAt: now, suspectors: suspectors, expectedConfirmations: expectedConfirmations)
        case .dead, .left:
            record.suspicion = nil
            record.terminalSince = now
        }
        records[node] = record
        if let entry = gossipEntry(for: node) { gossip.enqueue(entry) }
        if previous != status {
            let change: Membership.Event.Change =
                switch status {
                case .alive: .alive
                case .suspect: .suspect
                case .dead: .dead
                case .left: .left
                }
            out.append(.memberChanged(Membership.Event(change, member: record.member, previousStatus: previous)))
        }
        if status == .dead {
            out.append(.closeConnection(node))
        }
    }

    /// Drops a dead or left member from the list and remembers its uid as gone.
    mutating func remove(_ node: ClusterNode, now: Instant, into out: inout [Directive]) {
        guard let record = records.removeValue(forKey: node) else { return }
        removed[node] = now.advanced(by: settings.tombstoneRetention)
        out.append(
            .memberChanged(Membership.Event(.removed, member: record.member, previousStatus: record.member.status)))
    }

    /// Gossip about this node: refute a suspicion, or learn that the cluster declared it dead.
    private mutating func applyAboutMyself(_ entry: Membership.Gossip, now: Instant, into out: inout [Directive]) {
        let claimed = entry.member
        switch claimed.status {
        case .suspect where claimed.incarnation >= myself.incarnation:
            // Refute: a higher incarnation supersedes the suspicion everywhere. Tell the suspecting
            // members at once, so the refutation does not wait for gossip rounds.
            setMyself(incarnation: claimed.incarnation + 1)
            localHealth.degrade()
            let refutation = Membership.Gossip(member: myself)
            gossip.enqueue(refutation)
            let suspectors = Set(entry.suspectedBy)
            for peer in records.keys.filter({ suspectors.contains($0.uid) && $0 != myself.node }).sorted() {
                out.append(.send(.gossip([refutation]), to: peer))
            }
        case .alive where claimed.incarnation > myself.incarnation:
            setMyself(incarnation: claimed.incarnation + 1)
            gossip.enqueue(Membership.Gossip(member: myself))
        case .dead:
            declareMyselfDead(into: &out)
        case .suspect, .alive, .left:
            // Old news, or a `left` only this node can decide.
            break
        }
    }

    mutating func setMyself(incarnation: UInt64) {
        myself.incarnation = incarnation
        let me = myself
        records[me.node]?.member = me
    }

    /// The cluster considers this uid dead: report it once and go quiet.
    mutating func declareMyselfDead(into out: inout [Directive]) {
        guard lifecycle != .declaredDead else { return }
        let previous = myself.status
        lifecycle = .declaredDead
        myself.status = .dead
        let me = myself
        records[me.node]?.member = me
        probes = [:]
        relays = [:]
        out.append(.memberChanged(Membership.Event(.dead, member: myself, previousStatus: previous)))
        out.append(.declaredDead)
    }
}

extension MembershipStateMachine {
    /// Starts joining through `seeds` (addresses; their uids are not known until a node answers).
    /// Join requests are re-sent every ``Membership/Settings/joinRetryInterval`` until one seed answers
    /// with the member list. With no seeds other than this node's own address, this node is the first
    /// member and counts as joined at once.
    package mutating func join(seeds: [NodeAddress], now: Instant) -> [Directive] {
        guard lifecycle == .running else { return [] }
        var unique: [NodeAddress] = []
        for seed in seeds where seed != myself.node.address && !unique.contains(seed) { unique.append(seed) }
        self.seeds = unique
        guard !unique.isEmpty else {
            joinState = .joined
            return []
        }
        joinState = .joining(nextAttempt: now.advanced(by: settings.joinRetryInterval))
        return joinRequests(to: unique)
    }

    /// Graceful leave: this node marks itself `left` and pushes that to every member it can reach; it
    /// keeps answering pings (so the news spreads further) but probes nobody. The shell stops the node
    /// after draining.
    package mutating func leave(now: Instant) -> [Directive] {
        guard lifecycle == .running else { return [] }
        lifecycle = .left
        probes = [:]
        relays = [:]
        let previous = myself.status
        myself.status = .left
        let me = myself
        records[me.node]?.member = me
        records[me.node]?.terminalSince = now
        let entry = Membership.Gossip(member: myself)
        gossip.enqueue(entry)
        var out: [Directive] = [.memberChanged(Membership.Event(.left, member: myself, previousStatus: previous))]
        for member in reachableMembers {
            out.append(.send(.gossip([entry]), to: member.node))
        }
        return out
    }

    /// Handles one message from `sender` (the peer's handshaken identity).
    package mutating func receive(_ message: Membership.Message, from sender: ClusterNode, now: Instant)
        -> [Directive]
    {
        switch lifecycle {
        case .declaredDead:
            return []
        case .left:
            // Still answer pings: the ack carries the `left` record to whoever has not heard.
            guard case .ping(let ping) = message, ping.target == myself.node else { return [] }
            let ack = Membership.Ack(sequence: ping.sequence, target: myself.node, gossip: piggyback(for: sender))
            return [.send(.ack(ack), to: sender)]
        case .running:
            break
        }
        if case .statusRequest = message {
            return [.send(.joinReply(fullState), to: sender)]
        }
        if case .joinReply(let reply) = message {
            // Processed even from a uid that is dead here: it may be the news that *this* node is out.
            return receiveJoinReply(reply, from: sender, now: now)
        }
        if sender != myself.node, removed[sender] != nil || records[sender]?.member.status == .dead {
            // This uid is dead here. If it is talking, it must learn that it is out.
            return [.send(.joinReply(.declaredDead), to: sender)]
        }
        // A message from the member proves the connection works again.
        records[sender]?.connectionLost = false
        switch message {
        case .ping(let ping):
            return receivePing(ping, from: sender, now: now)
        case .pingRequest(let request):
            return receivePingRequest(request, from: sender, now: now)
        case .ack(let ack):
            return receiveAck(ack, from: sender, now: now)
        case .nack(let nack):
            return receiveNack(nack, from: sender, now: now)
        case .join(let request):
            return receiveJoin(request, from: sender, now: now)
        case .joinReply(let reply):
            return receiveJoinReply(reply, from: sender, now: now)
        case .gossip(let entries):
            var out: [Directive] = []
            apply(entries, now: now, into: &out)
            return out
        case .statusRequest:
            return []  // answered above
        }
    }

    private mutating func receiveJoin(_ request: Membership.JoinRequest, from sender: ClusterNode, now: Instant)
        -> [Directive]
    {
        guard request.member.node == sender else { return [] }
        if records[sender]?.member.status == .left {
            return [.send(.joinReply(.declaredDead), to: sender)]
        }
        var out: [Directive] = []
        var joining = request.member
        joining.status = .alive
        apply(Membership.Gossip(member: joining), fromSubject: true, now: now, into: &out)
        out.append(.send(.joinReply(fullState), to: sender))
        return out
    }

    /// Every record this node holds and every removed node it remembers.
    private var fullState: Membership.JoinReply {
        .welcome(members: records.keys.sorted().compactMap { gossipEntry(for: $0) }, removed: removed.keys.sorted())
    }

    private mutating func receiveJoinReply(_ reply: Membership.JoinReply, from sender: ClusterNode, now: Instant)
        -> [Directive]
    {
        var out: [Directive] = []
        switch reply {
        case .declaredDead:
            declareMyselfDead(into: &out)
        case .welcome(let members, let removedNodes):
            if removedNodes.contains(myself.node) {
                declareMyselfDead(into: &out)
                return out
            }
            for node in removedNodes where records[node] == nil {
                removed[node] = now.advanced(by: settings.tombstoneRetention)
            }
            apply(members, now: now, into: &out)
            if lifecycle == .running { joinState = .joined }
        }
        return out
    }

    /// Retries joining; once joined, re-contacts seeds that have no live member (a seed that started
    /// late, or the other side of a healed partition) and pulls the full state from a random member
    /// every ``Membership/Settings/fullSyncInterval``.
    mutating func checkJoin(now: Instant, into out: inout [Directive]) {
        if now >= nextFullSync {
            nextFullSync = now.advanced(by: settings.fullSyncInterval)
            let peers = reachableMembers.filter { $0.status == .alive }.map(\.node)
            if let peer = peers.randomElement(using: &random) {
                out.append(.send(.join(Membership.JoinRequest(member: myself)), to: peer))
            }
        }
        switch joinState {
        case .joining(let nextAttempt) where now >= nextAttempt:
            joinState = .joining(nextAttempt: now.advanced(by: settings.joinRetryInterval))
            out += joinRequests(to: seeds)
        case .joined where !seeds.isEmpty && now >= nextSeedCheck:
            nextSeedCheck = now.advanced(by: settings.seedRecheckInterval)
            let covered = Set(reachableMembers.map(\.node.address))
            out += joinRequests(to: seeds.filter { !covered.contains($0) })
        default:
            break
        }
    }

    private func joinRequests(to addresses: [NodeAddress]) -> [Directive] {
        addresses.map { .sendToAddress(.join(Membership.JoinRequest(member: myself)), address: $0) }
    }
}

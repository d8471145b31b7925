extension MembershipStateMachine {
    /// The periodic step. Call it every ``Membership/Settings/tickInterval``: it fires due timeouts
    /// (probe phases, helper nacks, suspicions), starts the next probe round when due, removes members
    /// that have been dead or left long enough, and retries joining.
    package mutating func tick(now: Instant) -> [Directive] {
        guard lifecycle == .running else {
            lastTick = now
            return []
        }
        var out: [Directive] = []
        absorbStall(now: now)
        lastTick = now
        checkProbes(now: now, into: &out)
        checkRelays(now: now, into: &out)
        checkSuspicions(now: now, into: &out)
        if now >= nextProbeAt {
            probeRound(now: now, into: &out)
            nextProbeAt = now.advanced(by: scaled(settings.probeInterval))
        }
        removeExpired(now: now, into: &out)
        checkJoin(now: now, into: &out)
        return out
    }

    /// The connection to `node` closed, or dialing it failed. Strong evidence, not proof: the member is
    /// probed at once, directly (the shell redials) and through helpers, instead of at its turn.
    package mutating func connectionLost(to node: ClusterNode, now: Instant) -> [Directive] {
        guard lifecycle == .running, node != myself.node, let record = records[node],
            !record.member.status.isTerminal
        else { return [] }
        records[node]?.connectionLost = true
        var out: [Directive] = []
        for sequence in relays.keys.sorted() where relays[sequence]!.target == node {
            let relay = relays.removeValue(forKey: sequence)!
            if relay.nackAt != nil {
                let nack = Membership.Nack(sequence: relay.requesterSequence, target: node, reason: .unreachable)
                out.append(.send(.nack(nack), to: relay.requester))
            }
        }
        let running = probes.keys.sorted().filter { probes[$0]!.target == node }
        for sequence in running {
            probes[sequence]!.directFailed = true
            switch probes[sequence]!.phase {
            case .direct:
                escalate(sequence, now: now, into: &out)
            case .indirect:
                if canFailEarly(probes[sequence]!) { fail(sequence, now: now, into: &out) }
            }
        }
        // Probe at once, unless this node already suspects the member itself: then its suspicion
        // timer runs, and every further failed dial would only start the same probe again.
        let confirmed = record.suspicion?.suspectors.contains(myself.node.uid) ?? false
        if running.isEmpty && !confirmed {
            startProbe(of: node, urgent: true, now: now, into: &out)
        }
        return out
    }

    // MARK: Messages of the probe protocol

    mutating func receivePing(_ ping: Membership.Ping, from sender: ClusterNode, now: Instant) -> [Directive] {
        guard ping.target == myself.node else { return [] }  // meant for an earlier start at this address
        var out: [Directive] = []
        learnOrigin(ping.origin, sender: sender, now: now, into: &out)
        apply(ping.gossip, now: now, into: &out)
        guard lifecycle != .declaredDead else { return out }
        let ack = Membership.Ack(sequence: ping.sequence, target: myself.node, gossip: piggyback(for: sender))
        out.append(.send(.ack(ack), to: sender))
        return out
    }

    mutating func receivePingRequest(_ request: Membership.PingRequest, from sender: ClusterNode, now: Instant)
        -> [Directive]
    {
        var out: [Directive] = []
        learnOrigin(request.origin, sender: sender, now: now, into: &out)
        apply(request.gossip, now: now, into: &out)
        guard lifecycle == .running else { return out }
        let target = request.target
        if target == myself.node {
            let ack = Membership.Ack(sequence: request.sequence, target: target, gossip: piggyback(for: sender))
            out.append(.send(.ack(ack), to: sender))
        } else if removed[target] != nil || records[target]?.member.status.isTerminal == true {
            let nack = Membership.Nack(sequence: request.sequence, target: target, reason: .unreachable)
            out.append(.send(.nack(nack), to: sender))
        } else {
            let sequence = makeSequence()
            relays[sequence] = Relay(
                requester: sender, requesterSequence: request.sequence, target: target,
                nackAt: now.advanced(by: request.timeout * settings.nackFraction),
                expiresAt: now.advanced(by: request.timeout))
            let ping = Membership.Ping(
                sequence: sequence, target: target, origin: myself, gossip: piggyback(for: target))
            out.append(.send(.ping(ping), to: target))
        }
        return out
    }

    mutating func receiveAck(_ ack: Membership.Ack, from sender: ClusterNode, now: Instant) -> [Directive] {
        var out: [Directive] = []
        apply(ack.gossip, now: now, into: &out)
        guard lifecycle == .running else { return out }
        if let probe = probes[ack.sequence], probe.target == ack.target {
            probes[ack.sequence] = nil
            localHealth.improve()
        } else if let relay = relays[ack.sequence], relay.target == ack.target {
            relays[ack.sequence] = nil
            let relayed = Membership.Ack(
                sequence: relay.requesterSequence, target: ack.target, gossip: piggyback(for: relay.requester))
            out.append(.send(.ack(relayed), to: relay.requester))
        }
        return out
    }

    mutating func receiveNack(_ nack: Membership.Nack, from sender: ClusterNode, now: Instant) -> [Directive] {
        guard lifecycle == .running, var probe = probes[nack.sequence], probe.target == nack.target,
            probe.helpers.keys.contains(sender)
        else { return [] }
        probe.helpers[sender] = nack.reason
        probes[nack.sequence] = probe
        var out: [Directive] = []
        if canFailEarly(probe) { fail(nack.sequence, now: now, into: &out) }
        return out
    }

    /// The sender's own record: admits a sender this node has not heard of, and works as a refutation
    /// when it carries a higher incarnation than the one suspected here.
    private mutating func learnOrigin(
        _ origin: Membership.Member, sender: ClusterNode, now: Instant, into out: inout [Directive]
    ) {
        guard origin.node == sender, origin.status == .alive else { return }
        apply(Membership.Gossip(member: origin), fromSubject: true, now: now, into: &out)
    }

    // MARK: Probing

    /// One probe round: the next member in the shuffled round-robin order, plus every suspect (so it
    /// hears of the suspicion and can refute, and so this node adds its own confirmation).
    private mutating func probeRound(now: Instant, into out: inout [Directive]) {
        if let target = nextProbeTarget(), !isProbing(target) {
            startProbe(of: target, urgent: false, now: now, into: &out)
        }
        let suspects = records.values.filter { $0.member.status == .suspect }.map(\.member.node).sorted()
        for suspect in suspects where !isProbing(suspect) {
            startProbe(of: suspect, urgent: false, now: now, into: &out)
        }
    }

    private mutating func nextProbeTarget() -> ClusterNode? {
        for refilled in [false, true] {
            if refilled {
                probeOrder = records.values.filter { !$0.member.status.isTerminal && $0.member.node != myself.node }
                    .map(\.member.node).sorted()
                probeOrder.shuffle(using: &random)
            }
            while !probeOrder.isEmpty {
                let candidate = probeOrder.removeFirst()
                if let record = records[candidate], !record.member.status.isTerminal { return candidate }
            }
        }
        return nil
    }

    private func isProbing(_ node: ClusterNode) -> Bool {
        probes.values.contains { $0.target == node }
    }

    /// Sends a direct ping; an urgent probe (after a lost connection) sends the ping requests at once too.
    private mutating func startProbe(of target: ClusterNode, urgent: Bool, now: Instant, into out: inout [Directive]) {
        let sequence = makeSequence()
        probes[sequence] = Probe(
            target: target, phase: .direct(deadline: now.advanced(by: scaled(settings.pingTimeout))))
        let ping = Membership.Ping(sequence: sequence, target: target, origin: myself, gossip: piggyback(for: target))
        out.append(.send(.ping(ping), to: target))
        if urgent { escalate(sequence, now: now, into: &out) }
    }

    /// The direct ping failed or timed out: ask up to k alive members to ping the target.
    private mutating func escalate(_ sequence: UInt64, now: Instant, into out: inout [Directive]) {
        guard var probe = probes[sequence] else { return }
        var candidates = records.values.filter {
            $0.member.status == .alive && $0.member.node != myself.node && $0.member.node != probe.target
        }.map(\.member.node).sorted()
        candidates.shuffle(using: &random)
        let helpers = candidates.prefix(settings.indirectProbeCount)
        let timeout = scaled(settings.indirectPingTimeout)
        probe.phase = .indirect(deadline: now.advanced(by: timeout))
        probe.helpers = Dictionary(uniqueKeysWithValues: helpers.map { ($0, Membership.Nack.Reason?.none) })
        probes[sequence] = probe
        for helper in helpers {
            let request = Membership.PingRequest(
                sequence: sequence, target: probe.target, timeout: timeout, origin: myself,
                gossip: piggyback(for: helper))
            out.append(.send(.pingRequest(request), to: helper))
        }
        if canFailEarly(probe) { fail(sequence, now: now, into: &out) }
    }

    /// No need to wait for the deadline: the target cannot be dialed and every helper reports the same.
    private func canFailEarly(_ probe: Probe) -> Bool {
        probe.directFailed && probe.helpers.values.allSatisfy { $0 == .unreachable }
    }

    /// The probe got no ack: suspect the target (or confirm an existing suspicion).
    private mutating func fail(_ sequence: UInt64, now: Instant, into out: inout [Directive]) {
        guard let probe = probes.removeValue(forKey: sequence), let record = records[probe.target] else { return }
        switch record.member.status {
        case .alive:
            // Lifeguard: a failed probe, and helpers that did not even nack, hint at trouble here.
            localHealth.degrade()
            if probe.helpers.values.contains(where: { $0 == nil }) { localHealth.degrade() }
            transition(
                probe.target, to: .suspect, incarnation: record.member.incarnation, suspectors: [myself.node.uid],
                now: now, into: &out)
            // Buddy system: tell the suspect right away so it can refute.
            if let entry = gossipEntry(for: probe.target) {
                out.append(.send(.gossip([entry]), to: probe.target))
            }
        case .suspect:
            // This node's own failed probe is one more independent confirmation.
            guard var suspicion = record.suspicion else { return }
            if suspicion.suspectors.insert(myself.node.uid).inserted {
                records[probe.target]?.suspicion = suspicion
                if let entry = gossipEntry(for: probe.target) { gossip.enqueue(entry) }
            }
        case .dead, .left:
            break
        }
    }

    // MARK: Timeouts

    private mutating func checkProbes(now: Instant, into out: inout [Directive]) {
        guard !probes.isEmpty else { return }
        for sequence in probes.keys.sorted() {
            guard let probe = probes[sequence] else { continue }
            switch probe.phase {
            case .direct(let deadline) where now >= deadline:
                escalate(sequence, now: now, into: &out)
            case .indirect(let deadline) where now >= deadline:
                fail(sequence, now: now, into: &out)
            default:
                break
            }
        }
    }

    private mutating func checkRelays(now: Instant, into out: inout [Directive]) {
        guard !relays.isEmpty else { return }
        for sequence in relays.keys.sorted() {
            guard var relay = relays[sequence] else { continue }
            if let nackAt = relay.nackAt, now >= nackAt {
                let nack = Membership.Nack(sequence: relay.requesterSequence, target: relay.target, reason: .timeout)
                out.append(.send(.nack(nack), to: relay.requester))
                relay.nackAt = nil
                relays[sequence] = relay
            }
            if now >= relay.expiresAt { relays[sequence] = nil }
        }
    }

    private mutating func checkSuspicions(now: Instant, into out: inout [Directive]) {
        var expired: [Member] = []
        for record in records.values {
            guard let suspicion = record.suspicion else { continue }
            let deadline =
                record.connectionLost
                ? suspicion.deadline(min: settings.suspicionTimeoutMin, max: settings.suspicionTimeoutMax)
                : suspicion.deadline(min: settings.silentSuspicionTimeoutMin, max: settings.silentSuspicionTimeoutMax)
            if now >= deadline {
                expired.append(record.member)
            }
        }
        guard !expired.isEmpty else { return }
        for member in expired.sorted(by: { $0.node < $1.node }) {
            transition(member.node, to: .dead, incarnation: member.incarnation, suspectors: [], now: now, into: &out)
        }
    }

    private mutating func removeExpired(now: Instant, into out: inout [Directive]) {
        var due: [ClusterNode] = []
        for record in records.values {
            guard let since = record.terminalSince, record.member.node != myself.node else { continue }
            if now >= since.advanced(by: settings.removalDelay) { due.append(record.member.node) }
        }
        for node in due.sorted() { remove(node, now: now, into: &out) }
        if removed.values.contains(where: { $0 <= now }) {
            removed = removed.filter { $0.value > now }
        }
    }

    /// A gap between ticks far beyond the tick interval means this node was not running. Time that
    /// passed while it could not process acks must not count against the peers: shift every running
    /// deadline by the excess, and raise the local health multiplier.
    private mutating func absorbStall(now: Instant) {
        let gap = lastTick.duration(to: now)
        guard gap > settings.stallThreshold else { return }
        let shift = gap - settings.tickInterval
        localHealth.degrade()
        for sequence in probes.keys {
            switch probes[sequence]!.phase {
            case .direct(let deadline): probes[sequence]!.phase = .direct(deadline: deadline.advanced(by: shift))
            case .indirect(let deadline): probes[sequence]!.phase = .indirect(deadline: deadline.advanced(by: shift))
            }
        }
        for sequence in relays.keys {
            relays[sequence]!.nackAt = relays[sequence]!.nackAt?.advanced(by: shift)
            relays[sequence]!.expiresAt = relays[sequence]!.expiresAt.advanced(by: shift)
        }
        for node in records.keys where records[node]!.suspicion != nil {
            records[node]!.suspicion!.startedAt = records[node]!.suspicion!.startedAt.advanced(by: shift)
        }
    }
}

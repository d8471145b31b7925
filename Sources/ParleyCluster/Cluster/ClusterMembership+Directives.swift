import Synchronization
import Logging

extension ClusterMembership {
    // MARK: Directives (under the lock)

    /// Applies membership directives: events go to subscribers and to the receptionist at once,
    /// everything that touches the network becomes an effect.
    func apply(
        _ directives: [Membership.Directive], to state: inout State, now: Instant, effects: inout [Effect]
    ) {
        for directive in directives {
            switch directive {
            case .send(let message, let node):
                effects.append(.sendMembership(message, to: node))
            case .sendToAddress(let message, let address):
                effects.append(.sendMembershipToAddress(message, address: address))
            case .closeConnection(let node):
                effects.append(.markDown(node))
            case .declaredDead:
                state.declaredDead = true
                effects.append(.declaredDead)
            case .memberChanged(let event):
                publish(event, to: &state, now: now, effects: &effects)
            }
        }
    }

    private func publish(_ event: Membership.Event, to state: inout State, now: Instant, effects: inout [Effect]) {
        for continuation in state.eventSubscribers.values { continuation.yield(event) }
        let node = event.member.node
        let isSelf = node == system.node
        switch event.change {
        case .joined, .alive:
            if !isSelf { apply(state.receptionist.memberUp(node, now: now), to: &state, effects: &effects) }
        case .dead, .left, .removed:
            if !isSelf {
                apply(state.receptionist.memberDown(node, now: now), to: &state, effects: &effects)
                if event.change != .removed { effects.append(.markDown(node)) }
            }
        case .suspect:
            break  // A suspect keeps its calls: only `dead` fails them.
        }
        let level: Logger.Level = event.change == .dead ? .warning : .info
        logger.log(
            level: level, "member \(event.change)",
            metadata: ["member.node": "\(node)", "member.status": "\(event.member.status)",
                       "member.incarnation": "\(event.member.incarnation)"])
    }

    /// Applies receptionist directives: listings go to subscribers, sends become effects.
    func apply(_ directives: [Receptionist.Directive], to state: inout State, effects: inout [Effect]) {
        for directive in directives {
            switch directive {
            case .send(let message, let node):
                effects.append(.sendReceptionist(message, to: node))
            case .listingChanged(let key, let entries):
                let ids = entries.map { ClusterActorID(node: $0.node, path: $0.path) }
                for continuation in state.listingSubscribers[key, default: [:]].values { continuation.yield(ids) }
            }
        }
    }

    // MARK: Effects (outside the lock)

    func perform(_ effects: [Effect]) {
        guard !effects.isEmpty, !system.isShutDown else { return }
        for effect in effects {
            switch effect {
            case .sendMembership(.joinReply(.declaredDead), let node):
                // The only message for a dead uid: sent over the connection it opened, if any.
                let bytes = encode(Membership.Message.joinReply(.declaredDead))
                _ = bytes.map { system.trySendSystemMessage(channel: Self.membershipChannel, to: node, $0, evenIfDown: true) }
            case .sendMembership(let message, let node):
                send(message, channel: Self.membershipChannel, to: node, reportFailure: true)
            case .sendReceptionist(let message, let node):
                send(message, channel: Self.receptionistChannel, to: node, reportFailure: false)
            case .sendMembershipToAddress(let message, let address):
                guard let bytes = encode(message) else { continue }
                let system = self.system
                Task {
                    // A failed dial to a seed is not reported: the state machine retries the join.
                    try? await system.sendSystemMessage(channel: Self.membershipChannel, toAddress: address, bytes)
                }
            case .markDown(let node):
                if !system.isDown(node) { system.markDown(node) }
            case .declaredDead:
                logger.critical(
                    "the cluster declared this node dead; it stops now and must be started again (new identity)")
                stop()
                let system = self.system
                Task { await system.shutdown() }
            }
        }
    }

    /// Sends at once on an open connection, or dials in a task. A failed dial or a peer that answers
    /// with another uid is reported to membership as a lost connection.
    private func send(_ message: some Encodable, channel: UInt8, to node: ClusterNode, reportFailure: Bool) {
        guard let bytes = encode(message) else { return }
        if system.trySendSystemMessage(channel: channel, to: node, bytes) { return }
        guard !system.isDown(node) else { return }
        let system = self.system
        Task { [weak self] in
            do {
                try await system.sendSystemMessage(channel: channel, to: node, bytes)
            } catch {
                if reportFailure { self?.connectionLost(to: node) }
            }
        }
    }

    private func encode(_ message: some Encodable) -> [UInt8]? {
        do {
            return try BinaryEncoder().encode(message)
        } catch {
            logger.error("cannot encode a cluster message", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

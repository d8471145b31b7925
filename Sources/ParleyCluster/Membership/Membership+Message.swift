extension Membership {
    /// Every membership message on the wire. The shell serializes it, sends it to one peer and hands a
    /// received one to ``MembershipStateMachine/receive(_:from:now:)`` together with the handshaken sender.
    package enum Message: Hashable, Sendable, Codable {
        /// Direct probe.
        case ping(Ping)
        /// Ask the receiver to probe `target` on the sender's behalf (SWIM's ping-req).
        case pingRequest(PingRequest)
        /// Answer to a ping, or a helper relaying the target's answer to a ping request.
        case ack(Ack)
        /// A helper's report that the target did not answer in time or cannot be reached.
        case nack(Nack)
        /// A node asks to join (sent to a seed address, or to any member).
        case join(JoinRequest)
        /// The answer to a join: the full member list, or the news that the sender's uid is dead here.
        case joinReply(JoinReply)
        /// One-way push of gossip: a graceful leave, a suspicion sent to its subject, a refutation.
        case gossip([Gossip])
        /// A read-only request for the member list from a client that is not a member (for example
        /// `parley cluster status`); answered with ``JoinReply/welcome(members:removed:)`` without
        /// admitting the sender.
        case statusRequest
    }

    /// One disseminated membership update.
    package struct Gossip: Hashable, Sendable, Codable {
        /// The member's record: identity, roles, region, status and incarnation.
        package var member: Member
        /// For `suspect`: uids of the members that suspect it at this incarnation (independent
        /// confirmations shorten the suspicion timeout). Empty for other statuses.
        package var suspectedBy: [UInt64]

        package init(member: Member, suspectedBy: [UInt64] = []) {
            self.member = member
            self.suspectedBy = suspectedBy
        }
    }

    /// A direct probe. The receiver answers with an ``Ack`` carrying the same sequence number.
    package struct Ping: Hashable, Sendable, Codable {
        /// Chosen by the sender; the ack echoes it.
        package var sequence: UInt64
        /// The node the sender means to probe. A ping for another uid (an earlier start of the
        /// receiver's address) is ignored.
        package var target: ClusterNode
        /// The sender's own record, so a receiver that has not heard of it yet (its join gossip ran
        /// out before the receiver arrived) learns it from the first ping.
        package var origin: Member
        /// Piggybacked updates.
        package var gossip: [Gossip]
    }

    /// Ask the receiver to ping `target` and to relay the ack, or to nack.
    package struct PingRequest: Hashable, Sendable, Codable {
        /// The requester's sequence number, echoed in the relayed ack or the nack.
        package var sequence: UInt64
        /// The member to probe.
        package var target: ClusterNode
        /// How long the requester waits; the helper nacks after ``Settings/nackFraction`` of it.
        package var timeout: Duration
        /// The requester's own record (see ``Ping/origin``).
        package var origin: Member
        /// Piggybacked updates.
        package var gossip: [Gossip]
    }

    /// Proof that `target` answered the ping with `sequence`.
    package struct Ack: Hashable, Sendable, Codable {
        /// The sequence number of the ping or ping request answered.
        package var sequence: UInt64
        /// The member that answered.
        package var target: ClusterNode
        /// Piggybacked updates.
        package var gossip: [Gossip]
    }

    /// A helper could not get an ack from the target of a ping request.
    package struct Nack: Hashable, Sendable, Codable {
        /// Why the helper gives up.
        package enum Reason: String, Hashable, Sendable, Codable {
            /// No ack within the helper's share of the requester's timeout.
            case timeout
            /// The helper's connection to the target failed or is closed.
            case unreachable
        }

        /// The requester's sequence number.
        package var sequence: UInt64
        /// The member that did not answer.
        package var target: ClusterNode
        /// Why.
        package var reason: Reason
    }

    /// A node's request to join the cluster, carrying its own record.
    package struct JoinRequest: Hashable, Sendable, Codable {
        /// The joining node (status `alive`).
        package var member: Member
    }

    /// The answer to a ``JoinRequest`` (also sent to any node whose uid this node holds as dead).
    package enum JoinReply: Hashable, Sendable, Codable {
        /// Full state: every member this node knows (including `dead`/`left` ones not yet removed, with
        /// the suspecting members of `suspect` ones) and the nodes it remembers as removed.
        case welcome(members: [Gossip], removed: [ClusterNode])
        /// The receiver's uid was declared dead or left; it must start again with a new uid.
        case declaredDead
    }
}

extension Membership {
    /// An instruction from ``MembershipStateMachine`` to its shell.
    package enum Directive: Hashable, Sendable {
        /// Send `message` to the node with exactly this uid. If there is no connection the shell dials;
        /// if the dial fails, or the peer at that address has another uid, it reports
        /// ``MembershipStateMachine/connectionLost(to:now:)``.
        case send(Message, to: ClusterNode)
        /// Send `message` (a join) to whatever node listens at `address` — a seed whose uid is not known yet.
        /// A failed dial is not reported; the state machine retries.
        case sendToAddress(Message, address: NodeAddress)
        /// Publish a membership event.
        case memberChanged(Event)
        /// The member is dead: close its connection and fail its calls and streams at once.
        case closeConnection(ClusterNode)
        /// The cluster declared *this* node dead (or it was told so when contacting a member). The node is
        /// out for good: the shell must stop it or start again with a new uid.
        case declaredDead
    }
}

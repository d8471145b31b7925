/// Namespace of Parley's SWIM-style gossip membership: member records, events, settings, wire messages and
/// the directives that ``MembershipStateMachine`` hands to its shell.
///
/// The protocol follows SWIM (periodic ping, indirect ping through k members, suspicion refuted with
/// incarnation numbers, dissemination piggybacked on protocol messages) with the Lifeguard extensions
/// (local health multiplier, suspicion timeouts that shrink with independent confirmations, buddy
/// system). Liveness is tracked per *start* of a node: ``ClusterNode/uid`` changes on every start, and
/// `dead`/`left` are final for a uid.
public enum Membership {}

extension Membership {
    /// Liveness of one member (one ``ClusterNode``, so one start of a node) as seen by this node.
    public enum Status: String, Hashable, Sendable, Codable, CustomStringConvertible {
        /// Answers probes, or has refuted every suspicion so far.
        case alive
        /// A probe failed; the member is declared dead unless it refutes before the suspicion timeout.
        case suspect
        /// Declared dead. Final for this uid; a restart joins as a new member.
        case dead
        /// Left gracefully. Final for this uid.
        case left

        /// `dead` and `left` are final: no later update about the same uid changes them.
        public var isTerminal: Bool { self == .dead || self == .left }

        public var description: String { rawValue }
    }

    /// One member as this node sees it. `roles` and `region` are fixed for the lifetime of a uid and
    /// travel with every gossip entry, so a node learns them together with the member.
    public struct Member: Hashable, Sendable, Codable, CustomStringConvertible {
        /// The member's identity, including its per-start uid.
        public var node: ClusterNode
        /// The member's roles (`--roles`), sorted and without duplicates; empty for a plain member.
        public var roles: [String]
        /// The member's region (`--region`), `nil` when not configured.
        public var region: String?
        /// Liveness as this node sees it.
        public var status: Status
        /// Raised only by the member itself, to refute a suspicion about it.
        public var incarnation: UInt64

        public init(
            node: ClusterNode, roles: some Sequence<String> = [], region: String? = nil,
            status: Status = .alive, incarnation: UInt64 = 0
        ) {
            self.node = node
            self.roles = Array(Set(roles)).sorted()
            self.region = region
            self.status = status
            self.incarnation = incarnation
        }

        /// Whether the member holds `role`.
        public func hasRole(_ role: String) -> Bool { roles.contains(role) }

        public var description: String { "\(node) \(status) inc=\(incarnation)" }
    }

    /// A change of one member's status, reported by ``Directive/memberChanged(_:)`` and published by the
    /// cluster system as its membership `AsyncSequence`.
    public struct Event: Hashable, Sendable, CustomStringConvertible {
        /// What happened to the member.
        public enum Change: String, Hashable, Sendable, Codable {
            /// First heard of this uid.
            case joined
            /// A suspicion was refuted.
            case alive
            /// A probe failed or another member reported a failed probe.
            case suspect
            /// Declared dead (suspicion timed out, gossip said so, or a restart with a new uid replaced it).
            case dead
            /// Left gracefully.
            case left
            /// A `dead` or `left` member was dropped from the member list (its uid stays remembered as gone).
            case removed
        }

        /// What happened.
        public var change: Change
        /// The member after the change (for `removed`: the last record before removal).
        public var member: Member
        /// The member's status before the change; `nil` for `joined`.
        public var previousStatus: Status?

        public init(_ change: Change, member: Member, previousStatus: Status?) {
            self.change = change
            self.member = member
            self.previousStatus = previousStatus
        }

        public var description: String {
            "\(change) \(member.node) (\(previousStatus.map(\.rawValue) ?? "new") -> \(member.status))"
        }
    }
}

extension Membership.Member {
    /// SWIM precedence: whether `self`, heard as an update, replaces `current` (the record held for the same uid).
    ///
    /// - `dead` and `left` are final: nothing replaces them, and they replace any non-final record.
    /// - `suspect` replaces `alive` of the same or a lower incarnation, and `suspect` of a lower one.
    /// - `alive` replaces `alive` or `suspect` of a lower incarnation only: refuting needs a higher incarnation.
    package func supersedes(_ current: Membership.Member) -> Bool {
        if current.status.isTerminal { return false }
        switch status {
        case .dead, .left:
            return true
        case .suspect:
            return current.status == .alive ? incarnation >= current.incarnation : incarnation > current.incarnation
        case .alive:
            return incarnation > current.incarnation
        }
    }
}

extension Membership {
    /// Timing and sizing of the membership protocol. Every field has a default; tests shorten or
    /// lengthen timings through this same struct. ``validate()`` checks the invariants in one place.
    ///
    /// The defaults aim at the goal of issue 2: a killed node is seen as `dead` by every member within
    /// 2 s (p50) and 3 s (max), with no false `dead` verdict while the machine's cores are saturated.
    /// How they get there:
    /// - On loopback and on most real networks a killed process's TCP connections close at once; the
    ///   shell reports that through ``MembershipStateMachine/connectionLost(to:now:)``. That is strong
    ///   but not conclusive evidence (a peer may be reconnecting), so it starts an *urgent probe*: a
    ///   direct ping (the shell redials) and ping requests through ``indirectProbeCount`` helpers at once.
    ///   Helpers that cannot reach the target either answer with an `unreachable` nack, so the member
    ///   becomes `suspect` within milliseconds rather than after a probe period.
    /// - Every other member lost its connection too and suspects at about the same time; their
    ///   suspicions reach each other piggybacked on the next pings (one probe period, 300 ms) and, being
    ///   independent confirmations, shrink the suspicion timeout from ``suspicionTimeoutMax`` towards
    ///   ``suspicionTimeoutMin`` (Lifeguard). So a kill is typically detected after about 1–1.5 s, and the
    ///   worst case (no confirmation at all) is bounded by the urgent probe plus ``suspicionTimeoutMax``,
    ///   which the first member's `dead` gossip usually cuts short for the others.
    /// - Without connection loss (a silent peer, a partition) detection is slower: a direct ping
    ///   (``pingTimeout``), then ping requests (``indirectPingTimeout``), then the longer *silent*
    ///   suspicion timeout (``silentSuspicionTimeoutMin`` … ``silentSuspicionTimeoutMax``). A process that
    ///   is merely starved of CPU keeps its connections open, so it gets this longer grace.
    /// - False positives: a live member refutes a suspicion by raising its incarnation. It hears of the
    ///   suspicion at once (the suspecting node pushes it to the suspect, the "buddy system") and its
    ///   refutation goes straight back to all suspecting members, so it has at least
    ///   ``silentSuspicionTimeoutMin`` (3 s) to be scheduled once — far above scheduler delays on a
    ///   saturated 2-core machine. When this node itself runs late (missed nacks, failed probes, refuted
    ///   suspicions, or ticks that arrive late), the local health multiplier stretches its probe
    ///   timeouts and probe interval up to ``maxLocalHealthMultiplier``×, and a stalled tick shifts every
    ///   running deadline instead of letting them all expire together.
    package struct Settings: Sendable, Hashable {
        /// How often a new probe round starts (round-robin over a shuffled member list), multiplied by
        /// the local health multiplier. Default 300 ms: with n members each member is probed about every
        /// 300 ms / (n − 1) by someone, and gossip advances one hop per period.
        package var probeInterval: Duration = .milliseconds(300)
        /// How long a direct ping waits for its ack before ping requests go out, multiplied by the local
        /// health multiplier. Default 200 ms: loopback and LAN round trips are well below 1 ms, so this
        /// only absorbs scheduling delays.
        package var pingTimeout: Duration = .milliseconds(200)
        /// How long ping requests (indirect probes) wait for an ack through a helper, multiplied by the
        /// local health multiplier. Default 400 ms. A probe of a silent member thus fails after 600 ms.
        package var indirectPingTimeout: Duration = .milliseconds(400)
        /// Number of helpers asked to ping a target indirectly (SWIM's k). Default 3.
        package var indirectProbeCount: Int = 3
        /// Fraction of the requester's indirect timeout after which a helper that got no ack reports a
        /// nack, so the requester can tell "target silent" from "helper silent". Default 0.8 (Lifeguard).
        package var nackFraction: Double = 0.8
        /// Suspicion timeout once the expected number of independent confirmations arrived, when this
        /// node also saw the member's connection close or a dial to it fail (a killed process).
        /// Default 1 s.
        package var suspicionTimeoutMin: Duration = .seconds(1)
        /// Suspicion timeout without any confirmation, when this node saw the member's connection close
        /// or a dial fail. Default 3 s. With `k` expected confirmations and `c` received the timeout is
        /// `max − (max − min) · log(c + 1) / log(k + 1)`, never below `min`;
        /// `k = min(indirectProbeCount, members − 2)`, so with 2 members it is `min` at once.
        package var suspicionTimeoutMax: Duration = .seconds(3)
        /// Like ``suspicionTimeoutMin``, when the member's connection stayed up (or there was none) and
        /// probes just went unanswered: an overloaded or stopped process keeps its TCP connections open,
        /// a killed one does not. Default 3 s, so a live member may stall for about 3.6 s in all before
        /// it is declared dead. Also the detection time after a partition or a power loss.
        package var silentSuspicionTimeoutMin: Duration = .seconds(3)
        /// Like ``suspicionTimeoutMax``, for silent members (see ``silentSuspicionTimeoutMin``). Default 6 s.
        package var silentSuspicionTimeoutMax: Duration = .seconds(6)
        /// Upper bound of the local health multiplier (Lifeguard's S + 1). Default 8.
        package var maxLocalHealthMultiplier: Int = 8
        /// Expected interval between the shell's calls to ``MembershipStateMachine/tick(now:)``. Default 50 ms.
        /// Timeouts are only checked on ticks, so they fire up to one tick late.
        package var tickInterval: Duration = .milliseconds(50)
        /// A gap between two ticks longer than this means this node was not scheduled (CPU starvation,
        /// a stopped process): every running deadline is shifted by the excess and the local health
        /// multiplier rises. Default 250 ms.
        package var stallThreshold: Duration = .milliseconds(250)
        /// λ in "each update is gossiped λ·⌈log₂(n + 1)⌉ times". Default 3.
        package var gossipRetransmitMultiplier: Int = 3
        /// Most gossip entries piggybacked on one message. Default 12.
        package var maxGossipEntriesPerMessage: Int = 12
        /// How often join requests are re-sent to the seeds until one answers. Default 1 s.
        package var joinRetryInterval: Duration = .seconds(1)
        /// How often, once joined, a join request goes to each seed address with no alive member, so a
        /// seed that started late or a healed partition merges into one cluster. Default 5 s.
        package var seedRecheckInterval: Duration = .seconds(5)
        /// How often, once joined, this node pulls the full member list from one random member
        /// (anti-entropy: heals what piggybacked gossip missed, e.g. after its retransmissions ran out).
        /// Default 10 s.
        package var fullSyncInterval: Duration = .seconds(10)
        /// How long `dead` and `left` members stay in the member list before a `removed` event. Default 30 s.
        package var removalDelay: Duration = .seconds(30)
        /// How long the uid of a removed member is remembered, so stale gossip cannot bring it back.
        /// Default 1 h.
        package var tombstoneRetention: Duration = .seconds(3600)

        package init() {}

        /// Checks the invariants between the fields; a violation is a programming error.
        package func validate() {
            precondition(probeInterval > .zero, "probeInterval must be positive")
            precondition(pingTimeout > .zero && indirectPingTimeout > .zero, "ping timeouts must be positive")
            precondition(indirectProbeCount >= 0, "indirectProbeCount must not be negative")
            precondition(nackFraction > 0 && nackFraction < 1, "nackFraction must be in (0, 1)")
            precondition(
                suspicionTimeoutMin > .zero && suspicionTimeoutMin <= suspicionTimeoutMax,
                "need 0 < suspicionTimeoutMin <= suspicionTimeoutMax")
            precondition(
                silentSuspicionTimeoutMin >= suspicionTimeoutMin
                    && silentSuspicionTimeoutMin <= silentSuspicionTimeoutMax,
                "need suspicionTimeoutMin <= silentSuspicionTimeoutMin <= silentSuspicionTimeoutMax")
            precondition(maxLocalHealthMultiplier >= 1, "maxLocalHealthMultiplier must be at least 1")
            precondition(
                tickInterval > .zero && stallThreshold > tickInterval, "need 0 < tickInterval < stallThreshold")
            precondition(gossipRetransmitMultiplier >= 1, "gossipRetransmitMultiplier must be at least 1")
            precondition(maxGossipEntriesPerMessage >= 1, "maxGossipEntriesPerMessage must be at least 1")
            precondition(
                joinRetryInterval > .zero && seedRecheckInterval > .zero && fullSyncInterval > .zero,
                "join intervals must be positive")
            precondition(removalDelay >= .zero && tombstoneRetention >= .zero, "retention must not be negative")
        }
    }
}

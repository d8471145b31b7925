import ParleyCluster

/// One attempt of a relay on one endpoint: counted in flight from `Router.begin` until its
/// outcome is reported — explicitly, or as abandoned when the lease is dropped (the relay's
/// consumer went away). Measures the time to first token and the mean inter-token gap.
final class AttemptLease {
    let endpoint: ClusterActorID
    let isProbe: Bool
    private let router: Router
    private let conversationID: String?
    private let started: ContinuousClock.Instant
    private var lastToken: ContinuousClock.Instant?
    private var gapTotal: Duration = .zero
    private var gaps = 0
    private var ended = false

    init(endpoint: ClusterActorID, isProbe: Bool, router: Router, conversationID: String?) {
        self.endpoint = endpoint
        self.isProbe = isProbe
        self.router = router
        self.conversationID = conversationID
        self.started = router.now
    }

    /// Whether this attempt delivered a token yet.
    var hasTokens: Bool { lastToken != nil }

    /// A token (or the end) arrived from the endpoint.
    func received() {
        let now = router.now
        if let lastToken {
            gapTotal += lastToken.duration(to: now)
            gaps += 1
        } else {
            router.firstToken(endpoint, after: started.duration(to: now))
        }
        lastToken = now
    }

    func end(_ outcome: RoutingTable<ContinuousClock.Instant>.Outcome) {
        guard !ended else { return }
        ended = true
        let interToken = gaps > 0 ? gapTotal.milliseconds / Double(gaps) : nil
        router.end(
            endpoint, outcome: outcome, wasProbe: isProbe, interTokenMillis: interToken, conversationID: conversationID)
    }

    deinit { end(.abandoned) }
}

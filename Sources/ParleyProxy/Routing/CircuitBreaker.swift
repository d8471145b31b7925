/// A circuit breaker for one endpoint, as a pure state machine: the caller passes the time in and
/// carries out nothing but the returned decisions.
///
/// - `closed`: requests pass. It opens after ``Settings/consecutiveFailures`` failures in a row, or
///   when more than ``Settings/errorRateThreshold`` of at least ``Settings/minimumRequests``
///   outcomes within the last ``Settings/window`` were failures.
/// - `open`: requests are refused until ``Settings/coolDown`` has passed.
/// - `halfOpen`: after the cool-down, exactly one request (the probe) passes; its success closes
///   the breaker, its failure opens it again for another cool-down.
public struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration, Instant: Sendable {
    /// Thresholds and timings; every field has a documented default.
    public struct Settings: Sendable, Hashable {
        /// Failures in a row that open the breaker. Default 5.
        public var consecutiveFailures: Int
        /// Failure ratio above which the breaker opens (with enough outcomes in the window). Default 0.5.
        public var errorRateThreshold: Double
        /// Outcomes needed in the window before the ratio counts. Default 10.
        public var minimumRequests: Int
        /// How far back the ratio looks. Default 30 s.
        public var window: Duration
        /// How long an open breaker refuses before it lets a probe through. Default 5 s.
        public var coolDown: Duration

        /// Creates settings; every argument has the documented default.
        public init(
            consecutiveFailures: Int = 5, errorRateThreshold: Double = 0.5, minimumRequests: Int = 10,
            window: Duration = .seconds(30), coolDown: Duration = .seconds(5)
        ) {
            precondition(consecutiveFailures >= 1, "consecutiveFailures must be at least 1")
            precondition(errorRateThreshold > 0 && errorRateThreshold <= 1, "errorRateThreshold must be in (0, 1]")
            precondition(window > .zero && coolDown >= .zero, "window must be positive, coolDown not negative")
            self.consecutiveFailures = consecutiveFailures
            self.errorRateThreshold = errorRateThreshold
            self.minimumRequests = max(1, minimumRequests)
            self.window = window
            self.coolDown = coolDown
        }
    }

    /// Where the breaker is.
    public enum State: Hashable, Sendable {
        case closed
        /// Refusing until `until`.
        case open(until: Instant)
        /// Cooled down; `probing` while the one probe request is out.
        case halfOpen(probing: Bool)

        /// `closed`, `open` or `half-open` (as `EndpointStatus.circuit`).
        public var name: String {
            switch self {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
    }

    /// Whether a request may go to the endpoint.
    public enum Decision: Hashable, Sendable {
        /// Send it (closed breaker).
        case allow
        /// Send it as the half-open probe: report its outcome (or ``CircuitBreaker/probeAbandoned()``).
        case probe
        /// Do not send it.
        case reject
    }

    /// A state change worth logging.
    public enum Transition: Hashable, Sendable {
        case opened
        case halfOpened
        case closed
    }

    public let settings: Settings
    public private(set) var state: State = .closed
    private var consecutiveFailures = 0
    /// Outcomes in the window, oldest first (`true` = failure).
    private var outcomes: [(at: Instant, failed: Bool)] = []
    private var failuresInWindow = 0

    public init(settings: Settings = .init()) {
        self.settings = settings
    }

    /// Whether a request could pass now, without changing anything (for ranking).
    public func wouldAdmit(now: Instant) -> Bool {
        switch state {
        case .closed: true
        case .open(let until): now >= until
        case .halfOpen(let probing): !probing
        }
    }

    /// Asks to send one request at `now`; a `.probe` answer moves the breaker to half-open.
    public mutating func admit(now: Instant) -> (Decision, Transition?) {
        switch state {
        case .closed:
            return (.allow, nil)
        case .open(let until):
            guard now >= until else { return (.reject, nil) }
            state = .halfOpen(probing: true)
            return (.probe, .halfOpened)
        case .halfOpen(let probing):
            guard !probing else { return (.reject, nil) }
            state = .halfOpen(probing: true)
            return (.probe, nil)
        }
    }

    /// A request sent at or before `now` succeeded.
    public mutating func recordSuccess(now: Instant) -> Transition? {
        consecutiveFailures = 0
        switch state {
        case .closed:
            append(failed: false, now: now)
            return nil
        case .halfOpen:
            close()
            return .closed
        case .open:
            return nil  // A late answer from before the breaker opened.
        }
    }

    /// A request sent at or before `now` failed.
    public mutating func recordFailure(now: Instant) -> Transition? {
        switch state {
        case .closed:
            consecutiveFailures += 1
            append(failed: true, now: now)
            let total = outcomes.count
            let rateExceeded =
                total >= settings.minimumRequests
                && Double(failuresInWindow) / Double(total) > settings.errorRateThreshold
            guard consecutiveFailures >= settings.consecutiveFailures || rateExceeded else { return nil }
            open(now: now)
            return .opened
        case .halfOpen:
            open(now: now)
            return .opened
        case .open:
            return nil
        }
    }

    /// The probe ended without telling anything about the endpoint (the caller cancelled): the
    /// next request may probe instead.
    public mutating func probeAbandoned() {
        if case .halfOpen(true) = state { state = .halfOpen(probing: false) }
    }

    private mutating func open(now: Instant) {
        state = .open(until: now.advanced(by: settings.coolDown))
        consecutiveFailures = 0
        outcomes.removeAll()
        failuresInWindow = 0
    }

    private mutating func close() {
        state = .closed
        consecutiveFailures = 0
        outcomes.removeAll()
        failuresInWindow = 0
    }

    private mutating func append(failed: Bool, now: Instant) {
        outcomes.append((now, failed))
        if failed { failuresInWindow += 1 }
        let horizon = now.advanced(by: .zero - settings.window)
        var drop = 0
        while drop < outcomes.count, outcomes[drop].at < horizon {
            if outcomes[drop].failed { failuresInWindow -= 1 }
            drop += 1
        }
        if drop > 0 { outcomes.removeFirst(drop) }
    }
}

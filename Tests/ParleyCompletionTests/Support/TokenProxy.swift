import Distributed
import ParleyCluster
import ParleyProtocol
import Synchronization

/// A real distributed actor that plays the model proxy in tests: its answer to a request is the
/// deterministic sequence of tokens `"w<i> "` for i in 0..<maxTokens (`maxTokens` from the request's
/// sampling, default 16), continued after `resume.tokenCount` on a resubmission, one token every
/// `tokenDelay`. Records what it produced and when a producer stopped early (cancellation). For the
/// model ``readingModel`` it first reports reading a 300-token prompt, 100 tokens at a time.
distributed actor TokenProxy: ModelProxyProtocol {
    typealias ActorSystem = ClusterSystem

    let probe: ProxyProbe
    let tokenDelay: Duration

    init(actorSystem: ClusterSystem, tokenDelay: Duration = .zero, probe: ProxyProbe = ProxyProbe()) {
        self.actorSystem = actorSystem
        self.tokenDelay = tokenDelay
        self.probe = probe
    }

    distributed func generate(_ request: ModelRequest, region: String?) throws -> RemoteStream<GenerationEvent> {
        probe.calls.add(1, ordering: .relaxed)
        // A model that refuses the request itself, as one does a prompt longer than its context.
        if request.model == Self.refusingModel {
            throw ServingError(ServingError.invalidRequest, "the prompt does not fit the context")
        }
        probe.recordResume(request.resume)
        probe.recordMessages(request.messages, historyCount: request.historyCount)
        return actorSystem.makeStream(
            TokenSequence(
                first: request.resume?.tokenCount ?? 0, count: request.sampling.maxTokens ?? 16, delay: tokenDelay,
                probe: probe, promptReports: request.model == Self.readingModel ? 3 : 0))
    }

    distributed func endpoints() -> [EndpointStatus] { [] }

    /// The model name this proxy refuses every request for (`invalid_request`).
    static let refusingModel = "refusing"
    /// The model name this proxy reports prompt progress for before the tokens.
    static let readingModel = "reading"

    static func token(_ index: Int) -> String { "w\(index) " }

    static func answer(_ count: Int) -> String { (0..<count).map(token).joined() }
}

/// What a ``TokenProxy`` saw.
final class ProxyProbe: Sendable {
    let calls = Atomic<Int>(0)
    let produced = Atomic<Int>(0)
    private let resumes = Mutex<[ResumePoint?]>([])
    /// One element each time a producer stops before its last token (cancelled), with the time.
    let (stoppedEarly, stoppedEarlyContinuation) = AsyncStream<ContinuousClock.Instant>.makeStream()
    /// One element each time a producer emits its first token.
    let (firstToken, firstTokenContinuation) = AsyncStream<Void>.makeStream()

    private let messages = Mutex<(messages: [ChatMessage], historyCount: Int)>(([], 0))
    func recordResume(_ resume: ResumePoint?) { resumes.withLock { $0.append(resume) } }
    func recordMessages(_ request: [ChatMessage], historyCount: Int) {
        messages.withLock { $0 = (request, historyCount) }
    }
    /// The messages of the last request.
    var lastMessages: [ChatMessage] { messages.withLock { $0.messages } }
    /// How many of the last request's messages were stored history.
    var lastHistoryCount: Int { messages.withLock { $0.historyCount } }
    var resumePoints: [ResumePoint?] { resumes.withLock { $0 } }
}

struct TokenSequence: AsyncSequence, Sendable {
    let first: Int
    let count: Int
    let delay: Duration
    let probe: ProxyProbe
    var promptReports = 0

    func makeAsyncIterator() -> Iterator {
        Iterator(
            next: first, count: count, delay: delay, probe: probe, sentinel: StopSentinel(probe: probe),
            promptReports: promptReports)
    }

    struct Iterator: AsyncIteratorProtocol {
        var next: Int
        let count: Int
        let delay: Duration
        let probe: ProxyProbe
        let sentinel: StopSentinel
        let promptReports: Int
        var emitted = false
        var reported = 0

        mutating func next() async throws -> GenerationEvent? {
            if reported < promptReports {
                reported += 1
                return .prompt(computed: 100 * reported, of: 100 * promptReports)
            }
            if next > count { return nil }
            if next == count {
                next += 1
                sentinel.finished()
                return .finished(.length, TokenUsage(promptTokens: 3, completionTokens: count))
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            if !emitted {
                emitted = true
                probe.firstTokenContinuation.yield()
            }
            defer { next += 1 }
            probe.produced.add(1, ordering: .relaxed)
            return .token(index: next, text: TokenProxy.token(next))
        }
    }
}

/// Reports a producer that went away before finishing.
final class StopSentinel: Sendable {
    let probe: ProxyProbe
    private let done = Atomic<Bool>(false)

    init(probe: ProxyProbe) { self.probe = probe }
    func finished() { done.store(true, ordering: .relaxed) }
    deinit {
        if !done.load(ordering: .relaxed) { probe.stoppedEarlyContinuation.yield(.now) }
    }
}

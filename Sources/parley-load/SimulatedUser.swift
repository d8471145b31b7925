import Foundation
import ParleyClient
import Synchronization

/// One simulated person: sends a prompt, reads the streamed answer, thinks, and again, until the
/// run's end. Measures time to first token, the gaps between tokens and the total time.
struct SimulatedUser: Sendable {
    let index: Int
    let client: ParleyClient
    let plan: LoadPlan
    let stats: LoadStats
    /// Where acknowledged stored answers are kept for the check after the run (nil: no check).
    let stored: StoredAnswers?

    func run(until deadline: ContinuousClock.Instant, budget: RequestBudget) async {
        var random = SplitMix64(seed: plan.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        var turn = 0
        if plan.firstRequestSpacing > .zero {
            try? await Task.sleep(for: plan.firstRequestSpacing * index)
        }
        while ContinuousClock.now < deadline, budget.take(), !Task.isCancelled {
            let prompt = (index + turn * 7) % plan.prompts
            turn += 1
            await stream(prompt: prompt)
            let think = plan.thinkTime == .zero ? .zero : plan.thinkTime * random.uniform(0.5, 1.5)
            if think > .zero, ContinuousClock.now + think < deadline {
                try? await Task.sleep(for: think)
            }
        }
    }

    /// The request for prompt number `prompt`: the same number always gives the same request.
    func request(prompt: Int) -> ChatCompletionRequest {
        ChatCompletionRequest(
            model: plan.model,
            messages: [.user("Load test prompt \(prompt): tell me a short story about rivers and light.")],
            maxTokens: plan.maxTokens, seed: Int64(prompt), store: plan.store ? nil : false)
    }

    private func stream(prompt: Int) async {
        stats.streamStarted()
        let clock = ContinuousClock()
        let sentAt = Date()
        let start = clock.now
        var tokens = 0
        do {
            let stream = try await client.streamChatCompletion(request(prompt: prompt))
            var text = ""
            var firstToken: UInt64?
            var last = start
            var gaps: [UInt64] = []
            gaps.reserveCapacity(plan.maxTokens ?? 64)
            var summary: ChatStreamSummary?
            for try await event in stream {
                switch event {
                case .content(let piece, _):
                    let now = clock.now
                    if firstToken == nil { firstToken = Self.micros(start.duration(to: now)) } else {
                        gaps.append(Self.micros(last.duration(to: now)))
                    }
                    last = now
                    tokens += 1
                    text += piece
                case .end(let value):
                    summary = value
                case .finished, .usage, .resumed, .promptProgress, .logprobs, .toolCall:
                    break
                }
            }
            if let stored, plan.store, summary != nil, let conversationID = stream.conversationID {
                stored.add(
                    .init(
                        user: index, conversationID: conversationID,
                        prompt: request(prompt: prompt).messages.first?.content ?? "", text: text))
            }
            stats.record(
                .init(
                    prompt: prompt, text: text, tokens: tokens, timeToFirstToken: firstToken, interTokenGaps: gaps,
                    total: Self.micros(start.duration(to: clock.now)), summary: summary, requestID: stream.requestID,
                    gateway: stream.gatewayURL, sentAt: sentAt),
                expectedTokens: plan.maxTokens, verify: plan.verify)
        } catch {
            stats.recordFailure(kind: Self.kind(of: error), partialTokens: tokens, description: "\(error)")
        }
    }

    /// A short, stable name for an error: the client's code, and the server's code when it gave one.
    static func kind(of error: any Error) -> String {
        guard let error = error as? ParleyClientError else { return "other" }
        if let apiCode = error.apiCode, apiCode != error.code.rawValue { return "\(error.code)/\(apiCode)" }
        return error.code.rawValue
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}

/// What every user does (from the command line).
struct LoadPlan: Sendable {
    var model: String
    var maxTokens: Int?
    var prompts: Int
    var thinkTime: Duration
    var store: Bool
    var verify: Bool
    var seed: UInt64
    /// How long after the previous user each user sends its first request (`--ramp-up` / users).
    var firstRequestSpacing: Duration = .zero
}

/// A shared count of requests left (`--requests`); unlimited when `nil`.
final class RequestBudget: Sendable {
    private let left: Mutex<Int?>

    init(_ total: Int?) { left = Mutex(total) }

    func take() -> Bool {
        left.withLock { left in
            guard let remaining = left else { return true }
            guard remaining > 0 else { return false }
            left = remaining - 1
            return true
        }
    }
}

/// A small seeded generator (think times must repeat from run to run).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uniform(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * Double(next() >> 11) / Double(1 << 53)
    }
}

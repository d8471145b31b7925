import Foundation
import Histogram
import ParleyClient
import Synchronization

/// Everything the simulated users measured, shared between them and the progress line.
final class LoadStats: Sendable {
    struct State {
        var timeToFirstToken = LoadStats.histogram()
        var interToken = LoadStats.histogram()
        var total = LoadStats.histogram()
        var started = 0
        var completed = 0
        var failed = 0
        var tokens = 0
        var errors: [String: Int] = [:]
        /// The first error of each kind, as the client described it.
        var errorExamples: [String: String] = [:]
        var verification = Verification()
        /// The first whole answer per prompt: later answers to the same request must equal it.
        var references: [Int: String] = [:]
        /// The streams whose first token took longest, slowest first (at most ``slowestKept``).
        var slowestFirstTokens: [SlowStart] = []
    }

    /// A stream with one of the longest times to first token: which request, through which
    /// gateway, and when it was sent (to set beside the kills of a chaos run).
    struct SlowStart: Sendable {
        var timeToFirstToken: UInt64
        var requestID: String
        var gateway: String
        var sentAt: Date
    }

    static let slowestKept = 5

    /// Exactness checks (see ``LoadCommand``'s discussion).
    struct Verification: Sendable {
        var checked = 0
        var mismatched = 0
        var duplicatedTokens = 0
        var missingTokens = 0
        var wrongLength = 0
        var missingDone = 0
        var resumes = 0
        var resumedStreams = 0
    }

    /// What one finished stream reports.
    struct StreamResult: Sendable {
        var prompt: Int
        var text: String
        var tokens: Int
        /// Microseconds.
        var timeToFirstToken: UInt64?
        var interTokenGaps: [UInt64]
        var total: UInt64
        var summary: ChatStreamSummary?
        var requestID: String
        var gateway: String
        var sentAt: Date
    }

    let state = Mutex(State())

    /// Microsecond histograms up to one hour, three significant digits.
    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    func streamStarted() {
        state.withLock { $0.started += 1 }
    }

    func record(_ result: StreamResult, expectedTokens: Int?, verify: Bool) {
        state.withLock { state in
            state.completed += 1
            state.tokens += result.tokens
            if let ttft = result.timeToFirstToken {
                _ = state.timeToFirstToken.record(max(1, ttft))
                let place = state.slowestFirstTokens.firstIndex { $0.timeToFirstToken < ttft } ?? state.slowestFirstTokens.count
                if place < Self.slowestKept {
                    state.slowestFirstTokens.insert(
                        SlowStart(timeToFirstToken: ttft, requestID: result.requestID, gateway: result.gateway, sentAt: result.sentAt),
                        at: place)
                    if state.slowestFirstTokens.count > Self.slowestKept { state.slowestFirstTokens.removeLast() }
                }
            }
            for gap in result.interTokenGaps { _ = state.interToken.record(max(1, gap)) }
            _ = state.total.record(max(1, result.total))
            guard verify else { return }
            state.verification.checked += 1
            if let summary = result.summary {
                state.verification.duplicatedTokens += summary.duplicatesDropped
                state.verification.missingTokens += summary.missingEvents
                state.verification.resumes += summary.resumes
                if summary.resumes > 0 { state.verification.resumedStreams += 1 }
            } else {
                state.verification.missingDone += 1
            }
            if let expectedTokens, result.tokens != expectedTokens { state.verification.wrongLength += 1 }
            if let reference = state.references[result.prompt] {
                if reference != result.text { state.verification.mismatched += 1 }
            } else {
                state.references[result.prompt] = result.text
            }
        }
    }

    func recordFailure(kind: String, partialTokens: Int, description: String) {
        state.withLock { state in
            state.failed += 1
            state.tokens += partialTokens
            state.errors[kind, default: 0] += 1
            if state.errorExamples[kind] == nil { state.errorExamples[kind] = String(description.prefix(300)) }
        }
    }

    var snapshot: State { state.withLock { $0 } }
}

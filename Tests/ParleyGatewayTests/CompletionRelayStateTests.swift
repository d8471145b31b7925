@testable import ParleyGateway
import ParleyCluster
import ParleyProtocol
import Testing

@Suite("Relay state: exactly-once tokens across resubmissions")
struct CompletionRelayStateTests {
    let started = CompletionEvent.started(conversationID: "c", userMessageID: "u", assistantMessageID: "a")

    @Test func forwardsEachTokenOnceAcrossAFailover() {
        var state = CompletionRelayState(maxAttempts: 3)
        #expect(state.received(started) == .forward(started))
        #expect(state.received(.token(index: 0, text: "a")) == .forward(.token(index: 0, text: "a")))
        #expect(state.received(.token(index: 1, text: "b")) == .forward(.token(index: 1, text: "b")))
        let action = state.failed(ClusterError(.nodeDown, "gone"), userCancelled: false)
        #expect(action == .resubmit(resume: ResumePoint(tokenCount: 2, text: "ab"), attempt: 1))
        // The new node repeats `started` and a token below the resume point.
        #expect(state.received(started) == .drop)
        #expect(state.received(.token(index: 1, text: "b")) == .drop)
        #expect(state.received(.token(index: 2, text: "c")) == .forward(.token(index: 2, text: "c")))
        let finished = CompletionEvent.finished(.stop, TokenUsage(promptTokens: 1, completionTokens: 3))
        #expect(state.received(finished) == .forward(finished))
        #expect(state.received(.token(index: 3, text: "late")) == .drop)
    }

    @Test func promptProgressIsForwardedOnlyBeforeTheFirstToken() {
        var state = CompletionRelayState(maxAttempts: 3)
        #expect(state.received(started) == .forward(started))
        let progress = CompletionEvent.prompt(computed: 64, of: 128)
        #expect(state.received(progress) == .forward(progress))
        #expect(state.received(.token(index: 0, text: "a")) == .forward(.token(index: 0, text: "a")))
        _ = state.failed(ClusterError(.nodeDown, "gone"), userCancelled: false)
        // The new node reads the prompt (and the answer so far) again: the client just waits.
        #expect(state.received(progress) == .drop)
        #expect(state.received(.token(index: 1, text: "b")) == .forward(.token(index: 1, text: "b")))
    }

    @Test func resubmitsBeforeAnyTokenWithoutResumePoint() {
        var state = CompletionRelayState(maxAttempts: 2)
        #expect(state.failed(ClusterError(.timedOut, "slow"), userCancelled: false) == .resubmit(resume: nil, attempt: 1))
        // Attempts are bounded.
        guard case .fail(let error) = state.failed(ClusterError(.nodeDown, "gone"), userCancelled: false) else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .nodeDown)
    }

    @Test func timeoutMidStreamDomainErrorsAndUserCancelDoNotFailOver() {
        var streaming = CompletionRelayState(maxAttempts: 3)
        _ = streaming.received(.token(index: 0, text: "x"))
        #expect(streaming.failed(ClusterError(.timedOut, "t"), userCancelled: false) == .fail(ClusterError(.timedOut, "t")))

        var limited = CompletionRelayState(maxAttempts: 3)
        let rateLimited = ClusterError(ClusterError.Code(rawValue: "rate_limited"), "no")
        #expect(limited.failed(rateLimited, userCancelled: false) == .fail(rateLimited))

        var cancelled = CompletionRelayState(maxAttempts: 3)
        #expect(cancelled.failed(ClusterError(.nodeDown, "d"), userCancelled: true) == .fail(ClusterError(.nodeDown, "d")))
    }
}

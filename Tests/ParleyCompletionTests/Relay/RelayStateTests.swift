import ParleyCluster
import ParleyProtocol
import Testing

@testable import ParleyCompletion

@Suite struct RelayStateTests {
    @Test func forwardsEachIndexOnceAcrossAResubmission() {
        var relay = RelayState(resume: nil, maxAttempts: 3)
        relay.opening()
        var forwarded: [GenerationEvent] = []
        func feed(_ event: GenerationEvent) {
            switch relay.receive(event) {
            case .forward(let event), .finish(let event): forwarded.append(event)
            case .drop: break
            }
        }
        for index in 0..<3 { feed(.token(index: index, text: "t\(index)")) }
        #expect(relay.failed(ClusterError(.nodeDown, "gone")) == .resubmit(resume: ResumePoint(tokenCount: 3, text: "t0t1t2")))
        relay.opening()
        // The new producer repeats index 2, then continues.
        for index in 2..<5 { feed(.token(index: index, text: "t\(index)")) }
        feed(.finished(.stop, TokenUsage(promptTokens: 1, completionTokens: 5)))
        feed(.token(index: 5, text: "late"))
        #expect(forwarded.count == 6)
        #expect(forwarded.prefix(5) == (0..<5).map { GenerationEvent.token(index: $0, text: "t\($0)") }[...])
        #expect(relay.isFinished)
        #expect(relay.text == "t0t1t2t3t4")
    }

    @Test func nothingRelayedResubmitsFromTheStart() {
        var relay = RelayState(resume: nil, maxAttempts: 2)
        relay.opening()
        #expect(relay.failed(ClusterError(.timedOut, "slow")) == .resubmit(resume: nil))
    }

    @Test func anUpstreamResumePointIsKept() {
        var relay = RelayState(resume: ResumePoint(tokenCount: 4, text: "abcd"), maxAttempts: 2)
        relay.opening()
        #expect(relay.receive(.token(index: 3, text: "d")) == .drop)
        #expect(relay.receive(.prompt(computed: 100, of: 200)) == .drop)  // stale: the answer has begun
        #expect(relay.receive(.token(index: 4, text: "e")) == .forward(.token(index: 4, text: "e")))
        #expect(relay.failed(ClusterError(.nodeDown, "gone")) == .resubmit(resume: ResumePoint(tokenCount: 5, text: "abcde")))
    }

    @Test func promptProgressGoesOnOnlyBeforeTheAnswer() {
        var relay = RelayState(resume: nil, maxAttempts: 2)
        relay.opening()
        #expect(relay.receive(.prompt(computed: 512, of: 900)) == .forward(.prompt(computed: 512, of: 900)))
        #expect(relay.receive(.token(index: 0, text: "a")) == .forward(.token(index: 0, text: "a")))
        #expect(relay.receive(.prompt(computed: 900, of: 900)) == .drop)
    }

    @Test func attemptsAreBounded() {
        var relay = RelayState(resume: nil, maxAttempts: 2)
        relay.opening()
        #expect(relay.failed(ClusterError(.nodeDown, "gone")) != .fail)
        relay.opening()
        #expect(relay.failed(ClusterError(.nodeDown, "gone")) == .fail)
    }

    @Test func onlyProducerFailuresAreRetried() {
        #expect(RelayState.isRetryable(ClusterError(.nodeDown, "")))
        #expect(RelayState.isRetryable(ClusterError(.actorNotFound, "")))
        #expect(RelayState.isRetryable(ClusterError(ClusterError.Code(rawValue: "overloaded"), "")))
        #expect(RelayState.isRetryable(ServingError(ServingError.overloaded, "")))
        #expect(RelayState.isRetryable(RelayError.endedWithoutFinish))
        #expect(!RelayState.isRetryable(CancellationError()))
        #expect(!RelayState.isRetryable(ClusterError(.cancelled, "")))
        #expect(!RelayState.isRetryable(ServingError(ServingError.invalidRequest, "")))
        #expect(!RelayState.isRetryable(ClusterError(ClusterError.Code(rawValue: "model_not_found"), "")))
    }
}

@Suite struct GenerationLogBatcherTests {
    typealias Batcher = GenerationLogBatcher<ManualInstant>

    @Test func writesEveryThirtyTwoTokens() {
        var batcher = Batcher(maxTokens: 32, maxDelay: .seconds(10))
        let time = ManualTime()
        var batches: [Batcher.Batch] = []
        for index in 0..<70 {
            if let batch = batcher.add(index: index, text: "\(index)", now: time.now) { batches.append(batch) }
        }
        if let rest = batcher.flush() { batches.append(rest) }
        #expect(batches.map(\.fromSeq) == [1, 33, 65])
        #expect(batches.map(\.texts.count) == [32, 32, 6])
        #expect(batches.flatMap(\.texts) == (0..<70).map { "\($0)" })
        #expect(batcher.flush() == nil)
    }

    @Test func writesAfterTheDelay() {
        var batcher = Batcher(maxTokens: 32, maxDelay: .milliseconds(250))
        var time = ManualTime()
        #expect(batcher.add(index: 0, text: "a", now: time.now) == nil)
        time.advance(by: .milliseconds(200))
        #expect(batcher.add(index: 1, text: "b", now: time.now) == nil)
        time.advance(by: .milliseconds(50))
        #expect(batcher.add(index: 2, text: "c", now: time.now) == .init(fromSeq: 1, texts: ["a", "b", "c"]))
    }

    @Test func resumedNumberingFollowsTheTokenIndex() {
        var batcher = Batcher(maxTokens: 2)
        let time = ManualTime()
        #expect(batcher.add(index: 10, text: "k", now: time.now) == nil)
        #expect(batcher.add(index: 11, text: "l", now: time.now) == .init(fromSeq: 11, texts: ["k", "l"]))
    }

    @Test func gapFillCarriesTheMissingText() {
        // Logged: 2 events "ab" (2 bytes); delivered upstream: 5 tokens "abcdé".
        let fill = Batcher.gapFill(lastSeq: 2, loggedBytes: 2, resumeTokens: 5, resumeText: "abcdé")
        #expect(fill == .init(fromSeq: 3, texts: ["cdé", "", ""]))
        #expect(Batcher.gapFill(lastSeq: 5, loggedBytes: 6, resumeTokens: 5, resumeText: "abcdé") == nil)
    }
}

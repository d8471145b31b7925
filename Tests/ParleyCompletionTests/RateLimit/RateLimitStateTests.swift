import ParleyProtocol
import Testing

@testable import ParleyCompletion

@Suite struct RateLimitStateTests {
    typealias State = RateLimitState<ManualInstant>

    static func unlimitedConcurrency(rpm: Int = 60, tpm: Int? = nil) -> RateLimitConfiguration {
        RateLimitConfiguration(requestsPerMinute: rpm, concurrentRequests: 1000, tokensPerMinute: tpm)
    }

    @Test func sixtyFirstRequestOfAMinuteIsRefused() {
        var state = State(configuration: Self.unlimitedConcurrency())
        var time = ManualTime()
        for number in 1...60 {
            let decision = state.acquire(userID: "u", requestID: "r\(number)", now: time.now)
            #expect(decision.allowed, "request \(number)")
            #expect(decision.limit == 60)
            #expect(decision.remaining == 60 - number)
            #expect(decision.resetSeconds == 60 - Double(number - 1) / 2)
            time.advance(by: .milliseconds(500))  // spread over 30 s
        }
        let refused = state.acquire(userID: "u", requestID: "r61", now: time.now)
        #expect(!refused.allowed)
        #expect(refused.reason == "requests")
        #expect(refused.remaining == 0)
        #expect(refused.resetSeconds == 30)
        // Another user is not affected.
        #expect(state.acquire(userID: "v", requestID: "x", now: time.now).allowed)
    }

    @Test func theWindowSlides() {
        var state = State(configuration: Self.unlimitedConcurrency(rpm: 3))
        var time = ManualTime()
        for number in 1...3 {
            #expect(state.acquire(userID: "u", requestID: "a\(number)", now: time.now).allowed)
            time.advance(by: .seconds(10))
        }
        // t = 30 s: full until the first request is 60 s old.
        time.advance(by: .milliseconds(29_999))
        #expect(!state.acquire(userID: "u", requestID: "b1", now: time.now).allowed)
        time.advance(by: .milliseconds(1))
        let decision = state.acquire(userID: "u", requestID: "b2", now: time.now)
        #expect(decision.allowed)
        #expect(decision.remaining == 0)
        #expect(decision.resetSeconds == 10)
        #expect(!state.acquire(userID: "u", requestID: "b3", now: time.now).allowed)
        time.advance(by: .seconds(120))
        #expect(state.acquire(userID: "u", requestID: "c", now: time.now).remaining == 2)
    }

    @Test func refusedRequestsConsumeNothing() {
        var state = State(configuration: Self.unlimitedConcurrency(rpm: 2))
        var time = ManualTime()
        #expect(state.acquire(userID: "u", requestID: "1", now: time.now).allowed)
        #expect(state.acquire(userID: "u", requestID: "2", now: time.now).allowed)
        for attempt in 0..<100 {
            #expect(!state.acquire(userID: "u", requestID: "x\(attempt)", now: time.now).allowed)
            time.advance(by: .milliseconds(500))
        }
        time.advance(by: .seconds(10))
        #expect(state.acquire(userID: "u", requestID: "3", now: time.now).allowed)
    }

    @Test func concurrencyIsLimitedUntilRelease() {
        var state = State(configuration: RateLimitConfiguration(concurrentRequests: 2, tokensPerMinute: nil))
        let time = ManualTime()
        #expect(state.acquire(userID: "u", requestID: "a", now: time.now).allowed)
        #expect(state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
        let refused = state.acquire(userID: "u", requestID: "c", now: time.now)
        #expect(!refused.allowed)
        #expect(refused.reason == "concurrency")
        #expect(refused.resetSeconds == 1)
        state.release(userID: "u", requestID: "a", tokens: 0, now: time.now)
        #expect(state.acquire(userID: "u", requestID: "c", now: time.now).allowed)
    }

    @Test func acquiringTheSameRequestAgainCountsNothing() {
        var state = State(configuration: RateLimitConfiguration(requestsPerMinute: 1, concurrentRequests: 1))
        let time = ManualTime()
        #expect(state.acquire(userID: "u", requestID: "a", now: time.now).allowed)
        #expect(state.acquire(userID: "u", requestID: "a", now: time.now).allowed)
        #expect(!state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
    }

    @Test func forgottenSlotsExpireAfterTheLease() {
        var state = State(
            configuration: RateLimitConfiguration(concurrentRequests: 1, concurrencyLeaseTimeout: .seconds(600)))
        var time = ManualTime()
        #expect(state.acquire(userID: "u", requestID: "a", now: time.now).allowed)
        time.advance(by: .seconds(599))
        #expect(!state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
        time.advance(by: .seconds(1))
        #expect(state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
    }

    @Test func tokensPerMinuteRefuseUntilTheBucketDrains() {
        var state = State(configuration: Self.unlimitedConcurrency(rpm: 1000, tpm: 600))
        var time = ManualTime()
        #expect(state.acquire(userID: "u", requestID: "a", now: time.now).allowed)
        state.release(userID: "u", requestID: "a", tokens: 700, now: time.now)
        let refused = state.acquire(userID: "u", requestID: "b", now: time.now)
        #expect(!refused.allowed)
        #expect(refused.reason == "tokens")
        // 101 tokens over the limit drain at 10 per second.
        #expect(abs(refused.resetSeconds - 10.1) < 1e-9)
        time.advance(by: .seconds(10))
        #expect(!state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
        time.advance(by: .milliseconds(200))
        #expect(state.acquire(userID: "u", requestID: "b", now: time.now).allowed)
    }

    @Test func idleUsersArePruned() {
        var state = State(configuration: Self.unlimitedConcurrency(tpm: 600))
        var time = ManualTime()
        _ = state.acquire(userID: "a", requestID: "1", now: time.now)
        state.release(userID: "a", requestID: "1", tokens: 0, now: time.now)
        _ = state.acquire(userID: "b", requestID: "1", now: time.now)  // still holds its slot
        _ = state.acquire(userID: "c", requestID: "1", now: time.now)
        state.release(userID: "c", requestID: "1", tokens: 6000, now: time.now)  // 10 minutes of tokens
        time.advance(by: .seconds(59))
        state.prune(now: time.now)
        #expect(state.userCount == 3)  // a's request is still in its window
        time.advance(by: .seconds(1))
        state.prune(now: time.now)
        #expect(state.userCount == 2)
        time.advance(by: .seconds(600))
        state.prune(now: time.now)
        #expect(state.userCount == 1)
    }
}

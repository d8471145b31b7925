import ParleyProxy
import Testing

@Suite("Circuit breaker state machine")
struct CircuitBreakerTests {
    typealias Breaker = CircuitBreaker<ManualInstant>

    let settings = Breaker.Settings(
        consecutiveFailures: 3, errorRateThreshold: 0.5, minimumRequests: 6, window: .seconds(10), coolDown: .seconds(5)
    )

    @Test func opensAfterConsecutiveFailuresAndRefusesDuringCoolDown() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        #expect(breaker.admit(now: now).0 == .allow)
        #expect(breaker.recordFailure(now: now) == nil)
        #expect(breaker.recordFailure(now: now) == nil)
        #expect(breaker.recordFailure(now: now) == .opened)
        #expect(breaker.state == .open(until: now.advanced(by: .seconds(5))))
        now = now.advanced(by: .milliseconds(4_999))
        #expect(!breaker.wouldAdmit(now: now))
        #expect(breaker.admit(now: now).0 == .reject)
    }

    @Test func successResetsTheConsecutiveCount() {
        var breaker = Breaker(settings: settings)
        let now = ManualInstant.zero
        _ = breaker.recordFailure(now: now)
        _ = breaker.recordFailure(now: now)
        _ = breaker.recordSuccess(now: now)
        #expect(breaker.recordFailure(now: now) == nil)
        #expect(breaker.recordFailure(now: now) == nil)
        #expect(breaker.state == .closed)
    }

    @Test func opensOnErrorRateOverTheWindowOnlyWithEnoughRequests() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        // Alternating outcomes never reach 3 failures in a row; 3 of 6 is not above 0.5.
        for _ in 0..<3 {
            _ = breaker.recordFailure(now: now)
            _ = breaker.recordSuccess(now: now)
            now = now.advanced(by: .milliseconds(100))
        }
        #expect(breaker.state == .closed)
        // A 4th failure makes 4 of 7 > 0.5.
        #expect(breaker.recordFailure(now: now) == .opened)
    }

    @Test func oldOutcomesLeaveTheWindow() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        for _ in 0..<2 {
            _ = breaker.recordFailure(now: now)
            _ = breaker.recordSuccess(now: now)
        }
        _ = breaker.recordFailure(now: now)
        // 3 failures out of 5 at t=0; 11 s later they have left the window.
        now = now.advanced(by: .seconds(11))
        for _ in 0..<4 { _ = breaker.recordSuccess(now: now) }
        _ = breaker.recordFailure(now: now)
        _ = breaker.recordFailure(now: now)
        // 2 of 6 in the window: closed.
        #expect(breaker.state == .closed)
    }

    @Test func halfOpenLetsExactlyOneProbeThroughAndClosesOnSuccess() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        for _ in 0..<3 { _ = breaker.recordFailure(now: now) }
        now = now.advanced(by: .seconds(5))
        #expect(breaker.wouldAdmit(now: now))
        let (decision, transition) = breaker.admit(now: now)
        #expect(decision == .probe)
        #expect(transition == .halfOpened)
        #expect(breaker.state == .halfOpen(probing: true))
        #expect(breaker.admit(now: now).0 == .reject)
        #expect(!breaker.wouldAdmit(now: now))
        #expect(breaker.recordSuccess(now: now) == .closed)
        #expect(breaker.state == .closed)
        #expect(breaker.admit(now: now).0 == .allow)
    }

    @Test func failedProbeReopensForAnotherCoolDown() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        for _ in 0..<3 { _ = breaker.recordFailure(now: now) }
        now = now.advanced(by: .seconds(6))
        #expect(breaker.admit(now: now).0 == .probe)
        #expect(breaker.recordFailure(now: now) == .opened)
        #expect(breaker.state == .open(until: now.advanced(by: .seconds(5))))
        #expect(breaker.admit(now: now.advanced(by: .seconds(1))).0 == .reject)
        #expect(breaker.admit(now: now.advanced(by: .seconds(5))).0 == .probe)
    }

    @Test func abandonedProbeLetsTheNextRequestProbe() {
        var breaker = Breaker(settings: settings)
        var now = ManualInstant.zero
        for _ in 0..<3 { _ = breaker.recordFailure(now: now) }
        now = now.advanced(by: .seconds(5))
        #expect(breaker.admit(now: now).0 == .probe)
        breaker.probeAbandoned()
        #expect(breaker.state == .halfOpen(probing: false))
        #expect(breaker.admit(now: now).0 == .probe)
    }

    @Test func lateOutcomesWhileOpenChangeNothing() {
        var breaker = Breaker(settings: settings)
        let now = ManualInstant.zero
        for _ in 0..<3 { _ = breaker.recordFailure(now: now) }
        let open = breaker.state
        #expect(breaker.recordSuccess(now: now) == nil)
        #expect(breaker.recordFailure(now: now) == nil)
        #expect(breaker.state == open)
    }
}

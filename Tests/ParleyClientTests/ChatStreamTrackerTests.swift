import Testing

@testable import ParleyClient

@Suite struct ChatStreamTrackerTests {
    @Test func dropsRepeatsAndCountsGaps() {
        var tracker = ChatStreamTracker()
        let accepted = [0, 1, 1, 0, 4].map { tracker.accept(id: Int64($0)) }
        #expect(accepted == [true, true, false, false, true])
        #expect(tracker.lastEventID == 4)
        #expect(tracker.deliveredWithID == 3)
        #expect(tracker.duplicatesDropped == 2)
        #expect(tracker.missingEvents == 2)
        let finishes = [tracker.acceptFinish(), tracker.acceptFinish()]
        #expect(finishes == [true, false])
    }

    @Test func aFirstIDAboveZeroCountsTheSkippedOnes() {
        var tracker = ChatStreamTracker()
        _ = tracker.accept(id: 3)
        #expect(tracker.missingEvents == 3)
    }

    @Test func resumeScheduleRotatesAndBacksOff() {
        let policy = ParleyClient.Configuration.Resume(
            maxAttempts: 4, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(300))
        var schedule = ResumeSchedule(policy: policy, gatewayCount: 3)
        var steps: [String] = []
        var current = 1
        while let (gateway, delay) = schedule.nextAttempt(current: current) {
            steps.append("\(gateway)@\(delay)")
            current = gateway
        }
        #expect(steps == ["1@0.0 seconds", "2@0.1 seconds", "0@0.2 seconds", "1@0.3 seconds"])
        schedule.progressed()
        let again = schedule.nextAttempt(current: 1)
        #expect(again?.gateway == 1 && again?.delay == .zero)
    }
}

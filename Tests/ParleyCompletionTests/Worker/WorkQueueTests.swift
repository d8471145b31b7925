import ParleyProtocol
import Testing

@testable import ParleyCompletion

@Suite struct WorkQueueTests {
    typealias Queue = WorkQueue<ManualInstant>

    static func queue(slots: Int = 1, maxQueued: Int = 100, maxWait: Duration = .seconds(10)) -> Queue {
        Queue(
            configuration: WorkerPoolConfiguration(
                slotsPerModel: slots, maxQueuedPerModel: maxQueued, maxQueueWait: maxWait, defaultRetryAfter: .seconds(1)))
    }

    @Test func runsAtOnceWhileSlotsAreFree() {
        var queue = Self.queue(slots: 2)
        let time = ManualTime()
        #expect(queue.enqueue(1, model: "m", userID: "u", priority: .interactive, now: time.now) == .run)
        #expect(queue.enqueue(2, model: "m", userID: "u", priority: .interactive, now: time.now) == .run)
        #expect(queue.enqueue(3, model: "m", userID: "u", priority: .interactive, now: time.now) == .queued)
        // Slots are per model.
        #expect(queue.enqueue(4, model: "other", userID: "u", priority: .interactive, now: time.now) == .run)
        #expect(queue.status == WorkerPoolStatus(slots: 4, busy: 3, queued: 1))
        #expect(queue.finish(1, now: time.now) == [.run(3)])
        #expect(queue.isRunning(3))
    }

    @Test func interactiveRequestsGoBeforeBatch() {
        var queue = Self.queue()
        let time = ManualTime()
        #expect(queue.enqueue(1, model: "m", userID: "a", priority: .interactive, now: time.now) == .run)
        _ = queue.enqueue(2, model: "m", userID: "a", priority: .batch, now: time.now)
        _ = queue.enqueue(3, model: "m", userID: "b", priority: .batch, now: time.now)
        _ = queue.enqueue(4, model: "m", userID: "c", priority: .interactive, now: time.now)
        #expect(queue.finish(1, now: time.now) == [.run(4)])
        #expect(queue.finish(4, now: time.now) == [.run(2)])
        #expect(queue.finish(2, now: time.now) == [.run(3)])
    }

    @Test func usersTakeTurns() {
        var queue = Self.queue()
        let time = ManualTime()
        #expect(queue.enqueue(100, model: "m", userID: "x", priority: .interactive, now: time.now) == .run)
        // A burst of one user, then two others.
        for ticket in UInt64(1)...5 { _ = queue.enqueue(ticket, model: "m", userID: "a", priority: .interactive, now: time.now) }
        _ = queue.enqueue(6, model: "m", userID: "b", priority: .interactive, now: time.now)
        _ = queue.enqueue(7, model: "m", userID: "c", priority: .interactive, now: time.now)
        _ = queue.enqueue(8, model: "m", userID: "b", priority: .interactive, now: time.now)
        var order: [UInt64] = []
        var running: UInt64 = 100
        while case .run(let next)? = queue.finish(running, now: time.now).first {
            order.append(next)
            running = next
        }
        #expect(order == [1, 6, 7, 2, 8, 3, 4, 5])
    }

    @Test func fullLineIsRefusedWithAHint() {
        var queue = Self.queue(slots: 1, maxQueued: 2)
        var time = ManualTime()
        #expect(queue.enqueue(1, model: "m", userID: "u", priority: .interactive, now: time.now) == .run)
        #expect(queue.enqueue(2, model: "m", userID: "u", priority: .interactive, now: time.now) == .queued)
        #expect(queue.enqueue(3, model: "m", userID: "u", priority: .interactive, now: time.now) == .queued)
        #expect(queue.enqueue(4, model: "m", userID: "u", priority: .interactive, now: time.now) == .refused(retryAfter: .seconds(1)))
        // Once generations are measured to hold a slot for 4 s, the hint covers the line ahead.
        time.advance(by: .seconds(4))
        #expect(queue.finish(1, now: time.now) == [.run(2)])
        #expect(queue.enqueue(5, model: "m", userID: "u", priority: .interactive, now: time.now) == .queued)
        #expect(queue.enqueue(6, model: "m", userID: "u", priority: .interactive, now: time.now) == .refused(retryAfter: .seconds(12)))
    }

    @Test func waitingTooLongIsRefused() {
        var queue = Self.queue(slots: 1, maxWait: .seconds(2))
        var time = ManualTime()
        _ = queue.enqueue(1, model: "m", userID: "u", priority: .interactive, now: time.now)
        _ = queue.enqueue(2, model: "m", userID: "u", priority: .interactive, now: time.now)
        time.advance(by: .seconds(1))
        _ = queue.enqueue(3, model: "m", userID: "v", priority: .interactive, now: time.now)
        #expect(queue.expire(now: time.now) == [])
        time.advance(by: .seconds(1))
        #expect(queue.expire(now: time.now) == [.refused(2, retryAfter: .seconds(1))])
        #expect(queue.status.queued == 1)
        time.advance(by: .seconds(1))
        #expect(queue.expire(now: time.now) == [.refused(3, retryAfter: .seconds(1))])
        // The running request is not affected, and its end grants nothing.
        #expect(queue.isRunning(1))
        #expect(queue.finish(1, now: time.now) == [])
    }

    @Test func abandonedWaitersLeaveTheLine() {
        var queue = Self.queue(slots: 1)
        let time = ManualTime()
        _ = queue.enqueue(1, model: "m", userID: "u", priority: .interactive, now: time.now)
        _ = queue.enqueue(2, model: "m", userID: "u", priority: .interactive, now: time.now)
        _ = queue.enqueue(3, model: "m", userID: "u", priority: .interactive, now: time.now)
        #expect(queue.finish(2, now: time.now) == [])
        #expect(queue.finish(2, now: time.now) == [])
        #expect(queue.finish(1, now: time.now) == [.run(3)])
        #expect(queue.status == WorkerPoolStatus(slots: 1, busy: 1, queued: 0))
    }
}

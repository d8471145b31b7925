import Synchronization
import Testing

@testable import ParleyGateway

@Suite("One heartbeat clock for every stream")
struct HeartbeatTickerTests {
    @Test func subscribersTickUntilTheyLeaveAndTheTickerStartsAgain() async throws {
        let ticker = HeartbeatTicker(interval: .milliseconds(5))
        let (ticksA, a) = AsyncStream<Void>.makeStream()
        let (ticksB, b) = AsyncStream<Void>.makeStream()
        let ticksOfFirst = Atomic<Int>(0)
        let first = ticker.subscribe {
            ticksOfFirst.add(1, ordering: .relaxed)
            a.yield()
        }
        let second = ticker.subscribe { b.yield() }
        var iteratorA = ticksA.makeAsyncIterator()
        var iteratorB = ticksB.makeAsyncIterator()
        for _ in 0..<3 {
            await iteratorA.next()
            await iteratorB.next()
        }
        ticker.unsubscribe(first)
        ticker.unsubscribe(second)
        let ticksWhenLeft = ticksOfFirst.load(ordering: .relaxed)
        // Nobody is left: the ticker's task ends; a new subscriber starts it again.
        let counted = Atomic<Int>(0)
        let (ticksC, c) = AsyncStream<Void>.makeStream()
        let third = ticker.subscribe {
            counted.add(1, ordering: .relaxed)
            c.yield()
        }
        var iteratorC = ticksC.makeAsyncIterator()
        await iteratorC.next()
        await iteratorC.next()
        ticker.unsubscribe(third)
        #expect(counted.load(ordering: .relaxed) >= 2)
        // At most a tick already on its way when it left.
        #expect(ticksOfFirst.load(ordering: .relaxed) <= ticksWhenLeft + 1)
    }
}

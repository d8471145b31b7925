import Testing

@testable import ParleyEngine

@Suite struct BatchPlannerTests {
    func planner(sequences: Int = 4, budget: Int = 100, chunk: Int = 16, decodingChunk: Int = 16) -> BatchPlanner {
        BatchPlanner(
            configuration: .init(
                maxSequences: sequences, kvBudget: budget, prefillChunk: chunk, decodingPrefillChunk: decodingChunk))
    }

    @Test func refusesWhatCanNeverFit() {
        var p = planner(budget: 100)
        #expect(p.submit(id: 1, reservation: 101) == .rejected)
        #expect(p.submit(id: 2, reservation: 100) == .queued)
        #expect(p.admit() == [2])
    }

    @Test func admitsInOrderWhileMemoryAndSlotsLast() {
        var p = planner(sequences: 2, budget: 100)
        for (id, size) in [(1, 40), (2, 40), (3, 10), (4, 5)] { _ = p.submit(id: id, reservation: size) }
        #expect(p.admit() == [1, 2])  // slots full
        p.remove(id: 1)
        #expect(p.admit() == [3])
        #expect(p.reserved == 50)
        var q = planner(sequences: 8, budget: 100)
        for (id, size) in [(1, 60), (2, 50), (3, 10)] { _ = q.submit(id: id, reservation: size) }
        #expect(q.admit() == [1])  // 2 does not fit yet and 3 waits behind it (no starvation of 2)
        q.remove(id: 1)
        #expect(q.admit() == [2, 3])
    }

    @Test func removingAWaitingRequestFreesNothingAndDropsIt() {
        var p = planner(sequences: 1)
        _ = p.submit(id: 1, reservation: 10)
        _ = p.submit(id: 2, reservation: 10)
        #expect(p.admit() == [1])
        p.remove(id: 2)
        p.remove(id: 1)
        #expect(p.admit() == [])
        #expect(p.reserved == 0)
    }

    @Test func planGivesDecodersOneTokenAndSplitsThePrefillChunk() {
        var p = planner(sequences: 4, budget: 1000, chunk: 16)
        for id in 1...4 { _ = p.submit(id: id, reservation: 100) }
        _ = p.admit()
        let slices = p.plan(remainingPrompt: [1: 0, 2: 10, 3: 0, 4: 30])
        #expect(
            slices == [
                .init(id: 1, count: 1), .init(id: 3, count: 1), .init(id: 2, count: 10), .init(id: 4, count: 6),
            ])
    }

    @Test func prefillShrinksWhileOthersDecode() {
        var p = planner(sequences: 4, budget: 1000, chunk: 64, decodingChunk: 8)
        for id in 1...3 { _ = p.submit(id: id, reservation: 200) }
        _ = p.admit()
        // Nobody decodes: the whole chunk, shared in admission order.
        #expect(p.plan(remainingPrompt: [1: 50, 2: 30, 3: 5]) == [.init(id: 1, count: 50), .init(id: 2, count: 14)])
        // Sequence 1 decodes: the others get only the small chunk, so its next token is not held up.
        #expect(
            p.plan(remainingPrompt: [1: 0, 2: 16, 3: 5])
                == [.init(id: 1, count: 1), .init(id: 2, count: 8)])
        #expect(
            p.plan(remainingPrompt: [1: 0, 2: 3, 3: 5])
                == [.init(id: 1, count: 1), .init(id: 2, count: 3), .init(id: 3, count: 5)])
        // The small chunk never exceeds the full one.
        var q = planner(sequences: 2, budget: 1000, chunk: 4, decodingChunk: 100)
        for id in 1...2 { _ = q.submit(id: id, reservation: 200) }
        _ = q.admit()
        #expect(q.plan(remainingPrompt: [1: 0, 2: 50]) == [.init(id: 1, count: 1), .init(id: 2, count: 4)])
    }
}

import ParleyCluster
import ParleyProtocol
import Synchronization
import Testing

@testable import ParleyCompletion

@Suite("Worker pool across nodes", .serialized)
struct WorkerPoolClusteredTests {
    static func modelRequest(_ id: String, maxTokens: Int = 100_000) -> ModelRequest {
        ModelRequest(
            requestID: id, userID: "u", model: "m", messages: [ChatMessage(role: "user", content: "hi")],
            sampling: SamplingOptions(maxTokens: maxTokens))
    }

    @Test func fullQueueIsRefusedWithARetryHintAndWaitsAreBounded() async throws {
        let configuration = WorkerPoolConfiguration(
            slotsPerModel: 1, maxQueuedPerModel: 1, maxQueueWait: .milliseconds(300), expiryInterval: .milliseconds(20))
        try await withHarness(tokenDelay: .milliseconds(5), workerConfiguration: configuration) { harness in
            let service = try #require(harness.workers["w1"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                let pool = try $WorkerPoolProtocol.resolve(id: service.pool.id, using: harness.gateway)

                // The first request runs.
                let running = try await pool.generate(Self.modelRequest("r1"))
                var runningIterator = running.makeAsyncIterator()
                _ = try await runningIterator.next()
                // The second waits in line; the third finds the line full.
                let waiting = try await pool.generate(Self.modelRequest("r2"))
                let refused = await #expect(throws: ClusterError.self) {
                    _ = try await pool.generate(Self.modelRequest("r3"))
                }
                #expect(refused?.code.rawValue == ServingError.overloaded)
                #expect(refused?.message.contains("retry after") == true)
                #expect(try await pool.status() == WorkerPoolStatus(slots: 1, busy: 1, queued: 1))

                // The waiting one is refused after the maximum wait instead of hanging.
                let start = ContinuousClock.now
                let expired = await #expect(throws: ClusterError.self) {
                    for try await _ in waiting {}
                }
                #expect(expired?.code.rawValue == ServingError.overloaded)
                #expect(start.duration(to: .now) < .seconds(2))
                #expect(try await pool.status().queued == 0)
                group.cancelAll()
            }
        }
    }

    @Test func aFreedSlotGoesToTheNextRequest() async throws {
        let configuration = WorkerPoolConfiguration(slotsPerModel: 1, maxQueuedPerModel: 4)
        try await withHarness(workerConfiguration: configuration) { harness in
            let pool = try $WorkerPoolProtocol.resolve(id: harness.workers["w1"]!.pool.id, using: harness.gateway)
            let first = try await pool.generate(Self.modelRequest("r1", maxTokens: 50))
            let second = try await pool.generate(Self.modelRequest("r2", maxTokens: 5))
            var firstCount = 0
            for try await event in first { if case .token = event { firstCount += 1 } }
            var secondCount = 0
            for try await event in second { if case .token = event { secondCount += 1 } }
            #expect(firstCount == 50)
            #expect(secondCount == 5)
            #expect(try await pool.status() == WorkerPoolStatus(slots: 1, busy: 0, queued: 0))
        }
    }

    @Test func aRequestWithAFreeSlotReachesTheProxyBeforeItsStreamIsRead() async throws {
        let configuration = WorkerPoolConfiguration(slotsPerModel: 1, maxQueuedPerModel: 4)
        try await withHarness(workerConfiguration: configuration) { harness in
            let pool = try $WorkerPoolProtocol.resolve(id: harness.workers["w1"]!.pool.id, using: harness.gateway)
            let calls = { harness.probe.calls.load(ordering: .relaxed) }
            // A free slot: the proxy (and so the model) has the request when generate returns.
            let first = try await pool.generate(Self.modelRequest("r1", maxTokens: 3))
            #expect(calls() == 1)
            // In line: the proxy gets it only when the slot is free and the stream is read.
            let second = try await pool.generate(Self.modelRequest("r2", maxTokens: 3))
            #expect(calls() == 1)
            var tokens = 0
            for try await event in first { if case .token = event { tokens += 1 } }
            for try await event in second { if case .token = event { tokens += 1 } }
            #expect(tokens == 6)
            #expect(calls() == 2)
        }
    }
}

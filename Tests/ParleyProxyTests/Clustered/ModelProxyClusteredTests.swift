import ParleyCluster
import ParleyModelAPI
import ParleyProtocol
@testable import ParleyProxy
import Testing

@Suite("Model proxy with model API nodes on loopback", .serialized, .timeLimit(.minutes(1)))
struct ModelProxyClusteredTests {
    static let synthetic = SyntheticModel.Configuration(timeToFirstToken: .milliseconds(10), tokensPerSecond: 100)

    @Test func streamsTheExactAnswerThroughTheProxy() async throws {
        try await ServingTestCluster.with { cluster in
            try await cluster.addModel("model-1", backend: .synthetic(Self.synthetic))
            let request = ServingTestCluster.request("plain", maxTokens: 24)
            var events: [GenerationEvent] = []
            for try await event in try await cluster.proxy().generate(request, region: nil) { events.append(event) }
            expectExactAnswer(events, for: request)
            let statuses = try await cluster.proxy().endpoints()
            #expect(statuses.count == 1)
            #expect(statuses.first?.circuit == "closed")
            #expect((statuses.first?.timeToFirstTokenMillis ?? 0) > 0)
            #expect(statuses.first?.inFlight == 0)
        }
    }

    @Test func killingTheModelNodeMidStreamLosesNoTokenAndRepeatsNone() async throws {
        try await ServingTestCluster.with { cluster in
            let first = try await cluster.addModel("model-1", backend: .synthetic(Self.synthetic))
            let second = try await cluster.addModel("model-2", backend: .synthetic(Self.synthetic))
            let request = ServingTestCluster.request("failover", maxTokens: 60)
            let clock = ContinuousClock()
            var events: [GenerationEvent] = []
            var arrivals: [ContinuousClock.Instant] = []
            var killedAt: ContinuousClock.Instant?
            var killer: Task<Void, Never>?
            var survivor: ServingTestCluster.ModelNode?
            for try await event in try await cluster.proxy().generate(request, region: nil) {
                events.append(event)
                arrivals.append(clock.now)
                if case .token(15, _, _) = event {
                    let victim = first.tracker.inFlight == 1 ? first : second
                    survivor = victim.name == first.name ? second : first
                    #expect(victim.tracker.inFlight == 1)
                    killedAt = clock.now
                    killer = Task { await cluster.kill(victim) }
                }
            }
            await killer?.value
            expectExactAnswer(events, for: request)
            let kill = try #require(killedAt)
            let afterKill = arrivals.filter { $0 > kill }
            let firstAfterKill = try #require(afterKill.first)
            var longestGap = Duration.zero
            for (earlier, later) in zip(arrivals, arrivals.dropFirst()) where later > kill {
                longestGap = max(longestGap, earlier.duration(to: later))
            }
            print(
                "failover: kill → next token \(kill.duration(to: firstAfterKill)), longest gap after the kill \(longestGap)"
                    + " (normal gap 10 ms)")
            #expect(kill.duration(to: firstAfterKill) < .seconds(1))
            #expect(longestGap < .seconds(1))
            #expect(survivor?.tracker.inFlight == 0)
        }
    }

    @Test func cancellationReachesTheModelWithin100Milliseconds() async throws {
        try await ServingTestCluster.with { cluster in
            let tracker = GenerationTracker()
            let slow = SyntheticModel.Configuration(timeToFirstToken: .milliseconds(5), tokensPerSecond: 20)
            try await cluster.addModel("model-1", backend: .synthetic(slow), tracker: tracker)
            try await cluster.addModel("model-2", backend: .synthetic(slow), tracker: tracker)
            let events = tracker.events()
            let proxy = try cluster.proxy()
            let (threeTokens, signal) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                var count = 0
                for try await event in try await proxy.generate(
                    ServingTestCluster.request("cancel", maxTokens: 200), region: nil)
                {
                    if case .token = event { count += 1 }
                    if count == 3 { signal.yield() }
                }
            }
            for await _ in threeTokens { break }
            let clock = ContinuousClock()
            let cancelledAt = clock.now
            consumer.cancel()
            var endedAt: ContinuousClock.Instant?
            for await event in events {
                if case .ended(let id, let outcome) = event, id == "cancel" {
                    #expect(outcome == .cancelled)
                    endedAt = clock.now
                    break
                }
            }
            let delay = cancelledAt.duration(to: try #require(endedAt))
            print("cancellation: consumer cancel → model generation ended in \(delay)")
            #expect(delay < .milliseconds(100))
            #expect(tracker.inFlight == 0)
            _ = try? await consumer.value
        }
    }

    @Test func silentEndpointIsFailedOverAfterTheStallTimeoutAndItsGenerationCancelled() async throws {
        var settings = ProxySettings()
        settings.stallTimeout = .milliseconds(300)
        try await ServingTestCluster.with(proxySettings: settings) { cluster in
            // Both unmeasured: "a-silent" ranks first by name; its node stays alive but its first
            // token would come after an hour.
            let silentTracker = GenerationTracker()
            let silent = SyntheticModel.Configuration(timeToFirstToken: .seconds(3600), tokensPerSecond: 100)
            try await cluster.addModel("a-silent", backend: .synthetic(silent), tracker: silentTracker)
            try await cluster.addModel("b-good", backend: .synthetic(Self.synthetic))
            let silentEvents = silentTracker.events()
            let request = ServingTestCluster.request("stall", maxTokens: 8)
            let clock = ContinuousClock()
            let start = clock.now
            var events: [GenerationEvent] = []
            for try await event in try await cluster.proxy().generate(request, region: nil) { events.append(event) }
            let elapsed = start.duration(to: clock.now)
            expectExactAnswer(events, for: request)
            #expect(elapsed >= .milliseconds(300), "the answer came from the silent endpoint?")
            #expect(elapsed < .seconds(5))
            // The silent endpoint's generation was cancelled, not left running.
            for await event in silentEvents {
                if case .ended(let id, let outcome) = event, id == "stall" {
                    #expect(outcome == .cancelled)
                    break
                }
            }
        }
    }

    @Test func aLongPromptGivesTheFirstTokenMoreTimeThanTheStallTimeout() async throws {
        var settings = ProxySettings()
        settings.stallTimeout = .milliseconds(300)
        settings.stallAllowancePerPromptToken = .milliseconds(1)
        // 6,000 bytes of prompt: about 2,000 tokens, 2 s more before the first token.
        var request = ServingTestCluster.request("long-prompt", maxTokens: 4)
        request.messages[0].content = String(repeating: "All work and no play. ", count: 273)
        #expect(settings.firstTokenStallTimeout(for: request) == .milliseconds(300 + 2_002))
        #expect(settings.firstTokenStallTimeout(for: ServingTestCluster.request("x", maxTokens: 1)) == .milliseconds(308))
        try await ServingTestCluster.with(proxySettings: settings) { cluster in
            // The only endpoint, on another node, computes the prompt for 1 s before its first
            // token: past the stall timeout, within the prompt's allowance.
            let slow = SyntheticModel.Configuration(timeToFirstToken: .seconds(1), tokensPerSecond: 1000)
            try await cluster.addModel("slow-start", backend: .synthetic(slow))
            var events: [GenerationEvent] = []
            for try await event in try await cluster.proxy().generate(request, region: nil) { events.append(event) }
            expectExactAnswer(events, for: request)
        }
    }

    /// A model that reports its progress through a long prompt is not stalled however long the
    /// prompt takes (no allowance here); the reports are relayed before the first token (for the
    /// person waiting), and a model that stops reporting is stalled after the timeout as before.
    @Test func promptProgressKeepsALongPromptFromLookingStalled() async throws {
        var settings = ProxySettings()
        settings.stallTimeout = .milliseconds(300)
        settings.stallAllowancePerPromptToken = .zero
        try await ServingTestCluster.with(proxySettings: settings) { cluster in
            let reporting = SyntheticModel.Configuration(
                timeToFirstToken: .milliseconds(1_500), tokensPerSecond: 1000, promptProgressInterval: .milliseconds(100))
            try await cluster.addModel("reporting", backend: .synthetic(reporting))
            let request = ServingTestCluster.request("progress", maxTokens: 4)
            var events: [GenerationEvent] = []
            for try await event in try await cluster.proxy().generate(request, region: nil) { events.append(event) }
            expectExactAnswer(events, for: request)
            // About 14 reports, all before the first token, counting up through the same prompt.
            let reports = events.prefix { if case .prompt = $0 { true } else { false } }
            #expect(reports.count >= 5)
            #expect(events.dropFirst(reports.count).allSatisfy { if case .prompt = $0 { false } else { true } })
            let counts = reports.compactMap { if case .prompt(let computed, let total) = $0 { (computed, total) } else { nil } }
            #expect(counts.map(\.1).allSatisfy { $0 == SyntheticModel.promptTokenCount(for: request) })
            #expect(counts.map(\.0) == counts.map(\.0).sorted())

            // The same first-token delay without reports: stalled on every attempt, refused.
            let silent = SyntheticModel.Configuration(modelName: "silent", timeToFirstToken: .milliseconds(1_500), tokensPerSecond: 1000)
            try await cluster.addModel("silent", backend: .synthetic(silent))
            let unreported = ServingTestCluster.request("no-progress", maxTokens: 4, model: "silent")
            await #expect(throws: (any Error).self) {
                for try await _ in try await cluster.proxy().generate(unreported, region: nil) {}
            }
        }
    }

    @Test func anEndpointOnTheProxysOwnNodeIsReadDirectlyWithoutTheStallTimeout() async throws {
        var settings = ProxySettings()
        settings.stallTimeout = .milliseconds(300)
        try await ServingTestCluster.with(proxySettings: settings) { cluster in
            // The only endpoint answers after 1 s, past the stall timeout; being in the proxy's
            // process it is read directly (its backend times out on its own). Were it timed, every
            // attempt would be failed after 300 ms and the request refused.
            let slow = SyntheticModel.Configuration(timeToFirstToken: .seconds(1), tokensPerSecond: 1000)
            try await cluster.addModel("local", backend: .synthetic(slow), onProxyNode: true)
            let request = ServingTestCluster.request("local", maxTokens: 4)
            let start = ContinuousClock.now
            var events: [GenerationEvent] = []
            for try await event in try await cluster.proxy().generate(request, region: nil) { events.append(event) }
            expectExactAnswer(events, for: request)
            #expect(start.duration(to: .now) >= .seconds(1))
        }
    }

    @Test func theModelIsAskedWhenTheProxyIsNotWhenItsStreamIsFirstRead() async throws {
        try await ServingTestCluster.with { cluster in
            // The model's first token is due 1 s after it was asked. The stream is read 1 s after
            // the proxy's generate returned: the token is there at once. Opened at the first
            // read, it would take 1 s more.
            let slow = SyntheticModel.Configuration(timeToFirstToken: .seconds(1), tokensPerSecond: 1000)
            try await cluster.addModel("model-1", backend: .synthetic(slow))
            let request = ServingTestCluster.request("eager", maxTokens: 2)
            let stream = try await cluster.proxy().generate(request, region: nil)
            try await Task.sleep(for: .seconds(1))
            let readStart = ContinuousClock.now
            var events: [GenerationEvent] = []
            for try await event in stream {
                if events.isEmpty { #expect(readStart.duration(to: .now) < .milliseconds(500)) }
                events.append(event)
            }
            expectExactAnswer(events, for: request)
        }
    }

    @Test func failingEndpointBeforeTheFirstTokenIsFailedOverAndItsCircuitOpens() async throws {
        var settings = ProxySettings()
        settings.breaker = .init(consecutiveFailures: 3, coolDown: .seconds(60))
        try await ServingTestCluster.with(proxySettings: settings) { cluster in
            // An upstream backend whose server is down: every generation fails before its first token.
            let down = UpstreamBackend.Configuration(
                baseURL: "http://127.0.0.1:1", models: ["synthetic", "broken"], connectTimeout: .milliseconds(100))
            let broken = try await cluster.addModel("a-broken", backend: .upstream(down))
            try await cluster.addModel("b-good", backend: .synthetic(Self.synthetic))
            let proxy = try cluster.proxy()

            // Both unmeasured: the broken endpoint ranks first by name, fails, and the good one answers.
            let request = ServingTestCluster.request("failing", maxTokens: 12)
            var events: [GenerationEvent] = []
            for try await event in try await proxy.generate(request, region: nil) { events.append(event) }
            expectExactAnswer(events, for: request)
            let status = try #require(try await proxy.endpoints().first { $0.actor.node == broken.system.node })
            #expect(status.errorRate > 0)

            // Only the broken endpoint serves "broken": requests fail with no_backend until the circuit opens.
            for attempt in 0..<2 {
                let error = await #expect(throws: ClusterError.self) {
                    for try await _ in try await proxy.generate(
                        ServingTestCluster.request("b\(attempt)", maxTokens: 4, model: "broken"), region: nil)
                    {}
                }
                #expect(error?.code.rawValue == ServingError.noBackend)
            }
            let open = try #require(try await proxy.endpoints().first { $0.actor.node == broken.system.node })
            #expect(open.circuit == "open")
            let refused = await #expect(throws: ClusterError.self) {
                for try await _ in try await proxy.generate(
                    ServingTestCluster.request("b-open", maxTokens: 4, model: "broken"), region: nil)
                {}
            }
            #expect(refused?.message.contains("no healthy model endpoint") == true)

            // The good endpoint keeps serving.
            let after = ServingTestCluster.request("after", maxTokens: 8)
            var more: [GenerationEvent] = []
            for try await event in try await proxy.generate(after, region: nil) { more.append(event) }
            expectExactAnswer(more, for: after)
        }
    }

    @Test func unknownModelIsRefusedWithModelNotFound() async throws {
        try await ServingTestCluster.with { cluster in
            try await cluster.addModel("model-1", backend: .synthetic(Self.synthetic))
            let error = await #expect(throws: ClusterError.self) {
                _ = try await cluster.proxy().generate(
                    ServingTestCluster.request("x", maxTokens: 4, model: "nope"), region: nil)
            }
            #expect(error?.code.rawValue == ServingError.modelNotFound)
        }
    }
}

import Foundation
import ParleyModelAPI
import ParleyProtocol
import ParleyToolCalls
import Testing

@Suite("Synthetic model: a pure function of the request")
struct SyntheticModelTests {
    static func request(_ text: String = "hello", seed: UInt64? = 7, maxTokens: Int? = nil, id: String = "r1")
        -> ModelRequest
    {
        ModelRequest(
            requestID: id, userID: "u1", model: "synthetic", messages: [ChatMessage(role: "user", content: text)],
            sampling: SamplingOptions(maxTokens: maxTokens, seed: seed))
    }

    static let fast = SyntheticModel(configuration: .init(timeToFirstToken: .zero, tokensPerSecond: 0))

    static func collect(_ model: SyntheticModel, _ request: ModelRequest) async throws -> [GenerationEvent] {
        var events: [GenerationEvent] = []
        for try await event in try model.generate(request) { events.append(event) }
        return events
    }

    @Test func streamEqualsTheExpectedAnswer() async throws {
        let request = Self.request(maxTokens: 40)
        let events = try await Self.collect(Self.fast, request)
        let expected = SyntheticModel.expectedAnswer(for: request)
        #expect(expected.count == 40)
        #expect(events.dropLast() == expected.enumerated().map { GenerationEvent.token(index: $0, text: $1) }[...])
        #expect(events.last == .finished(.length, TokenUsage(promptTokens: 5, completionTokens: 40)))
    }

    /// Asked for logprobs, each token carries made-up but consistent ones: its own text first among
    /// the alternatives, probabilities that add up to at most 1, the same for the same request.
    @Test func logprobsAreDeterministicAndConsistent() async throws {
        var request = Self.request(maxTokens: 12)
        request.sampling.logprobs = 5
        let events = try await Self.collect(Self.fast, request)
        #expect(try await Self.collect(Self.fast, request) == events)
        for event in events.dropLast() {
            guard case .token(_, let text, let logprobs) = event, let item = logprobs.first else {
                Issue.record("no logprobs in \(event)")
                continue
            }
            #expect(logprobs.count == 1)
            #expect(item.text == text)
            #expect(item.top.count == 5)
            #expect(item.top.first == TokenLogprob(bytes: item.bytes, logprob: item.logprob))
            #expect(item.top.map { exp($0.logprob) }.reduce(0, +) <= 1)
            #expect((log(0.3)...0).contains(item.logprob))
        }
        // The text is the same with or without them.
        let plain = try await Self.collect(Self.fast, Self.request(maxTokens: 12))
        #expect(plain == events.map { event in
            guard case .token(let index, let text, _) = event else { return event }
            return .token(index: index, text: text)
        })
    }

    /// In JSON mode the words are wrapped in one object, whatever the length, also when resumed.
    @Test func jsonModeWrapsTheWordsInAnObject() async throws {
        for length in [1, 2, 9] {
            var request = Self.request(maxTokens: length)
            request.sampling.responseFormat = .jsonObject
            let events = try await Self.collect(Self.fast, request)
            let text = events.compactMap { if case .token(_, let text, _) = $0 { text } else { nil } }.joined()
            #expect(text == SyntheticModel.expectedAnswer(for: request).joined())
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]
            let plain = SyntheticModel.expectedAnswer(for: Self.request(maxTokens: length)).joined()
            #expect(object == ["text": plain])
            request.resume = ResumePoint(tokenCount: length - 1, text: "")
            let rest = try await Self.collect(Self.fast, request)
            #expect(rest.first == .token(index: length - 1, text: SyntheticModel.expectedAnswer(for: request).last!))
        }
    }

    /// It cannot follow a schema, and says so rather than answering something else.
    @Test func aSchemaIsRefused() {
        var request = Self.request(maxTokens: 3)
        request.sampling.responseFormat = .jsonSchema(name: "x", schema: #"{"type":"object"}"#)
        #expect(throws: ServingError.self) { _ = try Self.fast.generate(request) }
    }

    /// It never chooses to call a tool: offered tools leave its answer as it was. A required call
    /// is made: the markup of a call of the (named) tool with the smallest arguments of its schema,
    /// streamed four characters a token, and cut by `maxTokens` like any answer.
    @Test func aRequiredToolCallIsMadeWithArgumentsOfItsSchema() async throws {
        var request = Self.request(maxTokens: nil)
        let plain = try await Self.collect(Self.fast, request)
        let weather = ToolDefinition(
            name: "get_weather",
            parameters: #"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"enum":["c","f"]},"note":{"type":"string"}},"required":["unit","city","days"]}"#)
        request.sampling.tools = ToolOptions(tools: [ToolDefinition(name: "now"), weather])
        #expect(try await Self.collect(Self.fast, request) == plain)
        for (choice, name) in [(ToolChoice.required, "now"), (.function("get_weather"), "get_weather")] {
            request.sampling.tools?.choice = choice
            let events = try await Self.collect(Self.fast, request)
            var text = ""
            for case .token(let index, let piece, _) in events {
                #expect(index == text.count / 4 && piece.count <= 4)
                text += piece
            }
            #expect(events.last.map { if case .finished(.stop, _) = $0 { true } else { false } } == true)
            #expect(text == SyntheticModel.expectedAnswer(for: request).joined())
            let blocks = ToolCallExtractor.blocks(of: text)
            guard blocks.count == 1, case .call(let call) = blocks[0] else {
                Issue.record("not one call: \(text)")
                continue
            }
            #expect(call.name == name)
            let arguments = try JSONSerialization.jsonObject(with: Data(call.arguments.utf8)) as? [String: Any]
            if name == "now" {
                #expect(arguments?.isEmpty == true)
            } else {
                #expect(Set(arguments?.keys.map { $0 } ?? []) == ["city", "days", "unit"])
                #expect(arguments?["unit"] as? String == "c" && arguments?["days"] as? Int == 1)
            }
        }
        request.sampling.maxTokens = 5
        let cut = try await Self.collect(Self.fast, request)
        #expect(cut.count == 6 && cut.last.map { if case .finished(.length, _) = $0 { true } else { false } } == true)
    }

    @Test func defaultLengthEndsWithStop() async throws {
        let request = Self.request(maxTokens: nil)
        let events = try await Self.collect(Self.fast, request)
        #expect(events.count == 65)
        guard case .finished(.stop, let usage) = events.last else {
            Issue.record("no stop at the end: \(String(describing: events.last))")
            return
        }
        #expect(usage.completionTokens == 64)
    }

    @Test func answerDependsOnMessagesSeedAndMaxTokensOnly() {
        let base = SyntheticModel.expectedAnswer(for: Self.request())
        #expect(SyntheticModel.expectedAnswer(for: Self.request(id: "other")) == base)
        var resumed = Self.request()
        resumed.resume = ResumePoint(tokenCount: 10, text: "ignored")
        resumed.userID = "someone else"
        #expect(SyntheticModel.expectedAnswer(for: resumed) == base)
        #expect(SyntheticModel.expectedAnswer(for: Self.request(seed: 8)) != base)
        #expect(SyntheticModel.expectedAnswer(for: Self.request("hello!")) != base)
        let shorter = SyntheticModel.expectedAnswer(for: Self.request(maxTokens: 64))
        #expect(shorter.count == base.count)
        #expect(shorter != base)
        // A stable hash: the same on every run and machine.
        #expect(SyntheticModel.requestHash(Self.request()) == SyntheticModel.requestHash(Self.request(id: "x")))
        #expect(base[0].first != " ")
        #expect(base[1].first == " ")
    }

    @Test func resumeContinuesAtTheResumePoint() async throws {
        let request = Self.request(maxTokens: 30)
        let expected = SyntheticModel.expectedAnswer(for: request)
        var resumed = request
        resumed.resume = ResumePoint(tokenCount: 12, text: expected[..<12].joined())
        let events = try await Self.collect(Self.fast, resumed)
        #expect(events.count == 18 + 1)
        #expect(events.first == .token(index: 12, text: expected[12]))
        #expect(events.dropLast().last == .token(index: 29, text: expected[29]))
        #expect(events.last == .finished(.length, TokenUsage(promptTokens: 5, completionTokens: 30)))
        // Resuming at the very end only finishes.
        resumed.resume = ResumePoint(tokenCount: 30, text: expected.joined())
        #expect(
            try await Self.collect(Self.fast, resumed) == [
                .finished(.length, TokenUsage(promptTokens: 5, completionTokens: 30))
            ])
    }

    @Test func pacingFollowsTimeToFirstTokenAndTokensPerSecond() async throws {
        let model = SyntheticModel(configuration: .init(timeToFirstToken: .milliseconds(50), tokensPerSecond: 100))
        let clock = ContinuousClock()
        let start = clock.now
        var first: Duration?
        var count = 0
        for try await event in try model.generate(Self.request(maxTokens: 20)) {
            if case .token = event, first == nil { first = start.duration(to: clock.now) }
            count += 1
        }
        let total = start.duration(to: clock.now)
        #expect(count == 21)
        #expect(first! >= .milliseconds(50))
        // 50 ms + 20 more steps of 10 ms (the last one before the finish): at least 250 ms.
        #expect(total >= .milliseconds(250))
    }

    @Test func timeToFirstTokenCountsFromTheRequestNotFromTheFirstRead() async throws {
        // The reader comes a whole time to first token late and gets the first token at once: the
        // model started when it was asked. Timed from the first read, it would wait 1 s more.
        let model = SyntheticModel(configuration: .init(timeToFirstToken: .seconds(1), tokensPerSecond: 0))
        let stream = try model.generate(Self.request(maxTokens: 1))
        try await Task.sleep(for: .seconds(1))
        let clock = ContinuousClock()
        let readStart = clock.now
        var iterator = stream.makeAsyncIterator()
        guard case .token = try await iterator.next() else {
            Issue.record("the first event is not a token")
            return
        }
        #expect(readStart.duration(to: clock.now) < .milliseconds(500))
    }

    @Test(.timeLimit(.minutes(1))) func cancellationStopsTheStreamAtOnce() async throws {
        // The second token is due after 1,000 s: only cancellation can end the wait for it (the
        // time limit catches a stream that ignores it), however slow the machine.
        let model = SyntheticModel(configuration: .init(timeToFirstToken: .zero, tokensPerSecond: 0.001))
        let (firstToken, sawFirst) = AsyncStream<Void>.makeStream()
        let task = Task {
            var count = 0
            for try await _ in try model.generate(Self.request(maxTokens: 100)) {
                count += 1
                sawFirst.yield()
            }
            return count
        }
        for await _ in firstToken { break }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}

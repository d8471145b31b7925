import Foundation
import ParleyJSON
import ParleyStructuredOutput
import Testing

@testable import ParleyEngine

/// The public ``Engine`` on the real model: streaming, batching, cancellation, admission and bad input.
@Suite(.serialized, .enabled(if: ReferenceModel.path != nil))
struct EngineTests {
    static func engine(_ configuration: Engine.Configuration = .init(contextLength: 512)) throws -> Engine {
        try Engine(modelPath: ReferenceModel.path!, configuration: configuration)
    }

    struct Outcome {
        var ids: [Int32] = []
        var text = ""
        /// Each token's logprobs, when asked for.
        var logprobs: [TokenLogprobs?] = []
        var summary: GenerationSummary?
        /// The `.prompt` events' computed counts, and how many tokens had come before each.
        var promptProgress: [(computed: Int, tokensBefore: Int)] = []
    }

    static func collect(_ stream: AsyncThrowingStream<TokenEvent, any Error>) async throws -> Outcome {
        var outcome = Outcome()
        for try await event in stream {
            switch event {
            case .prompt(let computed, _):
                outcome.promptProgress.append((computed, outcome.ids.count))
            case .token(let token):
                outcome.ids.append(token.id)
                outcome.text += token.text
                outcome.logprobs.append(token.logprobs)
            case .finished(let summary):
                outcome.summary = summary
            }
        }
        return outcome
    }

    static func error(of stream: AsyncThrowingStream<TokenEvent, any Error>) async -> EngineError? {
        do {
            for try await _ in stream {}
            return nil
        } catch {
            return error as? EngineError
        }
    }

    static let counting = GenerationRequest.Prompt.raw("1, 2, 3, 4, 5, 6, 7, 8, 9, 10,")

    @Test func badInputIsAClearError() async throws {
        let engine = try Self.engine(.init(kvCacheBytes: 64 << 20, contextLength: 64))
        defer { engine.shutdown() }
        #expect(await Self.error(of: engine.generate(.init(prompt: .raw(""))))?.code == .emptyPrompt)
        #expect(await Self.error(of: engine.generate(.init(prompt: .tokens([]))))?.code == .emptyPrompt)
        let long = GenerationRequest(prompt: .tokens(Array(repeating: 28, count: 70)))
        let tooLong = await Self.error(of: engine.generate(long))
        #expect(tooLong?.code == .promptTooLong)
        #expect(tooLong?.message.contains("70 tokens") == true)
        #expect(await Self.error(of: engine.generate(.init(prompt: .tokens([999_999]))))?.code == .invalidRequest)
        #expect(await Self.error(of: engine.generate(.init(prompt: Self.counting, maxTokens: 0)))?.code == .invalidRequest)
        // Still serves after bad requests.
        let ok = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 3)))
        #expect(ok.ids.count == 3 && ok.summary?.finishReason == .length)
    }

    /// A prompt computed in several steps reports its progress before its first token, so a
    /// proxy can tell a working engine from a hung one; a short prompt reports nothing.
    @Test func aLongPromptReportsItsProgressBeforeTheFirstToken() async throws {
        let engine = try Self.engine(.init(kvCacheBytes: 64 << 20, contextLength: 512, prefillChunk: 64))
        defer { engine.shutdown() }
        let long = try await Self.collect(
            engine.generate(.init(prompt: .tokens(Array(repeating: 28, count: 300)), sampling: .greedy, maxTokens: 2)))
        #expect(long.promptProgress.map(\.computed) == [0, 64, 128, 192, 256])
        #expect(long.promptProgress.allSatisfy { $0.tokensBefore == 0 })
        #expect(long.ids.count == 2)
        let short = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 2)))
        #expect(short.promptProgress.isEmpty)
    }

    /// A long prompt's step (512 tokens here) stops at the next layer when its generation is
    /// cancelled meanwhile, so the engine is free for the next request at once. (The prompt takes
    /// eight steps, so a reader the test machine's load delays still cancels during one.)
    @Test func cancellingALongPromptStopsItsStepPartWay() async throws {
        let engine = try Self.engine(.init(kvCacheBytes: 128 << 20, contextLength: 4096, prefillChunk: 512))
        defer { engine.shutdown() }
        // The first report comes as the step begins; the stream goes away with the function that
        // read it, which cancels the generation.
        func firstEvent() async throws -> TokenEvent? {
            for try await event in engine.generate(
                .init(prompt: .tokens(Array(repeating: 28, count: 4000)), sampling: .greedy, maxTokens: 2))
            {
                return event
            }
            return nil
        }
        guard case .prompt(0, 4000) = try await firstEvent() else {
            Issue.record("expected the prompt's first report")
            return
        }
        // The next request is served after the abandoned step.
        let next = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 2)))
        #expect(next.ids.count == 2)
        #expect(engine.abandonedSteps == 1)
    }

    @Test func requestLargerThanTheKVBudgetIsRefused() async throws {
        // ~23 KB per position for SmolLM2: 2 MB hold ~90 positions.
        let engine = try Self.engine(.init(kvCacheBytes: 2 << 20, contextLength: 512))
        defer { engine.shutdown() }
        let error = await Self.error(of: engine.generate(.init(prompt: Self.counting, maxTokens: 400)))
        #expect(error?.code == .exceedsCapacity)
        let fits = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 4)))
        #expect(fits.ids.count == 4)
    }

    @Test func concurrentStreamsMatchASoloRun() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let prompts: [GenerationRequest.Prompt] = [
            Self.counting, .chat([ChatTurn(role: "user", content: "Name three colors.")]),
            .raw("def add(a, b):"), .chat([ChatTurn(role: "user", content: "Hi!")]),
        ]
        var solo: [[Int32]] = []
        for prompt in prompts {
            solo.append(try await Self.collect(engine.generate(.init(prompt: prompt, sampling: .greedy, maxTokens: 16))).ids)
        }
        let together = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, prompt) in prompts.enumerated() {
                group.addTask {
                    (i, try await Self.collect(engine.generate(.init(prompt: prompt, sampling: .greedy, maxTokens: 16))).ids)
                }
            }
            var results = [[Int32]](repeating: [], count: prompts.count)
            for try await (i, ids) in group { results[i] = ids }
            return results
        }
        #expect(together == solo)
    }

    @Test func theNextTurnReusesTheCachedPrefixAndAnswersAsWithoutIt() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let firstPrompt = engine.tokenizer.encode(
            "The river runs through the old town, past the market and the mill, down to the harbour where")
        let first = try await Self.collect(
            engine.generate(.init(prompt: .tokens(firstPrompt), sampling: .greedy, maxTokens: 8)))
        #expect(first.summary?.reusedPromptTokens == 0)
        // The next turn repeats the first prompt and its answer, then adds more.
        let secondPrompt = firstPrompt + first.ids + engine.tokenizer.encode(" and then the boats")
        let second = try await Self.collect(
            engine.generate(.init(prompt: .tokens(secondPrompt), sampling: .greedy, maxTokens: 12)))
        // Every position the first request computed is reused (its last sampled token was never fed).
        #expect(second.summary?.reusedPromptTokens == firstPrompt.count + first.ids.count - 1)

        let cold = try Self.engine(.init(contextLength: 512, prefixCacheBytes: 0))
        defer { cold.shutdown() }
        let reference = try await Self.collect(
            cold.generate(.init(prompt: .tokens(secondPrompt), sampling: .greedy, maxTokens: 12)))
        #expect(reference.summary?.reusedPromptTokens == 0)
        #expect(second.ids == reference.ids)
    }

    @Test func seededSamplingIsReproducible() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let request = GenerationRequest(
            prompt: .chat([ChatTurn(role: "user", content: "Tell me a story.")]),
            sampling: SamplingParameters(temperature: 1.0, seed: 42), maxTokens: 24)
        let a = try await Self.collect(engine.generate(request))
        let b = try await Self.collect(engine.generate(request))
        #expect(a.ids == b.ids && a.text == b.text)
    }

    @Test func stopStringEndsTheGenerationBeforeIt() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let run = try await Self.collect(
            engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 40, stop: [" 14"])))
        #expect(run.summary?.finishReason == .stop)
        #expect(run.text.hasPrefix(" 11, 12, 13,"), "\(run.text)")
        #expect(!run.text.contains("14"))
        #expect(run.summary?.completionTokenCount == run.ids.count)
    }

    @Test func cancellingTheConsumerFreesTheSlot() async throws {
        let engine = try Self.engine(.init(maxSequences: 1, contextLength: 512))
        defer { engine.shutdown() }
        let (firstToken, firstTokenSeen) = AsyncStream.makeStream(of: Void.self)
        let long = Task {
            for try await event in engine.generate(.init(prompt: Self.counting, sampling: .greedy)) {
                if case .token = event { firstTokenSeen.yield() }
            }
        }
        var iterator = firstToken.makeAsyncIterator()
        _ = await iterator.next()
        long.cancel()
        // The only slot is free again: this one completes.
        let next = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 5)))
        #expect(next.ids.count == 5)
        #expect(next.summary?.finishReason == .length)
    }

    @Test func aRequestThatDoesNotFitNowWaitsForMemory() async throws {
        // ~23 KB per position: 3 MB hold ~136 positions, room for one ~90-position reservation at a time.
        let engine = try Self.engine(.init(kvCacheBytes: 3 << 20, contextLength: 512))
        defer { engine.shutdown() }
        async let first = Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 60)))
        async let second = Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 60)))
        let (a, b) = try await (first, second)
        #expect(a.ids == b.ids)
        let queued = [a, b].compactMap { $0.summary?.timings.queued }.max()!
        #expect(queued > .milliseconds(1))
    }

    @Test func shutdownEndsRunningStreamsAsCancelled() async throws {
        let engine = try Self.engine()
        let (started, startedSignal) = AsyncStream.makeStream(of: Void.self)
        let running = Task { () -> FinishReason? in
            var reason: FinishReason?
            for try await event in engine.generate(.init(prompt: Self.counting, sampling: .greedy)) {
                switch event {
                case .prompt: continue
                case .token: startedSignal.yield()
                case .finished(let summary): reason = summary.finishReason
                }
            }
            return reason
        }
        var iterator = started.makeAsyncIterator()
        _ = await iterator.next()
        engine.shutdown()
        #expect(try await running.value == .cancelled)
        #expect(await Self.error(of: engine.generate(.init(prompt: Self.counting)))?.code == .engineStopped)
    }

    /// Logprobs are the model's own distribution: greedy decoding picks the likeliest token; they
    /// change nothing about the answer; a logit bias that bans the likeliest token changes the
    /// choice but not the reported distribution; out-of-range counts are refused.
    @Test func logprobsReportTheModelsDistribution() async throws {
        let engine = try Self.engine()
        defer { engine.shutdown() }
        let plain = try await Self.collect(engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 6)))
        let scored = try await Self.collect(
            engine.generate(.init(prompt: Self.counting, sampling: .greedy, maxTokens: 6, logprobs: 5)))
        #expect(scored.ids == plain.ids)
        #expect(plain.logprobs.allSatisfy { $0 == nil })
        #expect(scored.logprobs.count == scored.ids.count)
        for (id, logprobs) in zip(scored.ids, scored.logprobs) {
            let logprobs = try #require(logprobs)
            #expect(logprobs.top.count == 5)
            #expect(logprobs.top.first?.id == id)
            #expect(logprobs.top.first?.logprob == logprobs.logprob)
            #expect(logprobs.logprob <= 0)
            #expect(zip(logprobs.top, logprobs.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob })
            #expect(logprobs.top.map { exp(Double($0.logprob)) }.reduce(0, +) <= 1.000_1)
        }

        // Ban the first token the model wants: another is chosen, the reported distribution stays.
        let first = try #require(scored.ids.first)
        var banning = SamplingParameters.greedy
        banning.logitBias = [first: -100]
        let banned = try await Self.collect(
            engine.generate(.init(prompt: Self.counting, sampling: banning, maxTokens: 1, logprobs: 2)))
        let report = try #require(banned.logprobs.first ?? nil)
        #expect(banned.ids.first != first)
        #expect(report.top.map(\.id) == scored.logprobs[0]?.top.prefix(2).map(\.id))
        #expect(report.top.dropFirst().first?.id == banned.ids.first)
        #expect(report.logprob == report.top.dropFirst().first?.logprob)

        #expect(
            await Self.error(of: engine.generate(.init(prompt: Self.counting, logprobs: 21)))?.code == .invalidRequest)
        #expect(
            await Self.error(of: engine.generate(.init(prompt: Self.counting, logprobs: -1)))?.code == .invalidRequest)
    }

    /// JSON mode: greedy and sampled answers are JSON objects that Foundation parses, the answer
    /// ends with its object, and a resumed answer (its start in the prompt) continues the object.
    @Test func jsonModeAnswersAreJSONObjects() async throws {
        let engine = try Self.engine(.init(contextLength: 1024))
        defer { engine.shutdown() }
        let question = GenerationRequest.Prompt.chat([
            ChatTurn(role: "user", content: "Describe a cat as JSON with the keys name, colour and age."),
        ])
        var sampled = SamplingParameters(temperature: 0.9, seed: 3)
        sampled.topK = 40
        for sampling in [SamplingParameters.greedy, sampled] {
            let outcome = try await Self.collect(
                engine.generate(.init(prompt: question, sampling: sampling, maxTokens: 300, format: .jsonObject)))
            #expect(outcome.summary?.finishReason == .stop, "\(outcome.text)")
            let object = try JSONSerialization.jsonObject(with: Data(outcome.text.utf8))
            #expect(object is [String: Any], "\(outcome.text)")
        }
        // The model is all but forbidden every token that opens an object the usual way: the
        // first token comes from far down its list (the whole vocabulary is searched).
        var banned = SamplingParameters.greedy
        for text in ["{", "{\n", " {", "{\"", "{\n\"", "```", "{\r\n"] {
            let ids = engine.tokenizer.encode(text, parseSpecial: false)
            if ids.count == 1 { banned.logitBias[ids[0]] = -100 }
        }
        #expect(!banned.logitBias.isEmpty)
        let forced = try await Self.collect(
            engine.generate(.init(prompt: question, sampling: banned, maxTokens: 300, format: .jsonObject)))
        #expect(try JSONSerialization.jsonObject(with: Data(forced.text.utf8)) is [String: Any], "\(forced.text)")

        // A resumed answer: the first tokens of an object are already in the prompt.
        let start = engine.tokenizer.encode(#"{"name": "Tom", "#, parseSpecial: false)
        let prompt = try engine.promptTokens(question) + start
        let resumed = try await Self.collect(
            engine.generate(
                .init(prompt: .tokens(prompt), sampling: .greedy, maxTokens: 300, answerPrefixLength: start.count,
                      format: .jsonObject)))
        let whole = #"{"name": "Tom", "# + resumed.text
        #expect(try JSONSerialization.jsonObject(with: Data(whole.utf8)) is [String: Any], "\(whole)")
    }

    /// Structured outputs: greedy and sampled answers follow the schema (every required key, the
    /// declared types, an enum), and nothing else.
    @Test func schemaAnswersFollowTheirSchema() async throws {
        let engine = try Self.engine(.init(contextLength: 1024))
        defer { engine.shutdown() }
        let schema = try OutputSchema.compile(
            JSONParser.parse(
                #"""
                {"type": "object", "additionalProperties": false, "required": ["name", "age", "colour", "toys"],
                 "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                                "colour": {"enum": ["black", "white", "ginger"]},
                                "toys": {"type": "array", "items": {"type": "string"}, "maxItems": 3}}}
                """#.utf8))
        let question = GenerationRequest.Prompt.chat([ChatTurn(role: "user", content: "Describe a cat.")])
        for sampling in [SamplingParameters.greedy, SamplingParameters(temperature: 1, seed: 4)] {
            let outcome = try await Self.collect(
                engine.generate(.init(prompt: question, sampling: sampling, maxTokens: 400, format: .json(schema))))
            #expect(outcome.summary?.finishReason == .stop, "\(outcome.text)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(outcome.text.utf8)) as? [String: Any], "\(outcome.text)")
            #expect(Set(object.keys) == ["name", "age", "colour", "toys"], "\(outcome.text)")
            #expect(object["name"] is String && object["age"] is Int, "\(outcome.text)")
            #expect(["black", "white", "ginger"].contains(object["colour"] as? String ?? ""), "\(outcome.text)")
            #expect(((object["toys"] as? [String])?.count ?? 9) <= 3, "\(outcome.text)")
        }
    }
}

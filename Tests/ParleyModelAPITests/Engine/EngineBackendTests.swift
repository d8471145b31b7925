import Foundation
import ParleyCluster
import ParleyEngine
import ParleyModelAPI
import ParleyProtocol
import Testing

/// The SmolLM2 file in the model cache (`tools/test` and `tools/fetch-model` put it there).
enum CachedModel {
    static let path: String? = {
        let path = ModelStore().cachedPath(of: .smollm2)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }()

    static let engine: Result<Engine, any Error>? = path.map { path in
        Result {
            try Engine(
                modelPath: path, configuration: .init(maxSequences: 4, kvCacheBytes: 64 << 20, contextLength: 1024))
        }
    }
}

@Suite(
    "Model API with the built-in engine", .serialized,
    .enabled(if: CachedModel.path != nil, "SmolLM2 is not in the model cache; run tools/fetch-model (tools/test does)"))
struct EngineBackendTests {
    static func request(maxTokens: Int, resume: ResumePoint? = nil) -> ModelRequest {
        ModelRequest(
            requestID: "engine-1", userID: "u", model: "smollm2",
            messages: [ChatMessage(role: "user", content: "What is the capital of France? Answer in one sentence.")],
            sampling: SamplingOptions(temperature: 0, maxTokens: maxTokens, seed: 1), resume: resume)
    }

    /// Streams `request` from a ModelAPI on one system, called from another.
    static func stream(_ request: ModelRequest) async throws -> [GenerationEvent] {
        let engine = try #require(CachedModel.engine).get()
        let server = try await ClusterSystem.start(settings: ClusterSettings(name: "model"))
        let client = try await ClusterSystem.start(settings: ClusterSettings(name: "client"))
        server.allowParleyProtocols()
        client.allowParleyProtocols()
        let api = ModelAPI(actorSystem: server, backend: EngineBackend(engine: engine, modelName: "smollm2"))
        var events: [GenerationEvent] = []
        do {
            let remote = try $ModelAPIProtocol.resolve(id: api.id, using: client)
            #expect(try await remote.models().map(\.id) == ["smollm2"])
            for try await event in try await remote.generate(request) { events.append(event) }
        } catch {
            await client.shutdown()
            await server.shutdown()
            throw error
        }
        await client.shutdown()
        await server.shutdown()
        return events
    }

    static func text(_ events: [GenerationEvent]) -> String {
        events.map { if case .token(_, let text, _) = $0 { text } else { "" } }.joined()
    }

    @Test func streamsARealAnswer() async throws {
        let events = try await Self.stream(Self.request(maxTokens: 24))
        let tokens = events.filter { if case .token = $0 { true } else { false } }
        #expect(!tokens.isEmpty)
        #expect(tokens.enumerated().allSatisfy { if case .token($0.offset, _, _) = $0.element { true } else { false } })
        #expect(Self.text(events).contains("Paris"))
        guard case .finished(_, let usage) = events.last else {
            Issue.record("no finish event")
            return
        }
        #expect(usage.completionTokens == tokens.count)
        #expect(usage.promptTokens > 10)
    }

    /// Asked for logprobs, every token of the answer carries its bytes (which spell the answer) and
    /// alternatives across the cluster hop; the end-of-turn token carries none.
    @Test func logprobsCrossTheHopWithTheirBytes() async throws {
        var request = Self.request(maxTokens: 64)
        request.sampling.logprobs = 3
        let events = try await Self.stream(request)
        var bytes: [UInt8] = []
        var empty = 0
        for event in events {
            guard case .token(_, _, let logprobs) = event else { continue }
            guard let item = logprobs.first else {
                empty += 1
                continue
            }
            #expect(logprobs.count == 1)
            #expect(item.top.count == 3)
            #expect(item.top[0].bytes == item.bytes)  // greedy: the likeliest
            bytes += item.bytes
        }
        #expect(String(decoding: bytes, as: UTF8.self) == Self.text(events))
        guard case .finished(let reason, _) = events.last else {
            Issue.record("no finish event")
            return
        }
        // Only the end-of-turn token (when the answer ended with one) has none.
        #expect(empty == (reason == .stop ? 1 : 0))
    }

    @Test func resumeContinuesTheSameAnswer() async throws {
        let whole = try await Self.stream(Self.request(maxTokens: 24))
        let wholeText = Self.text(whole)
        let prefix = Array(whole.prefix(6))
        let prefixText = Self.text(prefix)
        let resumed = try await Self.stream(
            Self.request(maxTokens: 24, resume: ResumePoint(tokenCount: 6, text: prefixText)))
        guard case .token(let firstIndex, _, _) = resumed.first else {
            Issue.record("the resumed stream has no token: \(resumed)")
            return
        }
        #expect(firstIndex == 6)
        let continuation = Self.text(resumed)
        print("engine resume: prefix \(prefixText.debugDescription) + continuation \(continuation.debugDescription)")
        // Greedy decoding over the same tokens continues with the same text.
        #expect(prefixText + continuation == wholeText)
        guard case .finished(_, let usage) = resumed.last else {
            Issue.record("no finish event")
            return
        }
        #expect(usage.completionTokens <= 24)
        #expect(usage.completionTokens == 6 + resumed.count - 1)
    }

    @Test func logitBiasForcesOrBansTokensAndAnIdOutsideTheVocabularyIsRefused() async throws {
        let engine = try #require(CachedModel.engine).get()
        let yes = try #require(engine.tokenizer.encode(" yes", parseSpecial: false).first)
        var forced = Self.request(maxTokens: 4)
        forced.sampling.logitBias = [Int(yes): 100]
        #expect(Self.text(try await Self.stream(forced)) == " yes yes yes yes")

        let plain = try await Self.stream(Self.request(maxTokens: 1))
        let firstWord = Self.text(plain)
        let first = try #require(engine.tokenizer.encode(firstWord, parseSpecial: false).first)
        var banned = Self.request(maxTokens: 1)
        banned.sampling.logitBias = [Int(first): -100]
        let other = Self.text(try await Self.stream(banned))
        #expect(!other.isEmpty && other != firstWord, "\(firstWord.debugDescription) was banned")

        var outside = Self.request(maxTokens: 1)
        outside.sampling.logitBias = [engine.tokenizer.vocabularySize: 5]
        do {
            _ = try await Self.stream(outside)
            Issue.record("a logit bias for a token id outside the vocabulary was accepted")
        } catch {
            #expect("\(error)".contains("not in the model's vocabulary"))
        }
    }

    /// A resumed answer's text counts for the frequency and presence penalties as if the resuming
    /// engine had generated it: greedy decoding continues exactly the answer a single run gives.
    @Test func aResumedAnswerKeepsItsPenalties() async throws {
        var request = Self.request(maxTokens: 40)
        request.messages = [ChatMessage(role: "user", content: "List the days of the week, one per line.")]
        request.sampling.frequencyPenalty = 1.5
        request.sampling.presencePenalty = 0.5
        let whole = try await Self.stream(request)
        let wholeText = Self.text(whole)
        var unpenalized = request
        unpenalized.sampling.frequencyPenalty = nil
        unpenalized.sampling.presencePenalty = nil
        #expect(Self.text(try await Self.stream(unpenalized)) != wholeText, "the penalties changed nothing")

        let prefixText = Self.text(Array(whole.prefix(20)))
        var resumed = request
        resumed.resume = ResumePoint(tokenCount: 20, text: prefixText)
        let continuation = Self.text(try await Self.stream(resumed))
        #expect(prefixText + continuation == wholeText)
    }

    @Test func aStoredChatLongerThanTheContextGoesOnWithoutItsOldestTurns() async throws {
        // Four stored turns of about 300 tokens each, then the question: more than the 1,024 tokens
        // of the test engine's context.
        let filler = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 30)
        var chat = [ChatMessage(role: "system", content: "You are a helpful assistant.")]
        for turn in 0..<4 {
            chat.append(ChatMessage(role: "user", content: "Turn \(turn): \(filler)"))
            chat.append(ChatMessage(role: "assistant", content: filler))
        }
        chat.append(ChatMessage(role: "user", content: "What is the capital of France? Answer in one sentence."))
        var request = Self.request(maxTokens: 16)
        request.messages = chat
        request.historyCount = chat.count - 1
        let events = try await Self.stream(request)
        #expect(Self.text(events).contains("Paris"))
        guard case .finished(_, let usage) = events.last else {
            Issue.record("no finish event: \(events)")
            return
        }
        // A block of the oldest turns went (about half the room): the prompt leaves the answer its
        // room, and the newest turns are still there.
        #expect(usage.promptTokens + 16 <= 1_024)
        #expect(usage.promptTokens > 330)

        // The same messages sent by a client (none of them stored history) are refused as too long.
        request.historyCount = 0
        do {
            _ = try await Self.stream(request)
            Issue.record("a prompt longer than the context was accepted")
        } catch {
            #expect("\(error)".contains("the context holds 1024"))
        }
    }
}

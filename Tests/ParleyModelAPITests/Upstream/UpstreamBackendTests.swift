import Foundation
import ParleyCluster
import ParleyModelAPI
import ParleyProtocol
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs ``fakeUpstreamScript`` on a free loopback port for the duration of `body`.
func withFakeUpstream(_ body: (String) async throws -> Void) async throws {
    let script = FileManager.default.temporaryDirectory.appendingPathComponent(
        "parley-fake-upstream-\(UUID().uuidString).py")
    try fakeUpstreamScript.write(to: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: script) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", script.path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    defer {
        // SIGKILL: a child of the test process may inherit a signal mask that blocks SIGTERM.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
    var line = Data()
    while let byte = try output.fileHandleForReading.read(upToCount: 1), let first = byte.first, first != 10 {
        line.append(first)
    }
    let text = String(decoding: line, as: UTF8.self)
    let port = try #require(text.hasPrefix("PORT ") ? Int(text.dropFirst(5)) : nil, "fake upstream said \(text)")
    try await body("http://127.0.0.1:\(port)")
}

@Suite("Upstream backend against an OpenAI-compatible server", .serialized, .timeLimit(.minutes(1)))
struct UpstreamBackendTests {
    static func request(model: String = "fake-model", maxTokens: Int? = nil, resume: ResumePoint? = nil) -> ModelRequest
    {
        ModelRequest(
            requestID: "up-1", userID: "u", model: model, messages: [ChatMessage(role: "user", content: "Hi")],
            sampling: SamplingOptions(maxTokens: maxTokens), resume: resume)
    }

    static func collect(_ backend: UpstreamBackend, _ request: ModelRequest) async throws -> [GenerationEvent] {
        var events: [GenerationEvent] = []
        for try await event in try backend.generate(request) { events.append(event) }
        return events
    }

    @Test func discoversModelsAndStreamsChunksAsTokens() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            #expect(backend.models.map(\.id) == ["fake-model"])
            let events = try await Self.collect(backend, Self.request())
            let words = ["Hello", " from", " the", " fake", " upstream", " server"]
            #expect(
                events == words.enumerated().map { .token(index: $0, text: $1) }
                    + [.finished(.stop, TokenUsage(promptTokens: 11, completionTokens: 6))])
            let limited = try await Self.collect(backend, Self.request(maxTokens: 3))
            #expect(limited.last == .finished(.length, TokenUsage(promptTokens: 11, completionTokens: 3)))
            await backend.shutdown()
        }
    }

    @Test func penaltiesAndLogitBiasGoUpstreamInOpenAIsForm() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            var request = Self.request()
            request.sampling = SamplingOptions(frequencyPenalty: 0.5, presencePenalty: -1, logitBias: [50: -100, 7: 2.5])
            let events = try await Self.collect(backend, request)
            #expect(
                events.first
                    == .token(
                        index: 0,
                        text: #"{"frequency_penalty": 0.5, "logit_bias": {"50": -100, "7": 2.5}, "presence_penalty": -1}"#))
            request.sampling = SamplingOptions(topK: 5, minP: 0.5, repetitionPenalty: 1.5)
            let extensions = try await Self.collect(backend, request)
            #expect(extensions.first == .token(index: 0, text: #"{"min_p": 0.5, "repetition_penalty": 1.5, "top_k": 5}"#))
            request.sampling = SamplingOptions(responseFormat: .jsonObject)
            let json = try await Self.collect(backend, request)
            #expect(json.first == .token(index: 0, text: #"{"response_format": {"type": "json_object"}}"#))
            request.sampling = SamplingOptions(responseFormat: .jsonSchema(name: "Cat", schema: #"{"type":"object"}"#))
            let schema = try await Self.collect(backend, request)
            #expect(
                schema.first
                    == .token(
                        index: 0,
                        text: #"{"response_format": {"json_schema": {"name": "Cat", "schema": {"type": "object"}, "strict": true}, "type": "json_schema"}}"#))
            // Without them the upstream gets none of these fields (its own defaults apply).
            let plain = try await Self.collect(backend, Self.request())
            #expect(plain.first == .token(index: 0, text: "Hello"))
            await backend.shutdown()
        }
    }

    /// Logprobs are asked of the upstream only when the client asked, and its items arrive with
    /// their tokens (a server that leaves the bytes out gets the token's UTF-8).
    @Test func logprobsAreAskedForAndPassedOn() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            var request = Self.request(maxTokens: 2)
            request.sampling.logprobs = 2
            let events = try await Self.collect(backend, request)
            let alternatives = [
                TokenLogprob(bytes: Array("alt0".utf8), logprob: -3), TokenLogprob(bytes: Array("alt1".utf8), logprob: -4),
            ]
            #expect(
                events.dropLast() == [
                    .token(
                        index: 0, text: "Hello",
                        logprobs: [TokenLogprob(bytes: Array("Hello".utf8), logprob: -0.5, top: alternatives)]),
                    .token(
                        index: 1, text: " from",
                        logprobs: [TokenLogprob(bytes: Array(" from".utf8), logprob: -0.6, top: alternatives)]),
                ])
            let plain = try await Self.collect(backend, Self.request(maxTokens: 1))
            #expect(plain.first == .token(index: 0, text: "Hello"))
            await backend.shutdown()
        }
    }

    @Test func resumeSendsThePartialAnswerAndNumbersFromTheResumePoint() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            let events = try await Self.collect(
                backend, Self.request(resume: ResumePoint(tokenCount: 2, text: "Hello from")))
            #expect(
                events == [
                    .token(index: 2, text: " continued"),
                    .finished(.stop, TokenUsage(promptTokens: 11, completionTokens: 3)),
                ])
            await backend.shutdown()
        }
    }

    @Test func httpErrorsMapToServingErrors() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url, models: ["other-model"]))
            let error = await #expect(throws: ServingError.self) {
                _ = try await Self.collect(backend, Self.request(model: "other-model"))
            }
            #expect(error?.code == ServingError.modelNotFound)
            #expect(error?.message.contains("does not exist") == true)
            await backend.shutdown()
        }
        let unreachable = try await UpstreamBackend.connect(
            .init(baseURL: "http://127.0.0.1:1", models: ["m"], connectTimeout: .milliseconds(100)))
        let error = await #expect(throws: ServingError.self) {
            _ = try await Self.collect(unreachable, Self.request(model: "m"))
        }
        #expect(error?.code == ServingError.noBackend)
        await unreachable.shutdown()
    }
}

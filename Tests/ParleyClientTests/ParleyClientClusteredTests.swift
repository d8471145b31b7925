import Foundation
import NIOHTTP1
import Testing

@testable import ParleyClient

/// The client against a real HTTP server (``TestGateway``) on loopback.
@Suite struct ParleyClientClusteredTests {
    static let fastResume = ParleyClient.Configuration.Resume(
        maxAttempts: 4, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(5))

    private func withClient<T: Sendable>(
        _ gateways: [TestGateway], apiKey: String = "good-key", _ body: (ParleyClient) async throws -> T
    ) async throws -> T {
        let client = ParleyClient(
            configuration: .init(gatewayURLs: gateways.map(\.url), apiKey: apiKey, resume: Self.fastResume))
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Reads a whole stream: the text, the events and the summary.
    private func drain(_ stream: ChatCompletionStream) async throws -> (text: String, events: [ChatStreamEvent], summary: ChatStreamSummary?) {
        var text = ""
        var events: [ChatStreamEvent] = []
        var summary: ChatStreamSummary?
        for try await event in stream {
            events.append(event)
            if case .content(let piece, _) = event { text += piece }
            if case .end(let value) = event { summary = value }
        }
        return (text, events, summary)
    }

    private let request = ChatCompletionRequest(model: "synthetic", messages: [.user("hi")])

    @Test func streamsEveryTokenInOrder() async throws {
        let script = TestGateway.Script()
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                #expect(stream.requestID == script.requestID)
                #expect(stream.conversationID == "conv-1")
                let (text, events, summary) = try await drain(stream)
                #expect(text == script.tokens.joined())
                let ids = events.compactMap { if case .content(_, let id) = $0 { id } else { nil } }
                #expect(ids == (1...Int64(script.tokens.count)).map { $0 })
                #expect(events.contains(.finished(reason: "stop")))
                #expect(summary == ChatStreamSummary(
                    eventsWithID: script.tokens.count + 1, lastEventID: Int64(script.tokens.count), resumes: 0,
                    duplicatesDropped: 0, missingEvents: 0, finishReason: "stop"))
            }
        }
    }

    /// The gateway's `: prompt N/M` comments before the first token come out as progress; other
    /// comments, malformed ones and one after the first token do not.
    @Test func promptProgressCommentsBecomeProgressEvents() async throws {
        let script = TestGateway.Script.with {
            $0.commentsBeforeFirstToken = ["prompt 256/700", "keep-alive", "prompt 9/x", "prompt 800/700", "prompt 512/700"]
        }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let (text, events, _) = try await drain(try await client.streamChatCompletion(request))
                #expect(text == script.tokens.joined())
                let progress = events.filter { if case .promptProgress = $0 { true } else { false } }
                #expect(progress == [.promptProgress(computed: 256, of: 700), .promptProgress(computed: 512, of: 700)])
                #expect(events.prefix(2) == progress[...])
            }
        }
    }

    @Test func streamsReadToTheirEndReuseOneConnection() async throws {
        // The response ends a moment after [DONE]: a client that stopped reading at [DONE] would
        // cancel the rest and close the connection, so each chat would open a new one.
        let script = TestGateway.Script.with { $0.pauseBeforeEnd = .milliseconds(30) }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                for _ in 0..<3 {
                    let (text, _, summary) = try await drain(try await client.streamChatCompletion(request))
                    #expect(text == script.tokens.joined())
                    #expect(summary != nil)
                }
            }
            #expect(gateways[0].connectionsAccepted == 1)
        }
    }

    @Test func cutStreamResumesWithLastEventIDAndGetsTheRestOnce() async throws {
        let script = TestGateway.Script.with { $0.cutAfter = 3; $0.resumeRepeatsLast = true }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let (text, events, summary) = try await drain(try await client.streamChatCompletion(request))
                #expect(text == script.tokens.joined())
                // The cut comes after token 3; bytes in flight at the cut may be lost on the client's
                // side, so the resume point is 3 or a little earlier — what matters is that it is the
                // last id received and that nothing repeats.
                let resumes = events.compactMap { if case .resumed(let resume) = $0 { resume } else { nil } }
                let resume = try #require(resumes.first)
                #expect(resumes.count == 1 && resume.gatewayURL == gateways[0].url && resume.attempt == 1)
                let lastBeforeCut = events.prefix { if case .resumed = $0 { false } else { true } }
                    .compactMap { if case .content(_, let id) = $0 { id } else { nil } }.last
                #expect(resume.lastEventID == lastBeforeCut ?? 0)
                #expect((0...3).contains(resume.lastEventID ?? 0))
                #expect(summary?.resumes == 1)
                // The gateway repeats the last event it has logged before the resume point; when
                // every token before the cut was lost in flight there is nothing to repeat.
                #expect(summary?.duplicatesDropped == ((resume.lastEventID ?? 0) > 0 ? 1 : 0))
                #expect(summary?.missingEvents == 0)
                let get = try #require(gateways[0].received.first { $0.method == .GET })
                #expect(get.path == "/v1/chat/completions/\(script.requestID)/stream")
                #expect(get.headers.first(name: "Last-Event-ID") == resume.lastEventID.map { String($0) })
            }
        }
    }

    @Test func resumeMovesToAnotherGatewayWhenTheFirstCannotServeIt() async throws {
        let script = TestGateway.Script.with { $0.cutAfter = 5; $0.refuseResumeOn = [0] }
        try await TestGateway.with(script, count: 2) { gateways in
            try await withClient(gateways) { client in
                let (text, events, summary) = try await drain(try await client.streamChatCompletion(request))
                #expect(text == script.tokens.joined())
                let resume = try #require(events.compactMap { if case .resumed(let resume) = $0 { resume } else { nil } }.first)
                #expect(resume.gatewayURL == gateways[1].url && resume.attempt == 2)
                // As above: every event before the cut may have been lost in flight (then none).
                #expect((0...5).contains(resume.lastEventID ?? 0))
                #expect(summary?.resumes == 1 && summary?.duplicatesDropped == 0 && summary?.missingEvents == 0)
                #expect(
                    gateways[1].received.map(\.headers).compactMap { $0.first(name: "Last-Event-ID") }
                        == [resume.lastEventID.map { String($0) } ?? ""])
            }
        }
    }

    @Test func resumeGivesUpAfterItsAttempts() async throws {
        let script = TestGateway.Script.with { $0.cutAfter = 2; $0.refuseResumeOn = [0] }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                let error = await #expect(throws: ParleyClientError.self) { _ = try await drain(stream) }
                #expect(error?.code == .streamBroken)
                #expect(gateways[0].received.filter { $0.method == .GET }.count == Self.fastResume.maxAttempts)
            }
        }
    }

    @Test func errorEventInsideAStreamThrows() async throws {
        let script = TestGateway.Script.with { $0.errorAfter = 2 }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                var text = ""
                let error = await #expect(throws: ParleyClientError.self) {
                    for try await event in stream { if case .content(let piece, _) = event { text += piece } }
                }
                #expect(error?.code == .streamError)
                #expect(error?.apiCode == "interrupted")
                #expect(text == script.tokens.prefix(2).joined())
            }
        }
    }

    @Test func unauthorizedAndRateLimitedAreTypedErrors() async throws {
        try await TestGateway.with(TestGateway.Script()) { gateways in
            try await withClient(gateways, apiKey: "wrong") { client in
                let error = await #expect(throws: ParleyClientError.self) { _ = try await client.streamChatCompletion(request) }
                #expect(error?.code == .unauthorized)
                #expect(error?.status == 401)
                #expect(error?.apiCode == "invalid_api_key")
                #expect(error?.message == "bad key")
            }
            try await withClient(gateways) { client in
                let limited = ChatCompletionRequest(model: "limited", messages: [.user("hi")])
                let error = await #expect(throws: ParleyClientError.self) { _ = try await client.chatCompletion(limited) }
                #expect(error?.code == .rateLimited)
                #expect(error?.status == 429)
                #expect(error?.retryAfter == .seconds(7))
                #expect(error?.type == "rate_limit_error")
            }
        }
    }

    @Test func cancelReachesTheServer() async throws {
        let script = TestGateway.Script.with { $0.holdAfter = 2 }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                var iterator = stream.makeAsyncIterator()
                var text = ""
                while text != script.tokens.prefix(2).joined() {
                    if case .content(let piece, _) = try await iterator.next() { text += piece }
                }
                #expect(try await stream.cancel())
                #expect(try await client.cancel(requestID: "chatcmpl-unknown") == false)
                let cancels = gateways[0].received.filter { $0.path.hasSuffix("/cancel") }.map(\.path)
                #expect(cancels == ["/v1/chat/completions/\(script.requestID)/cancel", "/v1/chat/completions/chatcmpl-unknown/cancel"])
            }
        }
    }

    @Test func cancellingTheReadingTaskStopsWithoutResuming() async throws {
        let script = TestGateway.Script.with { $0.holdAfter = 1 }
        try await TestGateway.with(script) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                let (firstToken, signal) = AsyncStream<Void>.makeStream()
                let reader = Task {
                    for try await event in stream { if case .content = event { signal.yield() } }
                }
                var tokens = firstToken.makeAsyncIterator()
                _ = await tokens.next()
                reader.cancel()
                let result = await reader.result
                #expect(throws: (any Error).self) { try result.get() }
                #expect(gateways[0].received.filter { $0.method == .GET }.isEmpty)
            }
        }
    }

    @Test func nonStreamingModelsAndConversations() async throws {
        try await TestGateway.with(TestGateway.Script()) { gateways in
            try await withClient(gateways) { client in
                let answer = try await client.chatCompletion(request)
                #expect(answer.content == TestGateway.Script().tokens.joined())
                #expect(answer.finishReason == "stop")
                #expect(answer.conversationID == "conv-1")
                #expect(answer.usage?.completionTokens == TestGateway.Script().tokens.count)

                #expect(try await client.models().map(\.id) == ["synthetic"])

                let first = try await client.conversations(limit: 1)
                #expect(first.data.map(\.id) == ["c2"])
                #expect(first.data[0].pinned)
                #expect(first.data[0].createdAt == Date(timeIntervalSince1970: 1_700_000_100.5))
                let cursor: String = try #require(first.nextCursor)
                let second = try await client.conversations(limit: 1, cursor: cursor)
                #expect(second.data.map(\.id) == ["c1"])
                #expect(second.nextCursor == nil)

                let details = try await client.conversation(id: "c2")
                #expect(details.messages.count == 3)
                #expect(details.visibleBranch.map(\.content) == ["hi", "new answer"])

                let hits = try await client.searchConversations("answer", limit: 5, filters: SearchFilters(role: "assistant"))
                #expect(hits.data.first?.snippet == "new <mark>answer</mark>")
                let search = try #require(gateways[0].received.first { $0.path == "/v1/conversations/search" })
                let body = try JSONSerialization.jsonObject(with: Data(search.body.utf8)) as? [String: Any]
                #expect(body?["query"] as? String == "answer")
                #expect((body?["filters"] as? [String: Any])?["role"] as? String == "assistant")

                let counts = try await client.importChatGPT(export: Array("[]".utf8))
                #expect(counts.conversationsImported == 2 && counts.messagesSkipped == 3)

                let missing = await #expect(throws: ParleyClientError.self) { _ = try await client.conversation(id: "nope") }
                #expect(missing?.code == .notFound)
            }
        }
    }

    @Test func aChatWhoseGatewayDiesBeforeAnsweringGoesToTheNextWithTheSameIdempotencyKey() async throws {
        try await TestGateway.with(TestGateway.Script.with { $0.dropChatOn = [0] }, count: 2) { gateways in
            try await withClient(gateways) { client in
                let stream = try await client.streamChatCompletion(request)
                #expect(stream.gatewayURL == gateways[1].url)
                let (text, _, _) = try await drain(stream)
                #expect(text == TestGateway.Script().tokens.joined())
                let first = try #require(gateways[0].received.first { $0.path == "/v1/chat/completions" })
                let second = try #require(gateways[1].received.first { $0.path == "/v1/chat/completions" })
                let key = first.headers.first(name: "Idempotency-Key")
                #expect(key != nil && key == second.headers.first(name: "Idempotency-Key"))
                // The next chat is another request: another key.
                _ = try await drain(try await client.streamChatCompletion(request))
                let keys = (gateways[0].received + gateways[1].received).filter { $0.path == "/v1/chat/completions" }
                    .compactMap { $0.headers.first(name: "Idempotency-Key") }
                #expect(Set(keys).count == 2)
            }
        }
    }

    @Test func aRefusedGatewayIsLeftAtOnceForTheNextNotAfterTheConnectTimeout() async throws {
        try await TestGateway.with(TestGateway.Script()) { gateways in
            // The default 2 s connect timeout: a refused connection must not be retried until then
            // when another gateway can take the request (as when a gateway process was killed).
            let client = ParleyClient(configuration: .init(gatewayURLs: ["http://127.0.0.1:1", gateways[0].url], apiKey: "good-key"))
            let start = ContinuousClock.now
            let stream = try await client.streamChatCompletion(request)
            #expect(stream.gatewayURL == gateways[0].url)
            _ = try await drain(stream)
            #expect(start.duration(to: .now) < .seconds(1))
            try await client.shutdown()
        }
    }

    @Test func unreachableGatewayFailsOverForReadsAndReportsConnectionFailure() async throws {
        try await TestGateway.with(TestGateway.Script()) { gateways in
            // Port 1 on loopback: nothing listens, the connection is refused.
            let client = ParleyClient(
                configuration: .init(
                    gatewayURLs: ["http://127.0.0.1:1", gateways[0].url], apiKey: "good-key",
                    connectTimeout: .milliseconds(200)))
            #expect(try await client.models().map(\.id) == ["synthetic"])
            let stream = try await client.streamChatCompletion(request)
            #expect(stream.gatewayURL == gateways[0].url)
            _ = try await drain(stream)
            try await client.shutdown()
            let dead = ParleyClient(
                configuration: .init(gatewayURLs: ["http://127.0.0.1:1"], apiKey: "good-key", connectTimeout: .milliseconds(200)))
            let error = await #expect(throws: ParleyClientError.self) { _ = try await dead.models() }
            #expect(error?.code == .connectionFailed)
            try await dead.shutdown()
        }
    }
}

@Suite struct ParleyClientRequestTests {
    @Test func requestFieldsReachTheServerAndUsageComesBack() async throws {
        try await TestGateway.with(TestGateway.Script()) { gateways in
            let client = ParleyClient(configuration: .init(url: gateways[0].url, apiKey: "good-key"))
            let request = ChatCompletionRequest(
                model: "synthetic", messages: [.system("be brief"), .user("hi")], temperature: 0.5, topP: 0.9,
                maxTokens: 12, seed: 7, stop: ["\n"], conversationID: "c9", store: true, includeUsage: true)
            var usage: TokenCounts?
            for try await event in try await client.streamChatCompletion(request) {
                if case .usage(let value) = event { usage = value }
            }
            try await client.shutdown()
            #expect(usage == TokenCounts(promptTokens: 3, completionTokens: 8, totalTokens: 11))
            let sent = try #require(gateways[0].received.first { $0.path == "/v1/chat/completions" })
            #expect(sent.headers.first(name: "Accept") == "text/event-stream")
            let body = try #require(try JSONSerialization.jsonObject(with: Data(sent.body.utf8)) as? [String: Any])
            #expect(body["model"] as? String == "synthetic")
            #expect(body["stream"] as? Bool == true)
            #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
            #expect(body["max_completion_tokens"] as? Int == 12)
            #expect(body["seed"] as? Int == 7)
            #expect(body["conversation_id"] as? String == "c9")
            #expect(body["store"] as? Bool == true)
            #expect(body["stop"] as? [String] == ["\n"])
            #expect((body["messages"] as? [[String: String]])?.map { $0["role"] ?? "" } == ["system", "user"])
        }
    }
}

import Foundation
import ParleyClient
import Testing

/// Flow 1 under node deaths, with real processes: a stream survives the SIGKILL of the model, worker,
/// proxy or completion node serving it (every token once, no client-visible break), a client resumes
/// through the other gateway when its own dies, and the rate limit holds across gateways.
@Suite("Serving chaos (processes)", .serialized)
struct ServingChaosTests {
    static let answerTokens = 60

    @Test(.timeLimit(.minutes(5))) func streamsSurviveTheDeathOfAnyNodeAndTheRateLimitHoldsAcrossGateways() async throws {
        let cluster = try await ServingCluster(tokensPerSecond: 25)
        defer { cluster.stop() }
        let alice = cluster.client("alice", gateways: ["gw1"])
        defer { Task { try? await alice.shutdown() } }

        for role in ["model", "worker", "proxy", "completion"] {
            let prompt = "chaos: kill the \(role) node"
            // With logprobs: they too must arrive exactly once through the failover.
            let undisturbed = try await alice.chatCompletion(request(prompt, store: false, logprobs: 2))
            let expected = undisturbed.content
            var logprobs: [ChatTokenLogprob] = []
            var killed: String?
            var killedAt: ContinuousClock.Instant?
            var gapAfterKill: Duration?
            var text = ""
            var tokens = 0
            var summary: ChatStreamSummary?
            for try await event in try await alice.streamChatCompletion(request(prompt, logprobs: 2)) {
                switch event {
                case .logprobs(let items): logprobs += items
                case .content(let piece, _):
                    if let at = killedAt, gapAfterKill == nil { gapAfterKill = at.duration(to: .now) }
                    text += piece
                    tokens += 1
                    if tokens == 10 {
                        let busy = try await cluster.busyNode(role: role, via: "gw1")
                        let victim = try #require(busy, "no \(role) node shows the stream in flight")
                        cluster.nodes.kill(victim)
                        killed = victim
                        killedAt = .now
                    }
                case .end(let value): summary = value
                default: break
                }
            }
            print("killed \(killed ?? "-") (\(role)) after 10 tokens; next token \(gapAfterKill.map { "\($0)" } ?? "-") later")
            #expect(killed != nil)
            #expect(tokens == Self.answerTokens, "\(role): \(tokens) tokens")
            #expect(text == expected, "\(role): the answer differs from the undisturbed one")
            #expect(logprobs.count == Self.answerTokens && logprobs == undisturbed.logprobs, "\(role): logprobs differ")
            #expect(summary?.resumes == 0, "\(role): the client had to resume")
            #expect(summary?.duplicatesDropped == 0 && summary?.missingEvents == 0)
            #expect(summary?.finishReason == "length")
        }

        // A conversation node dies: new chats, each sent with its Idempotency-Key, start and are
        // stored through the other one (while membership still lists the dead node too).
        cluster.nodes.kill("conv1")
        for number in 0..<5 {
            var text = ""
            let stream = try await alice.streamChatCompletion(request("after conv1 died \(number)", maxTokens: 4))
            for try await event in stream {
                if case .content(let piece, _) = event { text += piece }
            }
            let stored = try await alice.conversation(id: try #require(stream.conversationID))
            #expect(stored.messages.map(\.content) == ["after conv1 died \(number)", text])
        }

        // The 61st request of a minute is refused, whichever gateway it reaches.
        let bob = cluster.client("bob", gateways: ["gw1"])
        let bobOther = cluster.client("bob", gateways: ["gw2"])
        defer { Task { try? await bob.shutdown(); try? await bobOther.shutdown() } }
        for number in 0..<60 {
            let client = number.isMultiple(of: 2) ? bob : bobOther
            _ = try await client.chatCompletion(request("count \(number)", maxTokens: 1, store: false))
        }
        for client in [bob, bobOther] {
            do {
                _ = try await client.chatCompletion(request("one too many", maxTokens: 1, store: false))
                Issue.record("the 61st request was served")
            } catch let error as ParleyClientError {
                #expect(error.code == .rateLimited, "\(error)")
            }
        }

        // The client's own gateway dies mid-stream: it resumes through the other one.
        let both = cluster.client("alice", gateways: ["gw1", "gw2"])
        defer { Task { try? await both.shutdown() } }
        let prompt = "chaos: kill the gateway"
        let expected = try await both.chatCompletion(request(prompt, store: false)).content
        var text = ""
        var tokens = 0
        var summary: ChatStreamSummary?
        for try await event in try await both.streamChatCompletion(request(prompt)) {
            switch event {
            case .content(let piece, _):
                text += piece
                tokens += 1
                if tokens == 10 { cluster.nodes.kill("gw1") }
            case .end(let value): summary = value
            default: break
            }
        }
        #expect(tokens == Self.answerTokens)
        #expect(text == expected)
        #expect((summary?.resumes ?? 0) >= 1)
        #expect(summary?.missingEvents == 0)
    }

    /// A tool call streams through the death of the model node writing it and then of the client's
    /// own gateway (the rest comes from the generation log through the other one): the same call as
    /// an undisturbed answer's, every event once.
    @Test(.timeLimit(.minutes(3))) func aToolCallSurvivesItsModelNodeAndItsGateway() async throws {
        let cluster = try await ServingCluster(tokensPerSecond: 25)
        defer { cluster.stop() }
        let alice = cluster.client("alice", gateways: ["gw1", "gw2"])
        defer { Task { try? await alice.shutdown() } }
        var request = ChatCompletionRequest(model: "synthetic", messages: [.user("chaos: a tool call")])
        request.tools = [
            ChatTool(
                name: "save_note",
                parametersJSON: #"{"type":"object","properties":{"text":{"type":"string"},"tags":{"type":"array","items":{"type":"string"},"minItems":3}},"required":["text","tags"]}"#)
        ]
        request.toolChoice = .function("save_note")
        var undisturbed = request
        undisturbed.store = false
        let expected = try #require(try await alice.chatCompletion(undisturbed).toolCalls.first)

        var deltas: [ChatToolCallDelta] = []
        var killed: [String] = []
        var summary: ChatStreamSummary?
        var finish: String?
        for try await event in try await alice.streamChatCompletion(request) {
            switch event {
            case .toolCall(let delta):
                deltas.append(delta)
                if deltas.count == 1 {
                    let busy = try await cluster.busyNode(role: "model", via: "gw1")
                    let victim = try #require(busy, "no model node shows the stream in flight")
                    cluster.nodes.kill(victim)
                    killed.append(victim)
                } else if deltas.count == 4 {
                    cluster.nodes.kill("gw1")
                    killed.append("gw1")
                }
            case .finished(let reason): finish = reason
            case .end(let value): summary = value
            default: break
            }
        }
        print("tool call: killed \(killed) during the call")
        #expect(killed.count == 2)
        #expect(deltas.first?.name == "save_note" && deltas.first?.id?.hasPrefix("call_") == true)
        #expect(deltas.allSatisfy { $0.index == 0 } && deltas.dropFirst().allSatisfy { $0.id == nil && $0.name == nil })
        #expect(deltas.map(\.arguments).joined() == expected.arguments)
        #expect(finish == "tool_calls")
        #expect((summary?.resumes ?? 0) >= 1)
        #expect(summary?.duplicatesDropped == 0 && summary?.missingEvents == 0)
    }

    /// A Responses API stream through the same failovers: its model node is SIGKILLed mid-answer,
    /// then its gateway; the client asks the other gateway for the events after the last one it
    /// had (`GET /v1/responses/{id}?stream=true&starting_after=N`). Every event arrives once, in
    /// order, and the text is the undisturbed answer's.
    @Test(.timeLimit(.minutes(3))) func aResponseStreamSurvivesItsModelNodeAndResumesThroughAnotherGateway() async throws {
        let cluster = try await ServingCluster(tokensPerSecond: 25)
        defer { cluster.stop() }
        let body = #"{"model":"synthetic","input":"chaos: a response","max_output_tokens":\#(Self.answerTokens)"#
        let undisturbed = try await cluster.post("/v1/responses", body + #","store":false}"#, via: "gw2")
        let output = try #require((undisturbed["output"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])
        let expected = try #require(output.first?["text"] as? String)

        var events: [[String: Any]] = []
        var killed: [String] = []
        var deltas = 0
        do {
            for try await data in try await cluster.events(post: "/v1/responses", body + #","stream":true}"#, via: "gw1") {
                let event = try Self.object(data)
                events.append(event)
                guard event["type"] as? String == "response.output_text.delta" else { continue }
                deltas += 1
                if deltas == 3 {
                    let busy = try await cluster.busyNode(role: "model", via: "gw1")
                    let victim = try #require(busy, "no model node shows the stream in flight")
                    cluster.nodes.kill(victim)
                    killed.append(victim)
                } else if deltas == 10 {
                    cluster.nodes.kill("gw1")
                    killed.append("gw1")
                }
            }
        } catch {
            // The gateway died under the stream.
        }
        #expect(killed.count == 2)
        let id = try #require((events.first?["response"] as? [String: Any])?["id"] as? String)
        let last = try #require(events.last?["sequence_number"] as? Int)
        for try await data in try await cluster.events(get: "/v1/responses/\(id)?stream=true&starting_after=\(last)", via: "gw2") {
            events.append(try Self.object(data))
        }
        #expect(events.map { $0["sequence_number"] as? Int } == Array(0..<events.count))
        let text = events.filter { $0["type"] as? String == "response.output_text.delta" }.compactMap { $0["delta"] as? String }
        #expect(text.joined() == expected)
        // Cut by max_output_tokens, as the undisturbed answer was: the log says so too.
        #expect(events.last?["type"] as? String == "response.incomplete")
        print("responses: killed \(killed); \(events.count) events, \(last + 1) before the gateway died")
    }

    static func object(_ json: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    func request(_ prompt: String, maxTokens: Int = answerTokens, store: Bool = true, logprobs: Int? = nil)
        -> ChatCompletionRequest
    {
        ChatCompletionRequest(
            model: "synthetic", messages: [.user(prompt)], maxTokens: maxTokens, store: store ? nil : false,
            logprobs: logprobs)
    }
}

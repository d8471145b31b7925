import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParleyProtocol
import ParleyToolCalls
import Synchronization
import Testing

@testable import ParleyGateway

/// Tools over the HTTP API: the request's tools and tool messages reach the completion in
/// Parley's form, and calls in the answer's text go out as OpenAI's `tool_calls`.
@Suite("HTTP API: tool calls")
struct GatewayToolCallTests {
    /// An answer that says a few words, then calls two tools; its markup split across tokens.
    static let tokens = [
        "Let me ", "check.\n<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
        "\n<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>",
    ]

    static let body = #"""
        {"model":"synthetic","messages":[
          {"role":"user","content":"Weather?"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_x","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
          {"role":"tool","tool_call_id":"call_x","content":[{"type":"text","text":"sunny"}]}],
         "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","strict":true,
                   "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}},
                  {"type":"function","function":{"name":"now"}}],
         "tool_choice":"required","parallel_tool_calls":true
        """#

    func toolCalls(in object: [String: Any]?) -> [[String: Any]] {
        let choice = (object?["choices"] as? [[String: Any]])?.first
        let holder = (choice?["message"] ?? choice?["delta"]) as? [String: Any]
        return holder?["tool_calls"] as? [[String: Any]] ?? []
    }

    @Test func toolsAndToolMessagesReachTheCompletion() async throws {
        let backend = ScriptedCompletions(script: ScriptedCompletions.answer(["ok"]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: Self.body + "}"))
            #expect(response.status == .ok)
        }
        let sent = try #require(backend.record.withLock { $0.requests.first })
        #expect(
            sent.sampling.tools
                == ToolOptions(
                    tools: [
                        ToolDefinition(
                            name: "get_weather", description: "Weather",
                            parameters: #"{"additionalProperties":false,"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}"#,
                            strict: true),
                        ToolDefinition(name: "now"),
                    ],
                    choice: .required, parallelCalls: true))
        #expect(sent.messages.map(\.role) == ["user", "assistant", "tool"])
        var extractor = ToolCallExtractor()
        #expect(
            extractor.read(sent.messages[1].content) + extractor.finish()
                == [.call(ToolCall(id: "call_x", name: "get_weather", arguments: #"{"city":"Rome"}"#))])
        #expect(sent.messages[2] == ChatMessage(role: "tool", content: "sunny", toolCallID: "call_x"))
    }

    @Test func aWholeAnswerHasItsCallsAndContent() async throws {
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: ScriptedCompletions.answer(Self.tokens)))
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: Self.body + "}"))
            let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            let choice = try #require((object?["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "Let me check.\n")
            let calls = toolCalls(in: object)
            #expect(calls.count == 2)
            #expect(calls.map { ($0["function"] as? [String: Any])?["name"] as? String } == ["get_weather", "now"])
            #expect(calls.map { ($0["function"] as? [String: Any])?["arguments"] as? String } == [#"{"city": "Paris"}"#, "{}"])
            let ids = calls.compactMap { $0["id"] as? String }
            #expect(ids.count == 2 && Set(ids).count == 2 && ids.allSatisfy { $0.hasPrefix("call_") && $0.count == 29 })
            #expect(calls.allSatisfy { $0["type"] as? String == "function" && $0["index"] == nil })
        }
    }

    @Test func aStreamedAnswerSendsEachCallWholeInItsOwnChunk() async throws {
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: ScriptedCompletions.answer(Self.tokens)))
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: Self.body + #","stream":true}"#))
            let requestID = try #require(response.headers[.requestID])
            let events = SSETestParser.parse(String(buffer: response.body))
            // Role; "Let me "; "check.\n" (the rest of its token held back); the first call (its
            // token's id); the second; finish; [DONE].
            #expect(events.map(\.id) == ["0", "1", "2", "4", "5", nil, nil])
            let chunks = events.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
            let content = chunks.compactMap {
                (($0?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }
            #expect(content == ["", "Let me ", "check.\n"])
            let calls = chunks.flatMap { toolCalls(in: $0) }
            #expect(calls.map { $0["index"] as? Int } == [0, 1])
            #expect(calls.map { ($0["function"] as? [String: Any])?["name"] as? String } == ["get_weather", "now"])
            #expect(calls[0]["id"] as? String == AnswerToolCalls.id(requestID: requestID, index: 0))
            #expect((chunks[5]?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
        }
    }

    /// A resumed stream reads the log from its start, so a call that was under way when the client
    /// dropped out comes whole, with the ids the live stream gave.
    @Test func aResumedStreamReadsCallsOutOfTheLog() async throws {
        let store = RecordingConversations()
        let run = GenerationInfo(
            requestID: "chatcmpl-t1", conversationID: nil, parentID: nil, messageID: "a1", model: "synthetic",
            status: .complete, lastSeq: Int64(Self.tokens.count))
        let logged = Self.tokens.enumerated().map { GenerationLogEntry(seq: Int64($0.offset + 1), text: $0.element) }
        store.state.withLock { $0.generation["alice/chatcmpl-t1"] = GenerationEventsPage(run: run, events: logged) }
        let app = try await makeTestApplication(conversations: store)
        try await app.test(.router) { client in
            var headers = HTTPFields.auth()
            headers[.lastEventID] = "2"
            let response = try await client.execute(uri: "/v1/chat/completions/chatcmpl-t1/stream", method: .get, headers: headers)
            let events = SSETestParser.parse(String(buffer: response.body))
            #expect(events.map(\.id) == ["4", "5", nil, nil])
            let chunks = events.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
            let calls = chunks.flatMap { toolCalls(in: $0) }
            #expect(calls.map { ($0["function"] as? [String: Any])?["arguments"] as? String } == [#"{"city": "Paris"}"#, "{}"])
            #expect(calls.map { $0["id"] as? String } == [0, 1].map { Optional(AnswerToolCalls.id(requestID: "chatcmpl-t1", index: $0)) })
            #expect((chunks[2]?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
        }
    }

    @Test func withoutToolsMarkupIsJustText() async throws {
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: ScriptedCompletions.answer(Self.tokens)))
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}]}"#))
            let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            let choice = try #require((object?["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == Self.tokens.joined())
            #expect(choice["finish_reason"] as? String == "stop")
            #expect(toolCalls(in: object).isEmpty)
        }
    }
}

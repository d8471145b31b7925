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

    /// Streamed tool-call deltas put together per index: (id, name, arguments).
    func assembled(_ chunks: [[String: Any]?]) -> [(id: String, name: String, arguments: String)] {
        var calls: [(id: String, name: String, arguments: String)] = []
        for delta in chunks.flatMap({ toolCalls(in: $0) }) {
            let index = delta["index"] as? Int ?? -1
            let function = delta["function"] as? [String: Any]
            if index == calls.count { calls.append(("", "", "")) }
            guard calls.indices.contains(index) else {
                Issue.record("a delta for call \(index) of \(calls.count)")
                continue
            }
            calls[index].id += delta["id"] as? String ?? ""
            calls[index].name += function?["name"] as? String ?? ""
            calls[index].arguments += function?["arguments"] as? String ?? ""
        }
        return calls
    }

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
        #expect(
            ToolCallExtractor.blocks(of: sent.messages[1].content)
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

    @Test func aStreamedAnswerSendsEachCallAsItsNameAndArgumentsArrive() async throws {
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: ScriptedCompletions.answer(Self.tokens)))
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: Self.body + #","stream":true}"#))
            let requestID = try #require(response.headers[.requestID])
            let events = SSETestParser.parse(String(buffer: response.body))
            // Role; "Let me "; "check.\n" (the rest of its token held back); an empty content delta
            // for the third token (the call's head is not whole yet); the first call's name, then
            // its arguments (only a token's last chunk carries its id); the second call alike;
            // finish; [DONE].
            #expect(events.map(\.id) == ["0", "1", "2", "3", nil, "4", nil, "5", nil, nil])
            let chunks = events.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
            let content = chunks.compactMap {
                (($0?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }
            #expect(content == ["", "Let me ", "check.\n", ""])
            let calls = assembled(chunks)
            #expect(calls.map(\.name) == ["get_weather", "now"])
            #expect(calls.map(\.arguments) == [#"{"city": "Paris"}"#, "{}"])
            #expect(calls.map(\.id) == [0, 1].map { AnswerToolCalls.id(requestID: requestID, index: $0) })
            // The name's chunk has the id, the type and empty arguments; the arguments' chunk only them.
            let first = try #require(toolCalls(in: chunks[4]).first)
            #expect(first["type"] as? String == "function" && (first["function"] as? [String: Any])?["arguments"] as? String == "")
            #expect(toolCalls(in: chunks[5]).first?["id"] == nil)
            #expect((chunks[8]?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
        }
    }

    /// A resumed stream reads the log from its start, so a call that was under way when the client
    /// dropped out comes on as the live stream would have sent it, with the ids it gave.
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
            #expect(events.map(\.id) == ["3", nil, "4", nil, "5", nil, nil])
            let chunks = events.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
            let calls = assembled(chunks)
            #expect(calls.map(\.arguments) == [#"{"city": "Paris"}"#, "{}"])
            #expect(calls.map(\.id) == [0, 1].map { AnswerToolCalls.id(requestID: "chatcmpl-t1", index: $0) })
            #expect((chunks[5]?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")
        }
    }

    /// The resume endpoint reads every answer for calls; text that only might begin a tag is held
    /// back a token, but every token still gets its event id (an empty delta), so a client that
    /// counts ids (ParleyClient) sees none missing.
    @Test func aResumedAnswerWithTextLikeATagKeepsEveryEventID() async throws {
        let store = RecordingConversations()
        let tokens = ["if a <", " b then", " x <t", "o", "ol> y"]
        let run = GenerationInfo(
            requestID: "chatcmpl-t2", conversationID: nil, parentID: nil, messageID: "a2", model: "synthetic",
            status: .complete, lastSeq: Int64(tokens.count))
        let logged = tokens.enumerated().map { GenerationLogEntry(seq: Int64($0.offset + 1), text: $0.element) }
        store.state.withLock { $0.generation["alice/chatcmpl-t2"] = GenerationEventsPage(run: run, events: logged) }
        let app = try await makeTestApplication(conversations: store)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/chat/completions/chatcmpl-t2/stream", method: .get, headers: .auth())
            let events = SSETestParser.parse(String(buffer: response.body))
            #expect(events.map(\.id) == ["0", "1", "2", "3", "4", "5", nil, nil])
            let text = events.dropLast().compactMap { event -> String? in
                let chunk = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any]
                return ((chunk?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text == tokens.joined())
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

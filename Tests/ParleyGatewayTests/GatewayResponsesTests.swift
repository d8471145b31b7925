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

/// The Responses API over a scripted completion: what a request asks reaches the completion in
/// Parley's form, and the answer goes out as a response object or as its stream of events.
@Suite("HTTP API: responses")
struct GatewayResponsesTests {
    static let conversationID = "01a23357-7c62-8520-9116-cf9228a8f8dc"
    static let answerID = "01a23357-7c65-7015-b58f-91de08f5f5a9"
    static let requestHex = "01a233577c5f00000000000000000001"

    /// `started` with stored ids, the tokens, `finished(reason)`.
    static func answer(_ tokens: [String], reason: FinishReason = .stop) -> @Sendable (CompletionRequest) -> [ScriptedCompletions.Step] {
        { _ in
            [.event(.started(conversationID: conversationID, userMessageID: "01a23357-7c64-7000-8000-000000000001", assistantMessageID: answerID))]
                + tokens.enumerated().map { .event(.token(index: $0.offset, text: $0.element)) }
                + [.event(.finished(reason, TokenUsage(promptTokens: 9, completionTokens: tokens.count)))]
        }
    }

    static let weather =
        #"{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}"#

    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    /// The events of an SSE body: (event line, data object).
    func events(_ response: TestResponse) throws -> [(type: String, data: [String: Any])] {
        try String(buffer: response.body).components(separatedBy: "\n\n").filter { !$0.isEmpty }.map { block in
            var type = ""
            var data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { type = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
                }
            }
            return (type, data)
        }
    }

    @Test func itemsInstructionsAndSettingsReachTheCompletion() async throws {
        let backend = ScriptedCompletions(script: Self.answer(["ok"]))
        let app = try await makeTestApplication(completions: backend)
        let previous = "resp_" + "01a233577c6285209116cf9228a8f8dc" + "01a233577c657015b58f91de08f5f5a9" + Self.requestHex
        let body = #"""
            {"model":"synthetic","instructions":"Be brief.","previous_response_id":"\#(previous)","max_output_tokens":40,
             "temperature":0.5,"include":["message.output_text.logprobs"],"top_logprobs":2,"tools":[\#(Self.weather)],
             "text":{"format":{"type":"json_object"}},"input":[
               {"role":"developer","content":"Use tools."},
               {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather "},{"type":"input_text","text":"in Rome?"}]},
               {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Rome\"}"},
               {"type":"function_call","call_id":"call_2","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
               {"type":"function_call_output","call_id":"call_1","output":"sunny"},
               {"type":"function_call_output","call_id":"call_2","output":[{"type":"input_text","text":"rain"}]}]}
            """#
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            let object = try object(response)
            #expect(object["previous_response_id"] as? String == previous)
            #expect(object["instructions"] as? String == "Be brief.")
            #expect((object["conversation"] as? [String: Any])?["id"] as? String == Self.conversationID)
        }
        let sent = try #require(backend.record.withLock { $0.requests.first })
        #expect(sent.instructions == "Be brief.")
        #expect(sent.conversationID == Self.conversationID && sent.parentMessageID == Self.answerID)
        #expect(sent.messages.map(\.role) == ["system", "user", "assistant", "tool", "tool"])
        #expect(sent.messages[1].content == "Weather in Rome?")
        // Both calls join one assistant turn, with their ids.
        #expect(
            ToolCallExtractor.blocks(of: sent.messages[2].content) == [
                .call(ToolCall(id: "call_1", name: "get_weather", arguments: #"{"city":"Rome"}"#)),
                .call(ToolCall(id: "call_2", name: "get_weather", arguments: #"{"city":"Paris"}"#)),
            ])
        #expect(sent.messages[3] == ChatMessage(role: "tool", content: "sunny", toolCallID: "call_1"))
        #expect(sent.messages[4] == ChatMessage(role: "tool", content: "rain", toolCallID: "call_2"))
        #expect(sent.sampling.maxTokens == 40 && sent.sampling.temperature == 0.5 && sent.sampling.logprobs == 2)
        #expect(sent.sampling.responseFormat == .jsonObject)
        // A Responses API tool is strict unless it says otherwise.
        #expect(sent.sampling.tools?.tools.map(\.strict) == [true])
    }

    @Test func badRequestsAreRefusedNamingTheField() async throws {
        let backend = ScriptedCompletions(script: Self.answer(["ok"]))
        let app = try await makeTestApplication(completions: backend)
        let cases: [(String, String, HTTPResponse.Status)] = [
            (#"{"input":"hi"}"#, "model", .badRequest),
            (#"{"model":"m"}"#, "input", .badRequest),
            (#"{"model":"m","input":[]}"#, "input", .badRequest),
            (#"{"model":"m","input":7}"#, "input", .badRequest),
            (#"{"model":"m","input":[{"role":"robot","content":"x"}]}"#, "input[0].role", .badRequest),
            (#"{"model":"m","input":[{"type":"reasoning","summary":[]}]}"#, "input[0].type", .unprocessableContent),
            (#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}"#, "input[0].content[0]", .unprocessableContent),
            (#"{"model":"m","input":[{"type":"function_call_output","output":"x"}]}"#, "input[0].call_id", .badRequest),
            (#"{"model":"m","input":[{"type":"function_call","call_id":"c","name":"bad name"}]}"#, "input[0].name", .badRequest),
            (#"{"model":"m","input":"hi","background":true}"#, "background", .unprocessableContent),
            (#"{"model":"m","input":"hi","reasoning":{"effort":"high"}}"#, "reasoning", .unprocessableContent),
            (#"{"model":"m","input":"hi","include":["file_search_call.results"]}"#, "include[0]", .unprocessableContent),
            (#"{"model":"m","input":"hi","previous_response_id":"resp_nope"}"#, "previous_response_id", .badRequest),
            (#"{"model":"m","input":"hi","conversation":"c1","previous_response_id":"resp_nope"}"#, "previous_response_id", .badRequest),
            (#"{"model":"m","input":"hi","conversation":"c1","store":false}"#, "store", .unprocessableContent),
            (#"{"model":"m","input":"hi","tools":[{"type":"web_search"}]}"#, "tools[0].type", .unprocessableContent),
            (#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"string","pattern":"a"}}]}"#, "tools[0].parameters", .unprocessableContent),
            (#"{"model":"m","input":"hi","tools":[\#(Self.weather)],"tool_choice":{"type":"function","name":"g"}}"#, "tool_choice.name", .badRequest),
            (#"{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"s","schema":{"type":"string","format":"date"}}}}"#, "text.format.schema", .unprocessableContent),
            (#"{"model":"m","input":"hi","metadata":{"k":1}}"#, "metadata.k", .badRequest),
            (#"{"model":"m","input":"hi","max_output_tokens":0}"#, "max_output_tokens", .badRequest),
            (#"{"model":"m","input":"hi","stream_options":{}}"#, "stream_options", .badRequest),
        ]
        try await app.test(.router) { client in
            for (body, param, status) in cases {
                let response = try await client.execute(uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body))
                #expect(response.status == status, "\(body)")
                #expect(try errorBody(response).param == param, "\(body)")
            }
        }
        #expect(backend.record.withLock { $0.requests.isEmpty })
    }

    @Test func aStreamedAnswerIsItsItemsEventByEventAndEndsAsTheWholeOne() async throws {
        let backend = ScriptedCompletions(script: Self.answer(GatewayToolCallTests.tokens))
        let app = try await makeTestApplication(completions: backend)
        let body = #"{"model":"synthetic","input":"Weather?","tools":[\#(Self.weather),{"type":"function","name":"now","strict":false}]"#
        try await app.test(.router) { client in
            let streamed = try await client.execute(
                uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body + #","stream":true}"#))
            #expect(streamed.headers[.contentType] == "text/event-stream")
            let events = try events(streamed)
            #expect(events.map(\.data["sequence_number"]).compactMap { $0 as? Int } == Array(0..<events.count))
            #expect(events.allSatisfy { $0.type == $0.data["type"] as? String })
            let types = events.map(\.type)
            let message = [
                "response.output_item.added", "response.content_part.added", "response.output_text.delta",
                "response.output_text.delta", "response.output_text.done", "response.content_part.done",
                "response.output_item.done",
            ]
            func call(deltas: Int) -> [String] {
                ["response.output_item.added"] + Array(repeating: "response.function_call_arguments.delta", count: deltas)
                    + ["response.function_call_arguments.done", "response.output_item.done"]
            }
            let expected = ["response.created", "response.in_progress"] + message + call(deltas: 1) + call(deltas: 1) + ["response.completed"]
            #expect(types == expected)
            let texts = events.filter { $0.type == "response.output_text.delta" }.compactMap { $0.data["delta"] as? String }
            #expect(texts.joined() == "Let me check.\n")

            let whole = try await client.execute(
                uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body + "}"))
            let object = try object(whole)
            let final = try #require(events.last?.data["response"] as? [String: Any])
            // The same items, ids and all, either way.
            #expect(
                try JSONSerialization.data(withJSONObject: final["output"]!, options: .sortedKeys)
                    == JSONSerialization.data(withJSONObject: object["output"]!, options: .sortedKeys))
            let output = try #require(object["output"] as? [[String: Any]])
            #expect(output.map { $0["type"] as? String } == ["message", "function_call", "function_call"])
            #expect(output[1]["name"] as? String == "get_weather" && output[1]["arguments"] as? String == #"{"city": "Paris"}"#)
            #expect(output[2]["name"] as? String == "now" && output[2]["arguments"] as? String == "{}")
            #expect(output[1]["call_id"] as? String == ResponseIDs.callID(seed: Self.answerID, index: 0))
            let requestID = try #require(whole.headers[.requestID])
            #expect(
                object["id"] as? String
                    == ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID))
            #expect(object["status"] as? String == "completed")
            #expect((object["usage"] as? [String: Any])?["output_tokens"] as? Int == GatewayToolCallTests.tokens.count)
        }
    }

    @Test func anAnswerThatFailsMidStreamEndsWithAnErrorAndAFailedResponse() async throws {
        let backend = ScriptedCompletions(script: { request in
            Array(Self.answer(["Hel", "lo"])(request).dropLast()) + [.fail(ServingError(ServingError.noBackend, "model gone"))]
        })
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/responses", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","input":"hi","stream":true}"#))
            let events = try events(response)
            #expect(events.suffix(3).map(\.type) == ["response.output_item.done", "error", "response.failed"])
            let item = try #require(events[events.count - 3].data["item"] as? [String: Any])
            #expect(item["status"] as? String == "incomplete")
            let failed = try #require(events.last?.data["response"] as? [String: Any])
            #expect(failed["status"] as? String == "failed")
            #expect((failed["error"] as? [String: Any])?["code"] as? String == ServingError.noBackend)
        }
    }

    @Test func aPreviousResponseThatIsGoneIsNamedAsSuch() async throws {
        let backend = ScriptedCompletions(script: { _ in [.fail(ConversationError(.notFound, "no such message"))] })
        let app = try await makeTestApplication(completions: backend)
        let previous = "resp_" + String(repeating: "0", count: 96)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/responses", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","input":"hi","previous_response_id":"\#(previous)"}"#))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).code == "previous_response_not_found")
        }
    }

    @Test func responseIDsSayWhereTheAnswerIs() {
        let requestID = "chatcmpl-" + Self.requestHex
        let id = ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID)
        #expect(id?.count == 5 + 96)
        #expect(
            ResponseIDs.location(of: id ?? "")
                == ResponseIDs.Location(requestID: requestID, conversationID: Self.conversationID, messageID: Self.answerID))
        #expect(ResponseIDs.stored(conversationID: "conv-1", messageID: Self.answerID, requestID: requestID) == nil)
        #expect(ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: "r1") == nil)
        let unstored = ResponseIDs.unstored(requestID: requestID)
        #expect(unstored == "resp_" + Self.requestHex)
        #expect(ResponseIDs.location(of: unstored) == ResponseIDs.Location(requestID: requestID, conversationID: nil, messageID: nil))
        #expect(ResponseIDs.location(of: "resp_" + String(repeating: "G", count: 96)) == nil)
        #expect(ResponseIDs.location(of: "resp_" + String(repeating: "0", count: 64)) == nil)
        #expect(ResponseIDs.location(of: "chatcmpl-" + Self.requestHex) == nil)
    }

    /// An answer is stored when it ends; until then `GET /v1/responses/{id}` reads its log.
    @Test func aRunningResponseIsReadFromItsLog() async throws {
        let store = RecordingConversations()
        store.add(owner: "alice", id: Self.conversationID, title: "t")
        let requestID = "chatcmpl-" + Self.requestHex
        let run = GenerationInfo(
            requestID: requestID, conversationID: Self.conversationID, parentID: nil, messageID: Self.answerID,
            model: "synthetic", status: .streaming, lastSeq: 2)
        let logged = [GenerationLogEntry(seq: 1, text: "Hel"), GenerationLogEntry(seq: 2, text: "lo")]
        store.state.withLock { $0.generation["alice/\(requestID)"] = GenerationEventsPage(run: run, events: logged) }
        let app = try await makeTestApplication(conversations: store)
        let id = try #require(ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID))
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: .auth())
            #expect(response.status == .ok)
            let object = try object(response)
            #expect(object["status"] as? String == "in_progress" && object["model"] as? String == "synthetic")
            let output = try #require(object["output"] as? [[String: Any]])
            let content = try #require(output.first?["content"] as? [[String: Any]])
            #expect(content.first?["text"] as? String == "Hello" && output.first?["status"] as? String == "in_progress")
            // Not another user's, and not a response that never was.
            let bob = try await client.execute(uri: "/v1/responses/\(id)", method: .get, headers: .auth(otherKey))
            #expect(bob.status == .notFound)
            let other = try #require(
                ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: "chatcmpl-" + String(repeating: "a", count: 32)))
            #expect(try await client.execute(uri: "/v1/responses/\(other)", method: .get, headers: .auth()).status == .notFound)
        }
    }

    /// A response's stream read again from its generation log: the same events with the same
    /// sequence numbers as the live stream sent, from any point on.
    @Test func aStreamResumedFromTheLogRepeatsTheLiveEvents() async throws {
        let store = RecordingConversations()
        let requestID = "chatcmpl-" + Self.requestHex
        let tokens = GatewayToolCallTests.tokens
        let run = GenerationInfo(
            requestID: requestID, conversationID: Self.conversationID, parentID: nil, messageID: Self.answerID,
            model: "synthetic", status: .complete, lastSeq: Int64(tokens.count))
        let logged = tokens.enumerated().map { GenerationLogEntry(seq: Int64($0.offset + 1), text: $0.element) }
        store.state.withLock { $0.generation["alice/\(requestID)"] = GenerationEventsPage(run: run, events: logged) }
        let backend = ScriptedCompletions(script: Self.answer(tokens))
        let app = try await makeTestApplication(completions: backend, conversations: store)
        let body = #"{"model":"synthetic","input":"Weather?","stream":true,"tools":[\#(Self.weather),{"type":"function","name":"now","strict":false}]}"#
        try await app.test(.router) { client in
            let live = try await client.execute(uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body))
            let liveEvents = try events(live)
            let id = try #require((liveEvents.first?.data["response"] as? [String: Any])?["id"] as? String)
            let liveRequest = try #require(live.headers[.requestID])
            // The live answer had another request id; the log's is the test's.
            let replayedID = try #require(
                ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID))
            #expect(id != replayedID && liveRequest != requestID)
            let replayed = try await client.execute(uri: "/v1/responses/\(replayedID)?stream=true", method: .get, headers: .auth())
            #expect(replayed.headers[.requestID] == requestID)
            let replayedEvents = try events(replayed)
            #expect(replayedEvents.map(\.type) == liveEvents.map(\.type))
            #expect(replayedEvents.map { $0.data["sequence_number"] as? Int } == liveEvents.map { $0.data["sequence_number"] as? Int })
            func deltas(_ events: [(type: String, data: [String: Any])]) -> [String] {
                events.compactMap { $0.data["delta"] as? String }
            }
            #expect(deltas(replayedEvents) == deltas(liveEvents))
            let after = try await client.execute(
                uri: "/v1/responses/\(replayedID)?stream=true&starting_after=5", method: .get, headers: .auth())
            let rest = try events(after)
            #expect(rest.map { $0.data["sequence_number"] as? Int } == Array(6..<liveEvents.count))
            #expect(rest.map(\.type) == Array(liveEvents.dropFirst(6).map(\.type)))
            let unknown = try await client.execute(
                uri: "/v1/responses/resp_\(String(repeating: "1", count: 32))?stream=true", method: .get, headers: .auth())
            #expect(unknown.status == .notFound)
        }
    }
}

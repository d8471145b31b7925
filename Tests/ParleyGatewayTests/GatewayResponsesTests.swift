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
        let previous = "resp_" + "01a233577c6285209116cf9228a8f8dc" + "01a233577c657015b58f91de08f5f5a9" + Self.requestHex + "1"
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
            (#"{"model":"m","input":"hi","tools":[],"tool_choice":"required"}"#, "tool_choice", .badRequest),
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
            // The line break before the call is held back, then dropped when the call begins.
            #expect(texts == ["Let me", " check."])

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
                    == ResponseIDs.stored(
                        conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID, readsCalls: true))
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
        let previous = "resp_" + String(repeating: "0", count: 97)
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
        for readsCalls in [false, true] {
            let id = ResponseIDs.stored(
                conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID, readsCalls: readsCalls)
            #expect(id?.count == 5 + 97)
            #expect(
                ResponseIDs.location(of: id ?? "")
                    == ResponseIDs.Location(
                        requestID: requestID, conversationID: Self.conversationID, messageID: Self.answerID,
                        readsCalls: readsCalls))
            let unstored = ResponseIDs.unstored(requestID: requestID, readsCalls: readsCalls)
            #expect(unstored == "resp_" + Self.requestHex + (readsCalls ? "1" : "0"))
            #expect(
                ResponseIDs.location(of: unstored)
                    == ResponseIDs.Location(requestID: requestID, conversationID: nil, messageID: nil, readsCalls: readsCalls))
        }
        #expect(ResponseIDs.stored(conversationID: "conv-1", messageID: Self.answerID, requestID: requestID, readsCalls: false) == nil)
        #expect(
            ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: "r1", readsCalls: false) == nil)
        #expect(ResponseIDs.location(of: "resp_" + String(repeating: "G", count: 97)) == nil)
        #expect(ResponseIDs.location(of: "resp_" + String(repeating: "0", count: 96)) == nil)
        #expect(ResponseIDs.location(of: "resp_" + String(repeating: "0", count: 32) + "2") == nil)
        #expect(ResponseIDs.location(of: "chatcmpl-" + Self.requestHex) == nil)
    }

    @Test func aResponseWasCreatedWhenItsRequestIDWasMade() {
        let made = Date(timeIntervalSince1970: 1_796_000_000.25)
        let requestID = "chatcmpl-" + TimePrefix.make(made) + "00000000000000000001"
        let later = made.addingTimeInterval(86_400)
        #expect(ResponseIDs.createdAt(requestID: requestID, near: later) == 1_796_000_000)
        #expect(ResponseIDs.createdAt(requestID: requestID, near: made.addingTimeInterval(-3_600)) == 1_796_000_000)
        // Digits that are no time near the reference (a hash-derived id): the reference.
        let muchLater = made.addingTimeInterval(100 * 86_400)
        #expect(ResponseIDs.createdAt(requestID: requestID, near: muchLater) == Int(muchLater.timeIntervalSince1970))
        #expect(ResponseIDs.createdAt(requestID: "chatcmpl-zz", near: later) == Int(later.timeIntervalSince1970))
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
        let id = try #require(
            ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID, readsCalls: false))
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
                ResponseIDs.stored(
                    conversationID: Self.conversationID, messageID: Self.answerID,
                    requestID: "chatcmpl-" + String(repeating: "a", count: 32), readsCalls: false))
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
                ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID, readsCalls: true))
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
                uri: "/v1/responses/resp_\(String(repeating: "1", count: 33))?stream=true", method: .get, headers: .auth())
            #expect(unknown.status == .notFound)
        }
    }
    /// Without tools, text that could begin a call is text at once; a resumed stream reads the log
    /// the same way (the response id says the request offered no tools), so it numbers its events
    /// as the live stream did.
    @Test func withoutToolsAResumedStreamNumbersItsEventsAsTheLiveOne() async throws {
        let tokens = ["a ", "<", "b", " <tool_call>\n{\"name\": \"x\", \"arguments\": {}}\n</tool_call>", " c"]
        let store = RecordingConversations()
        let requestID = "chatcmpl-" + Self.requestHex
        let run = GenerationInfo(
            requestID: requestID, conversationID: Self.conversationID, parentID: nil, messageID: Self.answerID,
            model: "synthetic", status: .complete, lastSeq: Int64(tokens.count))
        let logged = tokens.enumerated().map { GenerationLogEntry(seq: Int64($0.offset + 1), text: $0.element) }
        store.state.withLock { $0.generation["alice/\(requestID)"] = GenerationEventsPage(run: run, events: logged) }
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: Self.answer(tokens)), conversations: store)
        try await app.test(.router) { client in
            let live = try await client.execute(
                uri: "/v1/responses", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","input":"hi","stream":true}"#))
            let liveEvents = try events(live)
            let id = try #require((liveEvents.first?.data["response"] as? [String: Any])?["id"] as? String)
            #expect(ResponseIDs.location(of: id)?.readsCalls == false)
            let replayedID = try #require(
                ResponseIDs.stored(conversationID: Self.conversationID, messageID: Self.answerID, requestID: requestID, readsCalls: false))
            let replayed = try events(
                try await client.execute(uri: "/v1/responses/\(replayedID)?stream=true", method: .get, headers: .auth()))
            #expect(replayed.map(\.type) == liveEvents.map(\.type))
            let deltas = liveEvents.compactMap { $0.data["delta"] as? String }
            #expect(deltas == replayed.compactMap { $0.data["delta"] as? String })
            #expect(deltas.joined() == tokens.joined())
            #expect(!liveEvents.contains { $0.type == "response.function_call_arguments.delta" })
        }
    }

    /// No message item is blank: whitespace before a call, between calls and at the end goes nowhere.
    @Test func noMessageIsBlank() async throws {
        let tokens = ["\n ", " \n", "<tool_call>\n{\"name\": \"now\", \"arguments\": {}}\n</tool_call>", "\n\n", "  "]
        let app = try await makeTestApplication(completions: ScriptedCompletions(script: Self.answer(tokens)))
        let body = #"{"model":"synthetic","input":"hi","tools":[{"type":"function","name":"now"}]"#
        try await app.test(.router) { client in
            for stream in [false, true] {
                let response = try await client.execute(
                    uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body + #","stream":\#(stream)}"#))
                let object = try stream ? #require(try events(response).last?.data["response"] as? [String: Any]) : object(response)
                let output = try #require(object["output"] as? [[String: Any]])
                #expect(output.map { $0["type"] as? String } == ["function_call"], "stream: \(stream)")
            }
        }
    }

    /// A turn's input items: what it stored between the previous answer and its own, tool results
    /// paired with the previous answer's calls, pages in both orders.
    @Test func inputItemsAreTheTurnsMessagesWithTheirCalls() async throws {
        let store = RecordingConversations()
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        func message(_ n: Int, _ role: MessageRole, _ content: String, parent: Int?, model: String? = nil) -> ConversationMessage {
            ConversationMessage(
                id: "01a23357-7c65-7015-b58f-91de08f5f5a\(n)", conversationID: Self.conversationID,
                parentID: parent.map { "01a23357-7c65-7015-b58f-91de08f5f5a\($0)" }, role: role, content: content, model: model,
                createdAt: now)
        }
        let calls = ToolCallMarkup.text(of: ToolCall(name: "f", arguments: "{}")) + "\n" + ToolCallMarkup.text(of: ToolCall(name: "g", arguments: "{}"))
        let messages = [
            message(1, .user, "go", parent: nil), message(2, .assistant, calls, parent: 1, model: "synthetic"),
            message(3, .tool, "first", parent: 2), message(4, .tool, "second", parent: 3), message(5, .user, "and?", parent: 4),
            message(6, .assistant, "done", parent: 5, model: "synthetic"),
        ]
        let summary = ConversationSummary(
            id: Self.conversationID, title: "t", model: "synthetic", createdAt: now, updatedAt: now, pinned: false,
            currentMessageID: messages[5].id)
        store.state.withLock {
            $0.conversations["alice", default: [:]][Self.conversationID] = ConversationDetails(summary: summary, messages: messages)
        }
        let app = try await makeTestApplication(conversations: store)
        let id = try #require(
            ResponseIDs.stored(
                conversationID: Self.conversationID, messageID: messages[5].id, requestID: "chatcmpl-" + Self.requestHex,
                readsCalls: false))
        try await app.test(.router) { client in
            let all = try object(try await client.execute(uri: "/v1/responses/\(id)/input_items?order=asc", method: .get, headers: .auth()))
            let items = try #require(all["data"] as? [[String: Any]])
            #expect(items.map { $0["type"] as? String } == ["function_call_output", "function_call_output", "message"])
            #expect(items.map { $0["call_id"] as? String } == [
                ResponseIDs.callID(seed: messages[1].id, index: 0), ResponseIDs.callID(seed: messages[1].id, index: 1), nil,
            ])
            #expect(Set(items.compactMap { $0["id"] as? String }).count == 3)
            let first = try object(
                try await client.execute(uri: "/v1/responses/\(id)/input_items?limit=1", method: .get, headers: .auth()))
            #expect((first["data"] as? [[String: Any]])?.first?["id"] as? String == items[2]["id"] as? String)
            #expect(first["has_more"] as? Bool == true)
            let rest = try object(
                try await client.execute(
                    uri: "/v1/responses/\(id)/input_items?after=\(items[2]["id"] as? String ?? "")", method: .get, headers: .auth()))
            #expect((rest["data"] as? [[String: Any]])?.compactMap { $0["output"] as? String } == ["second", "first"])
            #expect(rest["has_more"] as? Bool == false)
            // The previous answer read back: its calls with the ids the results were paired with.
            let previousID = try #require(
                ResponseIDs.stored(
                    conversationID: Self.conversationID, messageID: messages[1].id, requestID: "chatcmpl-" + Self.requestHex,
                    readsCalls: true))
            let previous = try object(try await client.execute(uri: "/v1/responses/\(previousID)", method: .get, headers: .auth()))
            #expect((previous["output"] as? [[String: Any]])?.compactMap { $0["call_id"] as? String } == items.prefix(2).compactMap { $0["call_id"] as? String })
        }
    }
    /// Each message's logprobs are those of the tokens that wrote it, whole or streamed: not the
    /// call's, not the markup's around it.
    @Test func logprobsGoWithTheTextTheirTokensWrote() async throws {
        let tokens = [
            "Let me ", "check.\n<tool", "_call>\n{\"name\": \"now\", ", "\"arguments\": {}}\n</tool_call>", "\nDone", " here",
        ]
        let backend = ScriptedCompletions(script: { _ in
            [.event(.started(conversationID: nil, userMessageID: nil, assistantMessageID: nil))]
                + tokens.enumerated().map { index, text in
                    .event(.token(index: index, text: text, logprobs: [TokenLogprob(bytes: Array(text.utf8), logprob: -Double(index))]))
                }
                + [.event(.finished(.stop, TokenUsage(promptTokens: 3, completionTokens: tokens.count)))]
        })
        let app = try await makeTestApplication(completions: backend)
        let body = #"{"model":"synthetic","input":"hi","tools":[{"type":"function","name":"now"}],"top_logprobs":0"#
        @Sendable func logprobs(_ output: [[String: Any]]) -> [[Double]] {
            output.filter { $0["type"] as? String == "message" }.map { item in
                let content = (item["content"] as? [[String: Any]])?.first
                return (content?["logprobs"] as? [[String: Any]] ?? []).compactMap { $0["logprob"] as? Double }
            }
        }
        try await app.test(.router) { client in
            let whole = try object(
                try await client.execute(uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body + "}")))
            let streamed = try events(
                try await client.execute(
                    uri: "/v1/responses", method: .post, headers: .auth(), body: ByteBuffer(string: body + #","stream":true}"#)))
            let final = try #require(streamed.last?.data["response"] as? [String: Any])
            let expected: [[Double]] = [[-0.0, -1.0], [-4.0, -5.0]]
            #expect(logprobs(try #require(whole["output"] as? [[String: Any]])) == expected)
            #expect(logprobs(try #require(final["output"] as? [[String: Any]])) == expected)
        }
    }
}

import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
@testable import ParleyGateway
import ParleyProtocol
import ParleyTestSupport
import Synchronization
import Testing

@Suite("HTTP API: auth, validation, errors, completions")
struct GatewayHTTPTests {
    func chat(_ body: String, key: String = testKey) -> (String, HTTPRequest.Method, HTTPFields, ByteBuffer) {
        ("/v1/chat/completions", .post, .auth(key), ByteBuffer(string: body))
    }

    @Test func requestsWithoutValidCredentialsGet401() async throws {
        let app = try await makeTestApplication()
        try await app.test(.router) { client in
            for headers: HTTPFields in [[:], [.authorization: "Basic abc"], [.authorization: "Bearer nope-nope-nope"]] {
                let response = try await client.execute(uri: "/v1/models", method: .get, headers: headers)
                #expect(response.status == .unauthorized)
                let error = try errorBody(response)
                #expect(error.type == "authentication_error")
                #expect(response.headers[.requestID] != nil)
            }
            let ok = try await client.execute(uri: "/v1/models", method: .get, headers: .auth())
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body).contains(#""id":"synthetic""#))
            #expect(String(buffer: ok.body).contains(#""object":"list""#))
        }
    }

    @Test func modelsAreListedAndRetrievedOneByOne() async throws {
        let backend = ScriptedCompletions(
            models: [
                ModelInfo(id: "smollm2", backend: "builtin", contextLength: 8_192, created: 1_790_000_000),
                ModelInfo(id: "Qwen/Qwen2.5-7B", backend: "upstream"),
            ],
            script: ScriptedCompletions.answer(["x"]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let list = try await client.execute(uri: "/v1/models", method: .get, headers: .auth())
            #expect(
                String(buffer: list.body)
                    == #"{"object":"list","data":[{"id":"smollm2","object":"model","created":1790000000,"owned_by":"parley-builtin","context_length":8192},{"id":"Qwen/Qwen2.5-7B","object":"model","created":0,"owned_by":"parley-upstream"}],"next_cursor":null}"#
            )
            let one = try await client.execute(uri: "/v1/models/smollm2", method: .get, headers: .auth())
            #expect(one.status == .ok)
            #expect(
                String(buffer: one.body)
                    == #"{"id":"smollm2","object":"model","created":1790000000,"owned_by":"parley-builtin","context_length":8192}"#)
            let slashed = try await client.execute(uri: "/v1/models/Qwen/Qwen2.5-7B", method: .get, headers: .auth())
            #expect(slashed.status == .ok)
            #expect(String(buffer: slashed.body).contains(#""id":"Qwen/Qwen2.5-7B""#))
            let missing = try await client.execute(uri: "/v1/models/gpt-9", method: .get, headers: .auth())
            #expect(missing.status == .notFound)
            let error = try errorBody(missing)
            #expect(error.code == "model_not_found" && error.param == "model")
            #expect(try await client.execute(uri: "/v1/models/smollm2", method: .get).status == .unauthorized)
        }
    }

    @Test func aModelOnSeveralEndpointsIsListedOnce() {
        let merged = ClusterCompletionBackend.merged([
            [ModelInfo(id: "smollm2", backend: "builtin", contextLength: 8_192, created: 200)],
            [ModelInfo(id: "smollm2", backend: "builtin", contextLength: 2_048, created: 300), ModelInfo(id: "a", backend: "synthetic")],
            [ModelInfo(id: "smollm2", backend: "builtin", created: 100)],
        ])
        #expect(
            merged == [
                ModelInfo(id: "a", backend: "synthetic"),
                ModelInfo(id: "smollm2", backend: "builtin", contextLength: 2_048, created: 100),
            ])
    }

    @Test func openEndpointsNeedNoCredentials() async throws {
        let app = try await makeTestApplication()
        try await app.test(.router) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(String(buffer: page.body).contains("/assets/app.js"))
            let script = try await client.execute(uri: "/assets/app.js", method: .get)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            for hostile in ["/assets/..%2FGatewayService.swift", "/assets/index.html", "/assets/.hidden.js", "/assets/nope.js"] {
                #expect(try await client.execute(uri: hostile, method: .get).status == .notFound, "\(hostile)")
            }
            let cluster = try await client.execute(uri: "/v1/cluster", method: .get, headers: .auth())
            let object = try JSONSerialization.jsonObject(with: Data(cluster.body.readableBytesView)) as? [String: Any]
            #expect(object?["self"] as? String == "gw-1")
            let member = (object?["members"] as? [[String: Any]])?.first
            #expect(member?["roles"] as? [String] == ["gateway"])
            #expect(member?["status"] as? String == "alive")
        }
    }

    @Test(arguments: [
        (#"{"messages":[{"role":"user","content":"hi"}]}"#, "model", 400),
        (#"{"model":"m","messages":[]}"#, "messages", 400),
        (#"{"model":"m","messages":"hi"}"#, "messages", 400),
        (#"{"model":"m","messages":[{"role":"wizard","content":"hi"}]}"#, "messages[0].role", 400),
        (#"{"model":"m","messages":[{"role":"user","content":5}]}"#, "messages[0].content", 400),
        (#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":2.5}"#, "temperature", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}"#, "temperature", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_p":1.5}"#, "top_p", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":0}"#, "max_tokens", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":1.5}"#, "max_tokens", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":10000000}"#, "max_tokens", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}"#, "stop", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":[1]}"#, "stop", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":"x"}"#, "seed", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "stream", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"frequency_penalty":3}"#, "frequency_penalty", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"presence_penalty":"x"}"#, "presence_penalty", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":[1]}"#, "logit_bias", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"hello":1}}"#, "logit_bias", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"-1":1}}"#, "logit_bias", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"007":1}}"#, "logit_bias", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"5":101}}"#, "logit_bias.5", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logit_bias":{"5":"up"}}"#, "logit_bias.5", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":"yes"}"#, "logprobs", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_logprobs":2}"#, "top_logprobs", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":false,"top_logprobs":2}"#, "top_logprobs", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":21}"#, "top_logprobs", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":1.5}"#, "top_logprobs", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":-2}"#, "top_k", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":2.5}"#, "top_k", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"min_p":1.5}"#, "min_p", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"repetition_penalty":0}"#, "repetition_penalty", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}"#, "n", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}"#, "tools", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"functions":[]}"#, "functions", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tool_choice":"auto"}"#, "tool_choice", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"retrieval"}]}"#, "tools[0].type", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}"#, "tools[0].function", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a b"}}]}"#, "tools[0].function.name", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}"#, "tools[1].function.name", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]}"#, "tools[0].function.parameters", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","strict":true,"parameters":{"type":"object","properties":{"n":{"type":"integer","minimum":1}}}}}]}"#, "tools[0].function.parameters", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"}"#, "tool_choice", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}}"#, "tool_choice.function.name", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":1}"#, "parallel_tool_calls", 400),
        (#"{"model":"m","messages":[{"role":"tool","content":"sunny"}]}"#, "messages[0].tool_call_id", 400),
        (#"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]}"#, "messages[0].tool_calls[0].id", 400),
        (#"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]}"#, "messages[0].tool_calls[0].function.name", 400),
        (#"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":"f"}]}"#, "messages[0].tool_calls", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"string","pattern":"x"}}}}}}"#, "response_format.json_schema.schema", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"a b"}}}"#, "response_format.json_schema.name", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema"}}"#, "response_format.json_schema", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}"#, "response_format", 422),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{}}"#, "response_format.type", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":"text"}"#, "response_format", 400),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"conversation_id":"c","store":false}"#, "store", 422),
    ])
    func invalidFieldsAreNamed(body: String, param: String, status: Int) async throws {
        let backend = ScriptedCompletions(script: ScriptedCompletions.answer(["x"]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: body))
            #expect(response.status.code == status)
            let error = try errorBody(response)
            #expect(error.param == param)
            #expect(!error.message.isEmpty)
        }
        #expect(backend.record.withLock { $0.requests.isEmpty })
    }

    @Test(arguments: ["", "{", "[1,2]", "null", "\u{FF}\u{FE}", #"{"model":"m","messages":[{"role":"user","content":"hi"}]"#])
    func malformedBodiesGet400(body: String) async throws {
        let app = try await makeTestApplication()
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: body))
            #expect(response.status == .badRequest)
            #expect(try errorBody(response).type == "invalid_request_error")
        }
    }

    @Test func oversizedBodyGets413() async throws {
        let app = try await makeTestApplication { $0.limits.maxChatBodyBytes = 1000 }
        try await app.test(.router) { client in
            let big = #"{"model":"m","messages":[{"role":"user","content":""# + String(repeating: "a", count: 2000) + #""}]}"#
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: big))
            #expect(response.status == .contentTooLarge)
            #expect(try errorBody(response).code == "request_too_large")
        }
    }

    @Test func unknownRouteGets404InOpenAIShape() async throws {
        let app = try await makeTestApplication()
        try await app.test(.router) { client in
            let response = try await client.execute(uri: "/v1/nothing", method: .get, headers: .auth())
            #expect(response.status == .notFound)
            #expect(try errorBody(response).type == "not_found_error")
        }
    }

    @Test func anErrorBodyHasItsKeysInOneOrder() {
        let error = OpenAIError.invalid("'limit' must be an integer from 1 to 200", param: "limit")
        let text = String(decoding: error.body, as: UTF8.self)
        #expect(text == #"{"error":{"code":"invalid_value","message":"'limit' must be an integer from 1 to 200","param":"limit","type":"invalid_request_error"}}"#)
        #expect((0..<20).allSatisfy { _ in error.body == Array(text.utf8) })
    }

    @Test func nonStreamingAnswerIsOneChatCompletion() async throws {
        let backend = ScriptedCompletions(script: ScriptedCompletions.answer(["Hel", "lo", " \"wo\nrld\""]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"temperature":0,"seed":-1,"stop":"x","max_tokens":5,"response_format":{"type":"text"},"frequency_penalty":0.5,"presence_penalty":-0.25,"logit_bias":{"13":-100,"42":7.5},"top_k":-1,"min_p":0.05,"repetition_penalty":1.1}"#))
            #expect(response.status == .ok)
            let requestID = try #require(response.headers[.requestID])
            #expect(requestID.hasPrefix("chatcmpl-"))
            #expect(response.headers[.conversationID] == "conv-1")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            #expect(object["id"] as? String == requestID)
            #expect(object["object"] as? String == "chat.completion")
            #expect(object["model"] as? String == "synthetic")
            let choice = try #require((object["choices"] as? [[String: Any]])?.first)
            #expect((choice["message"] as? [String: Any])?["content"] as? String == "Hello \"wo\nrld\"")
            #expect(choice["finish_reason"] as? String == "stop")
            let usage = try #require(object["usage"] as? [String: Any])
            #expect(usage["total_tokens"] as? Int == 10)
            #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 0)
        }
        let sent = try #require(backend.record.withLock { $0.requests.first })
        #expect(sent.userID == "alice")
        #expect(
            sent.sampling
                == SamplingOptions(
                    temperature: 0, maxTokens: 5, seed: UInt64.max, stop: ["x"], frequencyPenalty: 0.5, presencePenalty: -0.25,
                    logitBias: [13: -100, 42: 7.5], topK: 0, minP: 0.05, repetitionPenalty: 1.1))
        #expect(sent.store)
    }

    @Test func streamingAnswerIsSSEWithIDsAndDone() async throws {
        let app = try await makeTestApplication()
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}"#))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = SSETestParser.parse(String(buffer: response.body))
            #expect(events.map(\.id) == ["0", "1", "2", "3", nil, nil, nil])
            #expect(events.last?.data == "[DONE]")
            let chunks = events.dropLast().map { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
            #expect(chunks.allSatisfy { $0?["object"] as? String == "chat.completion.chunk" })
            let text = chunks.compactMap { (($0?["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String }.joined()
            #expect(text == "Hello!")
            #expect((chunks[4]?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
            #expect(chunks[0]?.keys.contains("usage") == true)
            let usage = try #require(chunks[5]?["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 3)
            #expect((chunks[5]?["choices"] as? [Any])?.isEmpty == true)
        }
    }

    /// `logprobs` reaches the completion as the number of alternatives; each token's logprobs go out
    /// in its chunk as OpenAI's `{"content":[…],"refusal":null}`, and the whole answer's in one
    /// object; without `logprobs` every choice has `"logprobs": null`.
    @Test func logprobsGoOutWithTheirTokens() async throws {
        let hello = TokenLogprob(
            bytes: Array("Hel".utf8), logprob: -0.25, top: [TokenLogprob(bytes: Array("Hel".utf8), logprob: -0.25),
                                                            TokenLogprob(bytes: [0xE2, 0x82], logprob: -2)])
        let lo = TokenLogprob(bytes: Array("lo".utf8), logprob: -0.5, top: [TokenLogprob(bytes: Array("lo".utf8), logprob: -0.5)])
        let backend = ScriptedCompletions { _ in
            [.event(.started(conversationID: nil, userMessageID: nil, assistantMessageID: nil)),
             .event(.token(index: 0, text: "Hel", logprobs: [hello])), .event(.token(index: 1, text: "lo", logprobs: [lo])),
             .event(.token(index: 2, text: "", logprobs: [])),
             .event(.finished(.stop, TokenUsage(promptTokens: 3, completionTokens: 3)))]
        }
        @Sendable func logprobs(_ choice: [String: Any]?) -> [[String: Any]]? {
            (choice?["logprobs"] as? [String: Any])?["content"] as? [[String: Any]]
        }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let streamed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"stream":true,"logprobs":true,"top_logprobs":2}"#))
            let chunks = SSETestParser.parse(String(buffer: streamed.body)).dropLast().map {
                ((try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any])?["choices"] as? [[String: Any]])?.first
            }
            #expect(chunks.count == 5)
            #expect(chunks[0]?["logprobs"] is NSNull)
            let first = try #require(logprobs(chunks[1])?.first)
            #expect(first["token"] as? String == "Hel")
            #expect(first["logprob"] as? Double == -0.25)
            #expect(first["bytes"] as? [Int] == [72, 101, 108])
            let top = try #require(first["top_logprobs"] as? [[String: Any]])
            #expect(top.map { $0["token"] as? String } == ["Hel", "\u{FFFD}"])
            #expect(top[1]["bytes"] as? [Int] == [0xE2, 0x82])
            #expect(top[1].keys.sorted() == ["bytes", "logprob", "token"])
            #expect(logprobs(chunks[2])?.first?["token"] as? String == "lo")
            #expect(logprobs(chunks[3])?.isEmpty == true)
            #expect(chunks[4]?["logprobs"] is NSNull)

            let whole = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"logprobs":true}"#))
            let object = try JSONSerialization.jsonObject(with: Data(whole.body.readableBytesView)) as? [String: Any]
            let choice = (object?["choices"] as? [[String: Any]])?.first
            #expect(logprobs(choice)?.map { $0["token"] as? String } == ["Hel", "lo"])
            #expect((choice?["logprobs"] as? [String: Any])?["refusal"] is NSNull)

            let plain = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"logprobs":false}"#))
            let plainObject = try JSONSerialization.jsonObject(with: Data(plain.body.readableBytesView)) as? [String: Any]
            #expect((plainObject?["choices"] as? [[String: Any]])?.first?["logprobs"] is NSNull)
        }
        #expect(backend.record.withLock { $0.requests.map(\.sampling.logprobs) } == [2, 0, nil])
    }

    /// How far the model has read a long prompt goes out as SSE comments before the first token
    /// (clients that do not know them skip them); a non-streaming answer leaves them out.
    @Test func promptProgressIsSentAsCommentsBeforeTheFirstToken() async throws {
        let backend = ScriptedCompletions { _ in
            [.event(.started(conversationID: nil, userMessageID: nil, assistantMessageID: nil)),
             .event(.prompt(computed: 512, of: 1_300)), .event(.prompt(computed: 1_024, of: 1_300)),
             .event(.token(index: 0, text: "Hi")), .event(.finished(.stop, TokenUsage(promptTokens: 1_300, completionTokens: 1)))]
        }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let streamed = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}],"stream":true}"#))
            let text = String(buffer: streamed.body)
            // Each a lone comment line between events: no blank line, which would dispatch an empty event.
            let first = try #require(text.range(of: "\n\n: prompt 512/1300\n"))
            let second = try #require(text.range(of: ": prompt 1024/1300\nid: 1\n"))
            let token = try #require(text.range(of: "\"Hi\""))
            #expect(first.upperBound <= second.lowerBound && second.upperBound <= token.lowerBound)
            #expect(SSETestParser.parse(text).map(\.id) == ["0", "1", nil, nil])

            let whole = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"synthetic","messages":[{"role":"user","content":"hi"}]}"#))
            #expect(whole.status == .ok)
            #expect(String(buffer: whole.body).contains(#""content":"Hi""#))
        }
    }

    @Test func heartbeatsFlowWhileWaitingForATokenAndTheFirstComesWithTheHead() async throws {
        // The completion sends `started` together with the first token; the gateway writes both in
        // the answer's first write.
        let (gate, open) = AsyncStream<Void>.makeStream()
        let backend = ScriptedCompletions(script: ScriptedCompletions.pausing("early", then: "late", until: gate))
        let app = try await makeTestApplication(completions: backend) { $0.streaming.heartbeatInterval = .milliseconds(20) }
        try await app.test(.live) { client in
            let response = try await HTTPClient.shared.execute(streamingChat(port: try #require(client.port)), timeout: .seconds(30))
            var text = ""
            var opened = false
            var first: String?
            for try await chunk in response.body {
                text += String(buffer: chunk)
                first = first ?? text
                // The second token is held back until a heartbeat has arrived.
                if !opened, text.contains("\n\n: keep-alive\n") {
                    #expect(!text.contains("late"))
                    opened = true
                    open.yield()
                }
            }
            #expect(opened)
            #expect(first?.contains("\"role\"") == true && first?.contains("early") == true)
            #expect(text.contains("late"))
            #expect(text.hasSuffix("data: [DONE]\n\n"))
        }
    }

    /// A connection that sends nothing (an idle keep-alive, a request that never comes) is closed
    /// after the idle timeout; an answer that pauses for longer than that is not cut.
    @Test func anIdleConnectionIsClosedButAPausingAnswerIsNot() async throws {
        let (gate, open) = AsyncStream<Void>.makeStream()
        let backend = ScriptedCompletions(script: ScriptedCompletions.pausing("before", then: "after", until: gate))
        let app = try await makeTestApplication(completions: backend) {
            $0.idleTimeout = .milliseconds(300)
            $0.streaming.heartbeatInterval = .seconds(30)  // nothing else flows during the pause
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let silent = try #require(try secondsUntilClosed(port: port, sending: "", waitingAtMost: 5))
            #expect(silent >= 0.25 && silent < 3, "closed after \(silent) s")
            let trickle = try #require(try secondsUntilClosed(port: port, sending: "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", waitingAtMost: 5))
            #expect(trickle < 3, "a request that stopped half-way was closed after \(trickle) s")

            let response = try await HTTPClient.shared.execute(streamingChat(port: port), timeout: .seconds(30))
            var text = ""
            var paused = false
            for try await chunk in response.body {
                text += String(buffer: chunk)
                if !paused, text.contains("before") {
                    paused = true
                    try await Task.sleep(for: .milliseconds(900))  // three idle timeouts
                    open.yield()
                }
            }
            #expect(text.contains("after"))
            #expect(text.hasSuffix("data: [DONE]\n\n"))
        }
    }

    /// `Expect: 100-continue` (curl sends it with bodies over 1 MB) is answered before the body, so
    /// the client does not wait out its own timeout before sending it.
    @Test func aClientExpectingContinueGetsItBeforeSendingTheBody() async throws {
        let app = try await makeTestApplication()
        try await app.test(.live) { client in
            let body = #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#
            let connection = try RawConnection(port: try #require(client.port))
            try connection.send(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(testKey)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
            let interim = try connection.receive(until: "\r\n\r\n")
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue\r\n"), "\(interim)")
            try connection.send(body)
            let answer = try connection.receive(until: "Hello!")
            #expect(answer.contains("HTTP/1.1 200 OK"))
        }
    }

    @Test func rateLimitedIs429WithRetryAfter() async throws {
        let backend = ScriptedCompletions { _ in
            [.fail(ServingError(ServingError.rateLimited, "60 requests per minute", retryAfterSeconds: 12.2))]
        }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#))
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] == "13")
            #expect(response.headers[.rateLimitRemaining] == "0")
            #expect(response.headers[.rateLimitReset] == "13s")
            #expect(try errorBody(response).type == "rate_limit_error")
            #expect(response.headers[.requestID]?.hasPrefix("chatcmpl-") == true)
        }
    }

    @Test func aRefusalByAnotherLimitDoesNotClaimNoRequestsRemain() {
        let atOnce = OpenAIError.fromCode(
            ServingError.rateLimited,
            message: "rate limit reached: too many answers at once for this user; retry when one has finished (limit 60 requests per minute)",
            retryAfter: 1)
        #expect(atOnce.status == .tooManyRequests)
        #expect(atOnce.headers[.rateLimitRemaining] == nil)
        #expect(atOnce.headers[.rateLimitLimit] == "60")
        let window = OpenAIError.fromCode(
            ServingError.rateLimited,
            message: "rate limit reached: too many requests this minute for this user (limit 60 requests per minute)",
            retryAfter: 30)
        #expect(window.headers[.rateLimitRemaining] == "0")
        #expect(window.headers[.rateLimitReset] == "30s")
    }

    @Test(arguments: [
        (ClusterErrorCase.remoteRateLimited, 429, "7" as String?),
        (.overloaded, 503, "3"),
        (.nodeDown, 503, "1"),
        (.modelNotFound, 404, nil),
    ])
    func clusterErrorsMapToStatuses(error: ClusterErrorCase, status: Int, retryAfter: String?) async throws {
        let backend = ScriptedCompletions { _ in [.fail(error.error)] }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#))
            #expect(response.status.code == status)
            #expect(response.headers[.retryAfter] == retryAfter)
        }
    }

    @Test func errorMidStreamIsAnErrorEvent() async throws {
        let backend = ScriptedCompletions { _ in
            [.event(.started(conversationID: nil, userMessageID: nil, assistantMessageID: nil)),
             .event(.token(index: 0, text: "a")), .fail(ServingError(ServingError.noBackend, "all model nodes gone"))]
        }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#))
            let events = SSETestParser.parse(String(buffer: response.body))
            #expect(events.last?.data.contains(#""code":"no_backend""#) == true)
            #expect(!events.contains { $0.data == "[DONE]" })
        }
    }

    @Test func cancelReachesTheBackendWithTheUser() async throws {
        let backend = ScriptedCompletions(script: ScriptedCompletions.answer([]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let ok = try await client.execute(uri: "/v1/chat/completions/chatcmpl-abc/cancel", method: .post, headers: .auth(otherKey))
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body).contains(#""cancelled":true"#))
            let missing = try await client.execute(uri: "/v1/chat/completions/other/cancel", method: .post, headers: .auth())
            #expect(missing.status == .notFound)
        }
        #expect(backend.record.withLock { $0.cancels.map(\.1) } == ["bob", "alice"])
    }
}

/// Cluster errors as they arrive from remote calls.
enum ClusterErrorCase: String, CaseIterable, CustomTestStringConvertible {
    case remoteRateLimited, overloaded, nodeDown, modelNotFound
    var testDescription: String { rawValue }
    var error: any Error {
        switch self {
        case .remoteRateLimited:
            ClusterError(ClusterError.Code(rawValue: "rate_limited"), "limit (retry after 7 s)", remoteType: "ServingError")
        case .overloaded:
            ClusterError(ClusterError.Code(rawValue: "overloaded"), "queue full (retry after 3 s)", remoteType: "ServingError")
        case .nodeDown:
            ClusterError(.nodeDown, "gone")
        case .modelNotFound:
            ClusterError(ClusterError.Code(rawValue: "model_not_found"), "no model x", remoteType: "ServingError")
        }
    }
}

/// A minimal SSE parser for tests (one `data:` line per event).
enum SSETestParser {
    struct Event: Equatable {
        var id: String?
        var data: String
    }

    static func parse(_ text: String) -> [Event] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: String?
            var data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return data.map { Event(id: id, data: $0) }
        }
    }
}

import ParleyCluster

/// Opens a TCP connection to 127.0.0.1:`port`, sends `text`, and answers how many seconds passed
/// until the server closed it (nil when it was still open after `limit` seconds).
func secondsUntilClosed(port: Int, sending text: String, waitingAtMost limit: Int) throws -> Double? {
    let connection = try RawConnection(port: port, timeoutSeconds: limit)
    let start = ContinuousClock.now
    if !text.isEmpty { try connection.send(text) }
    guard connection.readUntilClosed() else { return nil }
    let elapsed = start.duration(to: .now).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
}

/// A streaming chat request ("hi") with the test key, for a gateway on 127.0.0.1:`port`.
func streamingChat(port: Int) -> HTTPClientRequest {
    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/chat/completions")
    request.method = .POST
    request.headers.add(name: "Authorization", value: "Bearer \(testKey)")
    request.body = .bytes(ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}"#))
    return request
}

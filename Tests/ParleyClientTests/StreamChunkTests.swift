import Testing

@testable import ParleyClient

/// The client reads a chunk's content, finish reason and usage, whatever else the server sends;
/// a field it reads with the wrong type, or a chunk that is not a JSON object, is an error.
@Suite("Stream chunks")
struct StreamChunkTests {
    @Test func readsContentFinishReasonAndUsage() throws {
        let token = try StreamChunk(json: #"""
            {"id":"chatcmpl-1","object":"chat.completion.chunk","created":0,"model":"m",
             "choices":[{"index":0,"delta":{"content":"h\u00e9 \"x\""},"finish_reason":null,"logprobs":null}]}
            """#)
        #expect(token.choices.count == 1)
        #expect(token.choices[0].content == #"hé "x""#)
        #expect(token.choices[0].finishReason == nil)
        #expect(token.usage == nil)

        let finish = try StreamChunk(json: #"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#)
        #expect(finish.choices[0].content == nil)
        #expect(finish.choices[0].finishReason == "length")

        let usage = try StreamChunk(json: #"""
            {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,
             "prompt_tokens_details":{"cached_tokens":9}}}
            """#)
        #expect(usage.choices.isEmpty)
        #expect(usage.usage == TokenCounts(promptTokens: 12, completionTokens: 3, totalTokens: 15))
    }

    /// A delta's tool calls: the first piece of a call with its id and name, later ones with more
    /// of the arguments; a piece without its index is an error.
    @Test func readsToolCallDeltas() throws {
        let chunk = try StreamChunk(json: #"""
            {"choices":[{"index":0,"delta":{"tool_calls":[
              {"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}},
              {"index":1,"function":{"arguments":"{\"city\""}}]},"finish_reason":null}]}
            """#)
        #expect(
            chunk.choices[0].toolCalls == [
                ChatToolCallDelta(index: 0, id: "call_1", name: "get_weather", arguments: ""),
                ChatToolCallDelta(index: 1, id: nil, name: nil, arguments: #"{"city""#),
            ])
        #expect(throws: StreamChunk.Malformed.self) {
            try StreamChunk(json: #"{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"x"}}]}}]}"#)
        }
    }

    /// A choice's logprobs items, with their alternatives; a server that leaves the bytes out gets
    /// the token's UTF-8; an item without a token or number is skipped; null is none.
    @Test func readsLogprobs() throws {
        let chunk = try StreamChunk(json: #"""
            {"choices":[{"delta":{"content":" é"},"finish_reason":null,"logprobs":{"content":[
              {"token":" �","logprob":-0.25,"bytes":[32,195],"top_logprobs":[
                {"token":" �","logprob":-0.25,"bytes":[32,195]},{"token":"x","logprob":-3,"top_logprobs":[{"token":"y","logprob":-4}]}]},
              {"token":"�","logprob":-0.5,"bytes":[169],"top_logprobs":[]},
              {"token":"broken"}],"refusal":null}}]}
            """#)
        let items = try #require(chunk.choices.first?.logprobs)
        #expect(items.count == 2)
        #expect(items[0] == ChatTokenLogprob(
            token: " \u{FFFD}", logprob: -0.25, bytes: [32, 195],
            top: [ChatTokenLogprob(token: " \u{FFFD}", logprob: -0.25, bytes: [32, 195]), ChatTokenLogprob(token: "x", logprob: -3, bytes: [120])]))
        #expect(String(decoding: items.flatMap(\.bytes), as: UTF8.self) == " é")
        let none = try StreamChunk(json: #"{"choices":[{"delta":{"content":"a"},"logprobs":null}]}"#)
        #expect(none.choices[0].logprobs == nil)
    }

    @Test func missingOrNullFieldsAreAbsent() throws {
        let chunk = try StreamChunk(json: #"{"choices":null,"usage":null}"#)
        #expect(chunk.choices.isEmpty && chunk.usage == nil)
        let bare = try StreamChunk(json: #"{"choices":[{"delta":null}]}"#)
        #expect(bare.choices.count == 1 && bare.choices[0].content == nil)
    }

    @Test(arguments: [
        "", "not json", "[]", #""text""#, #"{"choices":{}}"#, #"{"choices":[1]}"#,
        #"{"choices":[{"delta":{"content":7}}]}"#, #"{"choices":[{"finish_reason":true}]}"#,
        #"{"usage":{"prompt_tokens":1,"completion_tokens":2}}"#, #"{"usage":{"prompt_tokens":1.5,"completion_tokens":2,"total_tokens":3}}"#,
        #"{"choices":[]} trailing"#,
    ])
    func malformedChunksThrow(_ json: String) {
        #expect(throws: StreamChunk.Malformed.self) { try StreamChunk(json: json) }
    }
}

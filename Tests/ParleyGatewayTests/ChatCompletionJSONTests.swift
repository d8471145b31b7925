import Foundation
import ParleyJSON
@testable import ParleyGateway
import ParleyProtocol
import Testing

@Suite("Chunk JSON and SSE framing")
struct ChatCompletionJSONTests {
    @Test(arguments: ["plain", "quote \" backslash \\ slash /", "new\nline\ttab\r", "\u{0}\u{1F}\u{7F}", "emoji 🦜 é", "\u{2028}\u{2029}"])
    func quotedStringsRoundTripThroughJSON(text: String) throws {
        let json = "[" + JSON.quote(text) + "]"
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
        #expect(decoded == [text])
        #expect(!json.contains("\n"))
    }

    @Test func chunksAreValidOpenAIObjects() throws {
        let json = ChatCompletionJSON(id: "chatcmpl-1", model: "m\"x", created: 1_700_000_000, includeUsage: true)
        for text in [json.roleChunk(), json.contentChunk("a\"b"), json.finishChunk("length"),
                     json.usageChunk(TokenUsage(promptTokens: 2, completionTokens: 3)),
                     json.completion(text: "hi", finishReason: "stop", usage: TokenUsage(promptTokens: 1, completionTokens: 1))] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            #expect(object["id"] as? String == "chatcmpl-1")
            #expect(object["model"] as? String == "m\"x")
            #expect(object["created"] as? Int == 1_700_000_000)
            #expect(object.keys.contains("usage"))
        }
        let plain = ChatCompletionJSON(id: "i", model: "m", created: 0, includeUsage: false)
        let chunk = try #require(try JSONSerialization.jsonObject(with: Data(plain.contentChunk("x").utf8)) as? [String: Any])
        #expect(!chunk.keys.contains("usage"))
    }

    @Test func sseFraming() {
        #expect(SSE.event(id: 3, data: "{}") == "id: 3\ndata: {}\n\n")
        #expect(SSE.event(id: nil, data: "{}") == "data: {}\n\n")
        #expect(SSE.heartbeat.hasPrefix(":"))
        #expect(SSE.done == "data: [DONE]\n\n")
    }
}

import Foundation
import ParleyProtocol
import ParleyToolCalls
import Testing

@testable import ParleyModelAPI

/// Tools through an OpenAI-compatible upstream: offered in OpenAI's form, its streamed calls become
/// markup in the answer, and calls and results in the chat go back up as `tool_calls` and `tool` messages.
@Suite("Upstream backend with tools", .serialized, .timeLimit(.minutes(1)))
struct UpstreamToolCallTests {
    static let tools = ToolOptions(
        tools: [
            ToolDefinition(name: "get_weather", description: "Weather", parameters: #"{"type":"object"}"#, strict: true),
            ToolDefinition(name: "now"),
        ],
        choice: .function("get_weather"), parallelCalls: false)

    static func request(_ messages: [ChatMessage]) -> ModelRequest {
        ModelRequest(
            requestID: "up-tools", userID: "u", model: "fake-model", messages: messages,
            sampling: SamplingOptions(tools: tools))
    }

    @Test func streamedCallsBecomeMarkupThatReadsBackAsTheCalls() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            let events = try await UpstreamBackendTests.collect(
                backend, Self.request([ChatMessage(role: "user", content: "Weather?")]))
            await backend.shutdown()
            var text = ""
            for case .token(_, let piece, _) in events { text += piece }
            #expect(events.last.map { if case .finished(.stop, _) = $0 { true } else { false } } == true)
            let parts = ToolCallExtractor.blocks(of: text)
            #expect(parts.count == 3, "\(text)")
            guard parts.count == 3, case .content(let echoed) = parts[0] else { return }
            #expect(
                echoed
                    == #"{"parallel_tool_calls": false, "tool_choice": {"function": {"name": "get_weather"}, "type": "function"}, "tools": [["get_weather", {"type": "object"}], ["now", null]]}"#
            )
            #expect(
                Array(parts.dropFirst()) == [
                    .call(ToolCall(name: "get_weather", arguments: #"{"city": "Paris"}"#)),
                    .call(ToolCall(name: "get_weather", arguments: "{}")),
                ])
        }
    }

    @Test func callsAndResultsInTheChatGoUpInOpenAIsForm() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            let client = ToolCallMarkup.text(of: ToolCall(id: "call_a", name: "get_weather", arguments: #"{"city":"Rome"}"#))
            let model = ToolCallMarkup.text(of: ToolCall(name: "now", arguments: "{}"))
            let messages = [
                ChatMessage(role: "user", content: "Weather?"),
                ChatMessage(role: "assistant", content: "Checking.\n" + client),
                ChatMessage(role: "tool", content: "sunny", toolCallID: "call_a"),
                ChatMessage(role: "assistant", content: model),
                ChatMessage(role: "tool", content: "noon"),
            ]
            let events = try await UpstreamBackendTests.collect(backend, Self.request(messages))
            await backend.shutdown()
            guard case .token(_, let text, _) = events.first else {
                Issue.record("no token: \(events)")
                return
            }
            let seen = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]
            let expected: [[String: Any]] = [
                ["role": "user", "content": "Weather?"],
                [
                    "role": "assistant", "content": "Checking.\n",
                    "tool_calls": [
                        ["id": "call_a", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Rome"}"#]]
                    ],
                ],
                ["role": "tool", "content": "sunny", "tool_call_id": "call_a"],
                [
                    "role": "assistant",
                    "tool_calls": [["id": "call_m3_0", "type": "function", "function": ["name": "now", "arguments": "{}"]]],
                ],
                ["role": "tool", "content": "noon", "tool_call_id": "call_m3_0"],
            ]
            #expect(seen.map { NSArray(array: $0) } == NSArray(array: expected), "\(text)")
        }
    }
}

/// Reasoning an upstream streams apart from the answer (`reasoning_content`, `reasoning`) comes
/// inline, as reasoning models write it, and does not go back up with the history.
@Suite("Upstream backend with reasoning", .serialized, .timeLimit(.minutes(1)))
struct UpstreamReasoningTests {
    @Test func reasoningComesInlineAndStaysOutOfTheHistorySentUp() async throws {
        try await withFakeUpstream { url in
            let backend = try await UpstreamBackend.connect(.init(baseURL: url))
            let history = [
                ChatMessage(role: "user", content: "2+2?"),
                ChatMessage(role: "assistant", content: "\n<think>It is 4.</think>\n\nFour."),
                ChatMessage(role: "user", content: "3+3?"),
                ChatMessage(role: "assistant", content: "Six, no <think> here </think>"),
                ChatMessage(role: "user", content: "Think first"),
            ]
            let events = try await UpstreamBackendTests.collect(
                backend, ModelRequest(requestID: "up-think", userID: "u", model: "fake-model", messages: history))
            await backend.shutdown()
            var pieces: [String] = []
            for case .token(_, let piece, _) in events { pieces.append(piece) }
            #expect(
                pieces.joined()
                    == #"<think>Let me think. More.</think>"# + "\n\n" + #"["Four.", "Six, no <think> here </think>"] Done."#)
            // Every reasoning piece is a token of its own, as it arrived.
            #expect(pieces.prefix(3) == ["<think>Let me", " think.", " More."])
        }
    }

    /// An empty `reasoning_content` beside a `reasoning` text, and a `reasoning` that is not a
    /// string, as proxies send them: the text is read, the object passed over.
    @Test func reasoningFieldsAreReadLeniently() throws {
        func delta(_ json: String) throws -> UpstreamChunk.Choice.Delta? {
            try JSONDecoder().decode(UpstreamChunk.self, from: Data(json.utf8)).choices?.first?.delta
        }
        #expect(try delta(#"{"choices":[{"delta":{"reasoning_content":"","reasoning":"hm"}}]}"#)?.reasoning == "hm")
        #expect(try delta(#"{"choices":[{"delta":{"reasoning":{"summary":"x"},"content":"a"}}]}"#)?.content == "a")
        #expect(try delta(#"{"choices":[{"delta":{"reasoning_content":"r"}}]}"#)?.reasoning == "r")
    }

    @Test func anAnswerCutOffWhileReasoningStillClosesIt() {
        var text = UpstreamReasoningText()
        #expect(text.text("a") + text.text("b") + text.close() + text.close() == "<think>ab</think>")
        #expect(UpstreamReasoningText.withoutLeadingReasoning("<think>unfinished") == "")
        #expect(UpstreamReasoningText.withoutLeadingReasoning(" <think>x</think> y") == "y")
    }
}

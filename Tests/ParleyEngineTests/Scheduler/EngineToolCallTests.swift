import Foundation
import ParleyJSON
import ParleyStructuredOutput
import ParleyToolCalls
import Testing

@testable import ParleyEngine

/// Tool calls on the real model: the answer's calls fit their tools whatever the model would rather say.
@Suite(.serialized, .enabled(if: ReferenceModel.path != nil))
struct EngineToolCallTests {
    static let weather = #"{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}"#

    static func tools() throws -> [ToolCallGrammar.Tool] {
        [
            ToolCallGrammar.Tool(name: "get_weather", arguments: try OutputSchema.compile(JSONParser.parse(weather.utf8))),
            ToolCallGrammar.Tool(name: "get_time", arguments: .object(properties: [:], required: [], open: false)),
        ]
    }

    static func prompt(_ engine: Engine) -> [ChatTurn] {
        ToolPrompt.turns(
            [("user", "What is the weather in Paris?")],
            tools: [
                ToolPrompt.Tool(name: "get_weather", description: "Current weather of a city", parameters: weather),
                ToolPrompt.Tool(name: "get_time", description: "The time now"),
            ],
            defaultSystem: engine.defaultSystemMessage
        ).map { ChatTurn(role: $0.role, content: $0.content) }
    }

    /// The answer's calls, checked against the tools' schemas.
    static func calls(in text: String) throws -> [ToolCall] {
        var calls: [ToolCall] = []
        for block in ToolCallExtractor.blocks(of: text) {
            guard case .call(let call) = block else { continue }
            let arguments = try #require(
                try JSONSerialization.jsonObject(with: Data(call.arguments.utf8)) as? [String: Any], "\(text)")
            switch call.name {
            case "get_weather":
                #expect(Set(arguments.keys) == ["city", "unit"], "\(text)")
                #expect(arguments["city"] is String, "\(text)")
                #expect(["celsius", "fahrenheit"].contains(arguments["unit"] as? String ?? ""), "\(text)")
            case "get_time":
                #expect(arguments.isEmpty, "\(text)")
            default:
                Issue.record("unknown tool in \(text)")
            }
            calls.append(call)
        }
        return calls
    }

    @Test func requiredCallsFitTheirTools() async throws {
        let engine = try EngineTests.engine(.init(contextLength: 1024))
        defer { engine.shutdown() }
        for (sampling, parallel) in [(SamplingParameters.greedy, false), (SamplingParameters(temperature: 1, seed: 9), true)] {
            let grammar = ToolCallGrammar(tools: try Self.tools(), mode: .required, parallel: parallel)
            let outcome = try await EngineTests.collect(
                engine.generate(
                    .init(prompt: .chat(Self.prompt(engine)), sampling: sampling, maxTokens: 300, format: .toolCalls(grammar))))
            #expect(outcome.summary?.finishReason == .stop, "\(outcome.text)")
            #expect(outcome.text.hasPrefix(ToolCallMarkup.open), "\(outcome.text)")
            let calls = try Self.calls(in: outcome.text)
            #expect(parallel ? !calls.isEmpty : calls.count == 1, "\(outcome.text)")
        }
    }

    @Test func anAutoAnswerThatOpensACallFinishesIt() async throws {
        let engine = try EngineTests.engine(.init(contextLength: 1024))
        defer { engine.shutdown() }
        // The answer so far opened a call (as a resumed answer would have): the rest must be one.
        let opened = "Let me check.\n" + ToolCallMarkup.open + "\n{\"name\": \""
        let prompt = try engine.promptTokens(.chat(Self.prompt(engine)))
        let answer = engine.tokenizer.encode(opened, parseSpecial: false)
        let grammar = ToolCallGrammar(tools: try Self.tools(), mode: .auto, parallel: false)
        let outcome = try await EngineTests.collect(
            engine.generate(
                .init(
                    prompt: .tokens(prompt + answer), sampling: .greedy, maxTokens: 200, answerPrefixLength: answer.count,
                    format: .toolCalls(grammar))))
        #expect(outcome.summary?.finishReason == .stop, "\(outcome.text)")
        #expect(try Self.calls(in: opened + outcome.text).count == 1, "\(opened + outcome.text)")
    }
}

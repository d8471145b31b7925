import ArgumentParser
import Foundation
import ParleyEngine
import ParleyJSON
import ParleyStructuredOutput
import ParleyToolCalls

/// `parley generate`: runs the built-in engine alone on one prompt and streams the answer.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with the built-in engine.",
        discussion: """
            The prompt is one user message put through the model's chat template, or with --raw the
            exact text with special tokens such as <|im_start|> recognised. Text streams to standard
            output and timings go to standard error. With --json the output is one object:
            {"prompt_ids", "ids", "text", "finish_reason", "timings": {"prefill_tokens_per_s",
            "decode_tokens_per_s", "time_to_first_token_ms"}}, plus with --logprobs N "logprobs": one
            {"id", "token", "logprob", "top": [{"id", "token", "logprob"}]} per generated token (without
            --json they follow the answer on standard error, one token a line). --format json-object
            makes the answer one JSON object (JSON mode); --schema FILE one that follows the JSON
            schema in FILE (structured outputs). --tools FILE (OpenAI's tools array) lists the tools in
            the system message and holds the calls the model writes to them; --tool-choice required
            (or a tool's name) makes the answer one call; with --json the output adds "tool_calls":
            [{"name", "arguments"}].
            """
    )

    @Option(name: .long, help: "A known model name (smollm2, gemma3-270m) or the path of a GGUF file.")
    var model: String = "smollm2"

    @Option(name: .long, help: "The prompt text.")
    var prompt: String

    @Flag(name: .long, help: "Use the prompt as exact text instead of a chat message.")
    var raw = false

    @Option(name: .customLong("max-tokens"), help: "The most tokens to generate.")
    var maxTokens: Int = 256

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .long, help: "Random seed for reproducible sampling (default: random).")
    var seed: UInt64?

    @Option(name: .customLong("frequency-penalty"), help: "Lowers a token's logit by this much per time the answer holds it (OpenAI's frequency_penalty).")
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("presence-penalty"), help: "Lowers a token's logit by this much once the answer holds it (OpenAI's presence_penalty).")
    var presencePenalty: Float = 0

    @Option(name: .long, help: "Compute threads (default: all CPUs).")
    var threads: Int?

    @Option(name: .long, help: "Report each token's log probability and this many likeliest alternatives (0-20).")
    var logprobs: Int?

    @Option(name: .long, help: "text, or json-object: the answer is one JSON object (JSON mode).")
    var format: AnswerFormat = .text

    @Option(name: .long, help: "A JSON schema file: the answer is a JSON value that follows it.")
    var schema: String?

    @Option(name: .customLong("tools"), help: "A JSON file of tools (OpenAI's tools array) the answer may call.")
    var toolsFile: String?

    @Option(name: .customLong("tool-choice"), help: "With --tools: auto, required, or the name of the tool to call.")
    var toolChoice: String = "auto"

    @Flag(name: .long, help: "Print one JSON object instead of streaming text.")
    var json = false

    enum AnswerFormat: String, ExpressibleByArgument {
        case text
        case jsonObject = "json-object"
    }

    /// One token's log probability in the output.
    struct Scored: Encodable {
        var id: Int32
        var token: String
        var logprob: Float
        var top: [Scored]?
    }

    struct Output: Encodable {
        struct Timings: Encodable {
            var prefillTokensPerSecond: Double
            var decodeTokensPerSecond: Double
            var timeToFirstTokenMilliseconds: Double

            enum CodingKeys: String, CodingKey {
                case prefillTokensPerSecond = "prefill_tokens_per_s"
                case decodeTokensPerSecond = "decode_tokens_per_s"
                case timeToFirstTokenMilliseconds = "time_to_first_token_ms"
            }
        }
        var promptIDs: [Int32]
        var ids: [Int32]
        var text: String
        var finishReason: String
        var timings: Timings
        var logprobs: [Scored]?
        var toolCalls: [CallOutput]?

        enum CodingKeys: String, CodingKey {
            case promptIDs = "prompt_ids"
            case toolCalls = "tool_calls"
            case ids, text, logprobs
            case finishReason = "finish_reason"
            case timings
        }
    }

    /// The answer's format from `--format` and `--schema`.
    func outputFormat() throws -> OutputFormat {
        guard let schema else { return format == .jsonObject ? .jsonObject : .text }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: schema))
        } catch {
            throw ValidationError("cannot read the schema file \(schema): \(error.localizedDescription)")
        }
        do {
            return .json(try OutputSchema.compile(try JSONParser.parse(bytes)))
        } catch let error as OutputSchemaError {
            throw ValidationError("\(schema): \(error.message)")
        } catch {
            throw ValidationError("\(schema) is not valid JSON")
        }
    }

    func run() async throws {
        let path = try ModelStore().resolve(model)
        let engine = try Engine(modelPath: path, configuration: .init(threadCount: threads, maxSequences: 1))
        defer { engine.shutdown() }
        let tools = try tools()
        if tools != nil, raw || schema != nil || format != .text {
            throw ValidationError("--tools cannot go with --raw, --schema or --format json-object")
        }
        var chat = [ChatTurn(role: "user", content: prompt)]
        var answerFormat = try outputFormat()
        if let tools {
            chat = ToolPrompt.turns([("user", prompt)], tools: tools.listed, defaultSystem: engine.defaultSystemMessage)
                .map { ChatTurn(role: $0.role, content: $0.content) }
            answerFormat = .toolCalls(ToolCallGrammar(tools: tools.callable, mode: tools.mode, parallel: false))
        }
        let request = GenerationRequest(
            prompt: raw ? .raw(prompt) : .chat(chat),
            sampling: SamplingParameters(
                temperature: temperature, frequencyPenalty: frequencyPenalty, presencePenalty: presencePenalty, seed: seed),
            maxTokens: maxTokens, logprobs: logprobs, format: answerFormat)
        var ids: [Int32] = []
        var scored: [Scored] = []
        var text = ""
        let progress = PromptProgressLine()
        for try await event in engine.generate(request) {
            switch event {
            case .prompt(let computed, let total):
                if !json { progress.show(computed: computed, of: total) }
            case .token(let token):
                progress.clear()
                ids.append(token.id)
                text += token.text
                if let logprobs = token.logprobs {
                    let piece = { (id: Int32) in engine.tokenizer.piece(id, renderSpecial: true) }
                    scored.append(
                        Scored(
                            id: token.id, token: piece(token.id), logprob: logprobs.logprob,
                            top: logprobs.top.map { Scored(id: $0.id, token: piece($0.id), logprob: $0.logprob) }))
                }
                if !json {
                    FileHandle.standardOutput.write(Data(token.text.utf8))
                }
            case .finished(let summary):
                let t = summary.timings
                let ttft = Double(t.timeToFirstToken.components.seconds) * 1000
                    + Double(t.timeToFirstToken.components.attoseconds) * 1e-15
                if json {
                    let output = Output(
                        promptIDs: summary.promptTokens, ids: ids, text: text,
                        finishReason: summary.finishReason.rawValue,
                        timings: .init(
                            prefillTokensPerSecond: t.prefillTokensPerSecond,
                            decodeTokensPerSecond: t.decodeTokensPerSecond, timeToFirstTokenMilliseconds: ttft),
                        logprobs: logprobs == nil ? nil : scored, toolCalls: tools == nil ? nil : Self.calls(in: text))
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(output), as: UTF8.self))
                } else {
                    FileHandle.standardOutput.write(Data("\n".utf8))
                    let line = String(
                        format: "[%d prompt tokens, %d generated, %@; prefill %.1f tok/s, decode %.1f tok/s, first token %.0f ms]\n",
                        summary.promptTokens.count, summary.completionTokenCount, summary.finishReason.rawValue,
                        t.prefillTokensPerSecond, t.decodeTokensPerSecond, ttft)
                    FileHandle.standardError.write(Data(line.utf8))
                    for item in scored {
                        let top = (item.top ?? []).map { String(format: "%@ %.3f", $0.token.debugDescription, $0.logprob) }
                        let row = String(format: "%@\t%.3f\t%@\n", item.token.debugDescription, item.logprob, top.joined(separator: "  "))
                        FileHandle.standardError.write(Data(row.utf8))
                    }
                }
            }
        }
    }
}

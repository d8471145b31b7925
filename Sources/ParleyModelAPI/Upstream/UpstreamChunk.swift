import Foundation
import ParleyJSON
import ParleyProtocol

/// The parts of an OpenAI `chat.completion.chunk` (or an error object) that the upstream backend reads.
struct UpstreamChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            /// A piece of a tool call: the call's first delta has its id and name.
            struct ToolCallDelta: Decodable {
                struct Function: Decodable {
                    var name: String?
                    var arguments: String?
                }

                var index: Int?
                var function: Function?
            }

            var content: String?
            var toolCalls: [ToolCallDelta]?
            /// Reasoning apart from the answer: the first non-empty text of `reasoning_content`
            /// (DeepSeek, llama.cpp) and `reasoning` (vLLM, OpenRouter); a field of another type
            /// (a proxy's own reasoning object) is passed over, not an error.
            var reasoning: String?

            enum CodingKeys: String, CodingKey {
                case content, reasoning
                case toolCalls = "tool_calls"
                case reasoningContent = "reasoning_content"
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                content = try container.decodeIfPresent(String.self, forKey: .content)
                toolCalls = try container.decodeIfPresent([ToolCallDelta].self, forKey: .toolCalls)
                let pieces = [CodingKeys.reasoningContent, .reasoning].map {
                    (try? container.decodeIfPresent(String.self, forKey: $0)) ?? nil
                }
                reasoning = pieces.compactMap { $0 }.first { !$0.isEmpty }
            }
        }

        /// OpenAI's `logprobs` of a choice: one item per token the chunk covers.
        struct Logprobs: Decodable {
            var content: [Item]?
        }

        /// One token's (or one alternative's) log probability.
        struct Item: Decodable {
            var token: String
            var logprob: Double
            /// The token's bytes; servers that leave them out are taken at the token's UTF-8.
            var bytes: [UInt8]?
            var topLogprobs: [Item]?

            enum CodingKeys: String, CodingKey {
                case token, logprob, bytes
                case topLogprobs = "top_logprobs"
            }

            /// Parley's form; alternatives of alternatives are dropped.
            func logprob(nested: Bool = false) -> TokenLogprob {
                TokenLogprob(
                    bytes: bytes ?? Array(token.utf8), logprob: logprob.isFinite ? min(0, logprob) : -9999,
                    top: nested ? [] : (topLogprobs ?? []).prefix(TokenLogprob.maxTop).map { $0.logprob(nested: true) })
            }
        }

        var delta: Delta?
        var finishReason: String?
        var logprobs: Logprobs?

        enum CodingKeys: String, CodingKey {
            case delta, logprobs
            case finishReason = "finish_reason"
        }
    }

    struct Usage: Decodable {
        var promptTokens: Int?
        var completionTokens: Int?

        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case completionTokens = "completion_tokens"
        }
    }

    struct ErrorBody: Decodable {
        var message: String?
    }

    var choices: [Choice]?
    var usage: Usage?
    var error: ErrorBody?
}

/// The JSON body of an OpenAI chat completion request.
struct UpstreamRequestBody: Encodable {
    struct StreamOptions: Encodable {
        var includeUsage = true
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    var model: String
    var messages: [UpstreamMessage]
    var stream = true
    var streamOptions = StreamOptions()
    var temperature: Double?
    var topP: Double?
    var maxTokens: Int?
    var seed: UInt64?
    var stop: [String]?
    var frequencyPenalty: Double?
    var presencePenalty: Double?
    /// Token ids as decimal strings, as OpenAI's `logit_bias` has them; nil when empty.
    var logitBias: [String: Double]?
    /// Asked for only when the client asked (nil fields are left out: not every server knows them).
    var logprobs: Bool?
    var topLogprobs: Int?
    /// vLLM's and llama.cpp's extensions, sent only when the client set them.
    var topK: Int?
    var minP: Double?
    var repetitionPenalty: Double?


    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature, seed, stop
        case streamOptions = "stream_options"
        case topP = "top_p"
        case maxTokens = "max_tokens"
        case frequencyPenalty = "frequency_penalty"
        case presencePenalty = "presence_penalty"
        case logitBias = "logit_bias"
        case logprobs
        case topLogprobs = "top_logprobs"
        case topK = "top_k"
        case minP = "min_p"
        case repetitionPenalty = "repetition_penalty"
    }
}

extension FinishReason {
    /// Maps an OpenAI `finish_reason` (`stop`, `length`, `content_filter`, `tool_calls`, …).
    init(upstream: String?) {
        switch upstream {
        case "length": self = .length
        default: self = .stop
        }
    }
}

extension UpstreamRequestBody {
    /// The body's JSON, with OpenAI's `response_format` for `format` (left out for text) and the
    /// tools offered (``UpstreamTools``). Schemas are spliced in as the JSON text they travel as.
    func json(responseFormat format: ResponseFormat, tools: ToolOptions? = nil) throws -> Data {
        var json = try JSONEncoder().encode(self)
        var members: [String] = []
        switch format {
        case .text: break
        case .jsonObject: members.append(#""response_format":{"type":"json_object"}"#)
        case .jsonSchema(let name, let schema):
            members.append(
                #""response_format":{"type":"json_schema","json_schema":{"name":\#(JSON.quote(name)),"schema":\#(schema),"strict":true}}"#)
        }
        if let tools { members.append(UpstreamTools.members(tools)) }
        guard !members.isEmpty else { return json }
        // The encoder's object ends with its closing brace.
        json.removeLast()
        json.append(contentsOf: Array(("," + members.joined(separator: ",") + "}").utf8))
        return json
    }
}

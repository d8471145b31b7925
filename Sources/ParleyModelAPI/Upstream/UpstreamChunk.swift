import Foundation
import ParleyProtocol

/// The parts of an OpenAI `chat.completion.chunk` (or an error object) that the upstream backend reads.
struct UpstreamChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            var content: String?
        }

        var delta: Delta?
        var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case delta
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
    var messages: [ChatMessage]
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

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, temperature, seed, stop
        case streamOptions = "stream_options"
        case topP = "top_p"
        case maxTokens = "max_tokens"
        case frequencyPenalty = "frequency_penalty"
        case presencePenalty = "presence_penalty"
        case logitBias = "logit_bias"
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

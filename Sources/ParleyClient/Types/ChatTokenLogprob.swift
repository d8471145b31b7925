import ParleyJSON

/// How likely the model found one token of the answer (one item of OpenAI's `logprobs.content`),
/// asked for with ``ChatCompletionRequest/logprobs``.
public struct ChatTokenLogprob: Hashable, Sendable, Decodable {
    /// The token as text (U+FFFD where it holds part of a character).
    public var token: String
    /// Natural logarithm of its probability.
    public var logprob: Double
    /// Its bytes (which may hold part of a UTF-8 character).
    public var bytes: [UInt8]
    /// The likeliest tokens at its position, most likely first (`top_logprobs`).
    public var top: [ChatTokenLogprob]

    public init(token: String, logprob: Double, bytes: [UInt8], top: [ChatTokenLogprob] = []) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
        self.top = top
    }

    enum CodingKeys: String, CodingKey {
        case token, logprob, bytes
        case top = "top_logprobs"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        token = try container.decode(String.self, forKey: .token)
        logprob = try container.decode(Double.self, forKey: .logprob)
        bytes = try container.decodeIfPresent([UInt8].self, forKey: .bytes) ?? Array(token.utf8)
        top = try container.decodeIfPresent([ChatTokenLogprob].self, forKey: .top) ?? []
    }

    /// The items of a choice's `logprobs` (`{"content": [...]}` or null) as a parsed chunk holds
    /// them; nil when it has none. Alternatives are read one level deep.
    static func items(of logprobs: JSONValue?) -> [ChatTokenLogprob]? {
        guard let content = logprobs?["content"]?.array else { return nil }
        return content.compactMap { item(from: $0, nested: false) }
    }

    private static func item(from value: JSONValue, nested: Bool) -> ChatTokenLogprob? {
        guard let token = value["token"]?.string, case .number(let logprob) = value["logprob"] else { return nil }
        let bytes = value["bytes"]?.array?.compactMap { $0.integer.flatMap(UInt8.init(exactly:)) }
        let top = nested ? [] : (value["top_logprobs"]?.array ?? []).compactMap { item(from: $0, nested: true) }
        return ChatTokenLogprob(token: token, logprob: logprob, bytes: bytes ?? Array(token.utf8), top: top)
    }
}

public import ParleyCluster

/// How likely the model found one token of an answer, and the likeliest tokens it could have
/// chosen instead: one item of OpenAI's `logprobs.content`.
///
/// Asked for with ``SamplingOptions/logprobs``. The built-in engine reports the model's own
/// distribution (before the logit bias, the penalties and the temperature change it), as vLLM does.
public struct TokenLogprob: Hashable, Sendable, Codable {
    /// The token's bytes: a token may hold part of a UTF-8 character, so they need not be valid UTF-8.
    public var bytes: [UInt8]
    /// Natural logarithm of the token's probability (≤ 0).
    public var logprob: Double
    /// The likeliest tokens at this position, most likely first (OpenAI's `top_logprobs`); the
    /// chosen token is among them when it was likely enough. Their own `top` is empty.
    public var top: [TokenLogprob]

    public init(bytes: [UInt8], logprob: Double, top: [TokenLogprob] = []) {
        self.bytes = bytes
        self.logprob = logprob
        self.top = top
    }

    /// The token as text, with bytes that are no valid UTF-8 on their own shown as U+FFFD.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Most alternatives a request may ask for (OpenAI's limit of `top_logprobs`).
    public static let maxTop = 20
}

extension TokenLogprob: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(bytes: bytes)
        wire.write(logprob)
        wire.write(top.count)
        for alternative in top { alternative.write(wire: wire) }
    }

    /// Alternatives are read one level deep only: hostile bytes nesting them cannot exhaust the stack.
    public init(wire: WireReader) throws {
        try self.init(wire: wire, nested: false)
    }

    private init(wire: WireReader, nested: Bool) throws {
        bytes = try wire.readBytes()
        logprob = try wire.readDouble()
        let count = try wire.readInt()
        guard count >= 0, count <= (nested ? 0 : Self.maxTop) else {
            throw ClusterError(.malformed, "\(count) alternatives to a token")
        }
        top = try (0..<count).map { _ in try TokenLogprob(wire: wire, nested: true) }
    }
}

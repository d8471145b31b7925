public import ParleyCluster

// The wire forms of the values that cross the cluster once per streamed token (and of the ones
// they carry): a case byte, then the case's fields in order. See `WireCodable`.

extension GenerationEvent: WireCodable {
    public func write(wire: WireWriter) {
        switch self {
        case .token(let index, let text, let logprobs):
            wire.writeToken(case: logprobs.isEmpty ? 0 : 3, index: index, text: text, logprobs: logprobs)
        case .finished(let reason, let usage): wire.writeFinished(case: 1, reason, usage)
        case .prompt(let computed, let total): wire.writePrompt(case: 2, computed: computed, of: total)
        }
    }

    public init(wire: WireReader) throws {
        switch try wire.readByte() {
        case 0: self = .token(index: try wire.readInt(), text: try wire.readString())
        case 1: self = .finished(try FinishReason(wire: wire), try TokenUsage(wire: wire))
        case 2: self = .prompt(computed: try wire.readInt(), of: try wire.readInt())
        case 3: self = .token(index: try wire.readInt(), text: try wire.readString(), logprobs: try wire.readLogprobs())
        case let other: throw ClusterError(.malformed, "unknown generation event case \(other)")
        }
    }
}

extension CompletionEvent: WireCodable {
    public func write(wire: WireWriter) {
        switch self {
        case .started(let conversationID, let userMessageID, let assistantMessageID, let rateLimit):
            wire.write(UInt8(0))
            wire.write(conversationID)
            wire.write(userMessageID)
            wire.write(assistantMessageID)
            wire.write(rateLimit != nil)
            rateLimit?.write(wire: wire)
        case .token(let index, let text, let logprobs):
            wire.writeToken(case: logprobs.isEmpty ? 1 : 4, index: index, text: text, logprobs: logprobs)
        case .finished(let reason, let usage): wire.writeFinished(case: 2, reason, usage)
        case .prompt(let computed, let total): wire.writePrompt(case: 3, computed: computed, of: total)
        }
    }

    public init(wire: WireReader) throws {
        switch try wire.readByte() {
        case 0:
            self = .started(
                conversationID: try wire.readOptionalString(), userMessageID: try wire.readOptionalString(),
                assistantMessageID: try wire.readOptionalString(),
                rateLimit: try wire.readBool() ? try RateLimitDecision(wire: wire) : nil)
        case 1: self = .token(index: try wire.readInt(), text: try wire.readString())
        case 2: self = .finished(try FinishReason(wire: wire), try TokenUsage(wire: wire))
        case 3: self = .prompt(computed: try wire.readInt(), of: try wire.readInt())
        case 4: self = .token(index: try wire.readInt(), text: try wire.readString(), logprobs: try wire.readLogprobs())
        case let other: throw ClusterError(.malformed, "unknown completion event case \(other)")
        }
    }
}

extension FinishReason: WireCodable {
    public func write(wire: WireWriter) {
        switch self {
        case .stop: wire.write(UInt8(0))
        case .length: wire.write(UInt8(1))
        case .cancelled: wire.write(UInt8(2))
        }
    }

    public init(wire: WireReader) throws {
        switch try wire.readByte() {
        case 0: self = .stop
        case 1: self = .length
        case 2: self = .cancelled
        case let other: throw ClusterError(.malformed, "unknown finish reason \(other)")
        }
    }
}

extension TokenUsage: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(promptTokens)
        wire.write(completionTokens)
        wire.write(cachedPromptTokens)
    }

    public init(wire: WireReader) throws {
        self.init(
            promptTokens: try wire.readInt(), completionTokens: try wire.readInt(), cachedPromptTokens: try wire.readInt())
    }
}

extension RateLimitDecision: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(allowed)
        wire.write(limit)
        wire.write(remaining)
        wire.write(resetSeconds)
        wire.write(reason)
    }

    public init(wire: WireReader) throws {
        self.init(
            allowed: try wire.readBool(), limit: try wire.readInt(), remaining: try wire.readInt(),
            resetSeconds: try wire.readDouble(), reason: try wire.readOptionalString())
    }
}

extension WireWriter {
    /// A token event of either stream: its case byte, index and text, then its logprobs unless the
    /// case is the one without them (the common token costs no byte more).
    fileprivate func writeToken(case tag: UInt8, index: Int, text: String, logprobs: [TokenLogprob]) {
        write(tag)
        write(index)
        write(text)
        guard !logprobs.isEmpty else { return }
        write(logprobs.count)
        for logprob in logprobs { logprob.write(wire: self) }
    }

    /// A prompt-progress event of either stream: its case byte, the tokens computed and the prompt's.
    fileprivate func writePrompt(case tag: UInt8, computed: Int, of total: Int) {
        write(tag)
        write(computed)
        write(total)
    }

    /// A finish event of either stream: its case byte, reason and usage.
    fileprivate func writeFinished(case tag: UInt8, _ reason: FinishReason, _ usage: TokenUsage) {
        write(tag)
        reason.write(wire: self)
        usage.write(wire: self)
    }
}

extension WireReader {
    /// The logprobs of a token event: a count (at most a chunk's worth), then each.
    fileprivate func readLogprobs() throws -> [TokenLogprob] {
        let count = try readInt()
        guard (1...4096).contains(count) else { throw ClusterError(.malformed, "\(count) logprobs in one token event") }
        return try (0..<count).map { _ in try TokenLogprob(wire: self) }
    }
}

public import ParleyCluster

// The wire forms of the requests that travel down the serving path once per chat request (gateway →
// completion → worker → proxy → model API): their fields in declaration order. See `WireCodable`.

extension ChatMessage: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(role)
        wire.write(content)
        wire.write(toolCallID)
    }

    public init(wire: WireReader) throws {
        self.init(role: try wire.readString(), content: try wire.readString(), toolCallID: try wire.readOptionalString())
    }
}

extension SamplingOptions: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(temperature)
        wire.write(topP)
        wire.write(maxTokens)
        wire.write(seed)
        wire.write(stop)
        wire.write(frequencyPenalty)
        wire.write(presencePenalty)
        // A count, then (token id, bias) pairs in id order: the same options, the same bytes.
        wire.write(logitBias.count)
        for (token, bias) in logitBias.sorted(by: { $0.key < $1.key }) {
            wire.write(token)
            wire.write(bias)
        }
        wire.write(logprobs)
        switch responseFormat {
        case .text: wire.write(UInt8(0))
        case .jsonObject: wire.write(UInt8(1))
        case .jsonSchema(let name, let schema):
            wire.write(UInt8(2))
            wire.write(name)
            wire.write(schema)
        }
        wire.write(topK)
        wire.write(minP)
        wire.write(repetitionPenalty)
        wire.write(tools)
    }

    public init(wire: WireReader) throws {
        self.init(
            temperature: try wire.readOptionalDouble(), topP: try wire.readOptionalDouble(),
            maxTokens: try wire.readOptionalInt(), seed: try wire.readOptionalUInt64(), stop: try wire.readStrings(),
            frequencyPenalty: try wire.readOptionalDouble(), presencePenalty: try wire.readOptionalDouble())
        let count = try wire.readInt()
        guard count >= 0 else { throw ClusterError(.malformed, "negative logit bias count \(count)") }
        // Read pair by pair (no capacity reserved up front): a damaged count runs out of bytes and throws.
        for _ in 0..<count {
            let token = try wire.readInt()
            logitBias[token] = try wire.readDouble()
        }
        logprobs = try wire.readOptionalInt()
        if let logprobs, !(0...TokenLogprob.maxTop).contains(logprobs) {
            throw ClusterError(.malformed, "\(logprobs) top logprobs asked for")
        }
        switch try wire.readByte() {
        case 0: responseFormat = .text
        case 1: responseFormat = .jsonObject
        case 2: responseFormat = .jsonSchema(name: try wire.readString(), schema: try wire.readString())
        case let other: throw ClusterError(.malformed, "unknown response format \(other)")
        }
        topK = try wire.readOptionalInt()
        minP = try wire.readOptionalDouble()
        repetitionPenalty = try wire.readOptionalDouble()
        tools = try wire.readOptional(ToolOptions.self)
    }
}

extension ToolDefinition: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(name)
        wire.write(description)
        wire.write(parameters)
        wire.write(strict)
    }

    public init(wire: WireReader) throws {
        self.init(
            name: try wire.readString(), description: try wire.readOptionalString(),
            parameters: try wire.readOptionalString(), strict: try wire.readBool())
    }
}

extension ToolOptions: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(tools)
        switch choice {
        case .none: wire.write(UInt8(0))
        case .auto: wire.write(UInt8(1))
        case .required: wire.write(UInt8(2))
        case .function(let name):
            wire.write(UInt8(3))
            wire.write(name)
        }
        wire.write(parallelCalls)
    }

    public init(wire: WireReader) throws {
        let tools = try wire.readArray(ToolDefinition.self)
        let choice: ToolChoice
        switch try wire.readByte() {
        case 0: choice = .none
        case 1: choice = .auto
        case 2: choice = .required
        case 3: choice = .function(try wire.readString())
        case let other: throw ClusterError(.malformed, "unknown tool choice \(other)")
        }
        self.init(tools: tools, choice: choice, parallelCalls: try wire.readBool())
    }
}

extension Priority: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(UInt8(self == .interactive ? 0 : 1))
    }

    public init(wire: WireReader) throws {
        switch try wire.readByte() {
        case 0: self = .interactive
        case 1: self = .batch
        case let other: throw ClusterError(.malformed, "unknown priority \(other)")
        }
    }
}

extension ResumePoint: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(tokenCount)
        wire.write(text)
    }

    public init(wire: WireReader) throws {
        self.init(tokenCount: try wire.readInt(), text: try wire.readString())
    }
}

extension ModelRequest: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(requestID)
        wire.write(userID)
        wire.write(model)
        wire.write(messages)
        sampling.write(wire: wire)
        priority.write(wire: wire)
        wire.write(resume)
        wire.write(conversationID)
        wire.write(historyCount)
    }

    public init(wire: WireReader) throws {
        self.init(
            requestID: try wire.readString(), userID: try wire.readString(), model: try wire.readString(),
            messages: try wire.readArray(ChatMessage.self), sampling: try SamplingOptions(wire: wire),
            priority: try Priority(wire: wire), resume: try wire.readOptional(ResumePoint.self),
            conversationID: try wire.readOptionalString(), historyCount: try wire.readInt())
    }
}

extension CompletionRequest: WireCodable {
    public func write(wire: WireWriter) {
        wire.write(requestID)
        wire.write(userID)
        wire.write(model)
        wire.write(messages)
        sampling.write(wire: wire)
        priority.write(wire: wire)
        wire.write(conversationID)
        wire.write(store)
        wire.write(resume)
        wire.write(parentMessageID)
        wire.write(startsAtRoot)
        wire.write(idempotent)
        wire.write(instructions)
    }

    public init(wire: WireReader) throws {
        self.init(
            requestID: try wire.readString(), userID: try wire.readString(), model: try wire.readString(),
            messages: try wire.readArray(ChatMessage.self), sampling: try SamplingOptions(wire: wire),
            priority: try Priority(wire: wire), conversationID: try wire.readOptionalString(), store: try wire.readBool(),
            resume: try wire.readOptional(ResumePoint.self), parentMessageID: try wire.readOptionalString())
        startsAtRoot = try wire.readBool()
        idempotent = try wire.readBool()
        instructions = try wire.readOptionalString()
    }
}

public import ParleyJSON
public import ParleyStructuredOutput

/// Reads an answer byte by byte and says whether it is still the beginning of an answer whose tool
/// calls are well formed (``ToolCallMarkup``): what constrained decoding enforces when a request
/// offers tools, one token at a time.
///
/// In ``Mode/auto`` the answer is free text until the model opens a call; in ``Mode/required``
/// (OpenAI's `tool_choice` `required`, or a named function with only that tool given) it starts
/// with a call. Inside a call only a JSON object of one of the tools fits: `name` one of the tools'
/// names and `arguments` a value of that tool's schema, each once, nothing else. After a call comes
/// the end of the answer or, when parallel calls are allowed, another call (at most ``maxCalls``).
/// Blank runs around the tags are capped (``maxBlank``). Copying a grammar is cheap.
public struct ToolCallGrammar: ByteGrammar, Equatable {
    /// A tool the answer may call.
    public struct Tool: Sendable, Equatable {
        public var name: String
        /// What its arguments must be (``OutputSchema/anyObject`` when the tool's schema cannot be enforced).
        public var arguments: OutputSchema

        public init(name: String, arguments: OutputSchema) {
            self.name = name
            self.arguments = arguments
        }

        /// A tool whose arguments follow `parameters`, its JSON schema (nil: it takes none). A
        /// schema the grammar cannot enforce holds them to any object, unless `strict`: then it is
        /// the error.
        public init(name: String, parameters: JSONValue?, strict: Bool) throws(OutputSchemaError) {
            guard let parameters else {
                self.init(name: name, arguments: .object(properties: [:], required: [], open: false))
                return
            }
            do {
                self.init(name: name, arguments: try OutputSchema.compile(parameters))
            } catch {
                if strict { throw error }
                self.init(name: name, arguments: .anyObject)
            }
        }
    }

    /// Whether the answer must call a tool.
    public enum Mode: Sendable, Equatable {
        /// Text, or calls, as the model chooses.
        case auto
        /// The answer is calls only.
        case required
    }

    /// Most calls one answer may make.
    public static let maxCalls = 16
    /// Longest run of whitespace around a tag.
    public static let maxBlank = 16

    private enum State: Sendable, Equatable {
        /// Free text; the last `matched` bytes read are the beginning of the open tag.
        case text(matched: Int)
        /// The open tag must come (`matched` of its bytes read), after at most ``maxBlank`` blanks.
        case open(matched: Int, blank: Int)
        /// After the open tag: blanks, then the call's object.
        case beforeObject(blank: Int)
        /// Inside the call's object: a validator for each tool it can still be a call of.
        case object([JSONPrefixValidator])
        /// After the object: blanks, then the close tag (`matched` of its bytes read).
        case close(matched: Int, blank: Int)
        /// The answer must end.
        case done
        case failed
    }

    private static let openBytes = Array(ToolCallMarkup.open.utf8)
    private static let closeBytes = Array(ToolCallMarkup.close.utf8)

    private let callSchemas: [OutputSchema]
    private let parallel: Bool
    private var state: State
    /// Calls closed so far.
    public private(set) var callCount = 0

    /// A grammar for an answer that may call `tools` (not empty) in `mode`; `parallel`: more than one
    /// call (OpenAI's `parallel_tool_calls`).
    public init(tools: [Tool], mode: Mode, parallel: Bool) {
        callSchemas = tools.map { tool in
            .object(
                properties: ["name": .literals([Array(JSON.quote(tool.name).utf8)]), "arguments": tool.arguments],
                required: ["name", "arguments"], open: false)
        }
        self.parallel = parallel
        state = mode == .auto ? .text(matched: 0) : .open(matched: 0, blank: 0)
    }

    /// Free text: any bytes may come, unless they complete an open tag.
    public var isFree: Bool {
        if case .text = state { true } else { false }
    }

    /// Whether the answer may end here.
    public var canEnd: Bool {
        switch state {
        case .text, .done: true
        case .open(let matched, _): matched == 0 && callCount > 0
        default: false
        }
    }

    /// Whether the answer must end here (its last call closed, and no other may follow).
    public var isComplete: Bool { state == .done }

    /// Whether a byte broke the grammar.
    public var hasFailed: Bool { state == .failed }

    /// Reads one byte; false (and failed from then on) when it cannot continue the answer.
    @discardableResult
    public mutating func read(_ byte: UInt8) -> Bool {
        if step(byte) { return true }
        state = .failed
        return false
    }

    private mutating func step(_ byte: UInt8) -> Bool {
        switch state {
        case .failed, .done:
            return false
        case .text(let matched):
            if byte == Self.openBytes[matched] {
                state = matched + 1 == Self.openBytes.count ? .beforeObject(blank: 0) : .text(matched: matched + 1)
            } else {
                // `<` appears only first in the tag, so a mismatch starts over.
                state = .text(matched: byte == Self.openBytes[0] ? 1 : 0)
            }
            return true
        case .open(let matched, let blank):
            if matched == 0, JSON.isWhitespace(byte) {
                state = .open(matched: 0, blank: blank + 1)
                return blank < Self.maxBlank
            }
            guard byte == Self.openBytes[matched] else { return false }
            state = matched + 1 == Self.openBytes.count ? .beforeObject(blank: 0) : .open(matched: matched + 1, blank: blank)
            return true
        case .beforeObject(let blank):
            if JSON.isWhitespace(byte) {
                state = .beforeObject(blank: blank + 1)
                return blank < Self.maxBlank
            }
            return object(byte, callSchemas.map { JSONPrefixValidator(schema: $0) })
        case .object(let validators):
            return object(byte, validators)
        case .close(let matched, let blank):
            if matched == 0, JSON.isWhitespace(byte) {
                state = .close(matched: 0, blank: blank + 1)
                return blank < Self.maxBlank
            }
            guard byte == Self.closeBytes[matched] else { return false }
            guard matched + 1 == Self.closeBytes.count else {
                state = .close(matched: matched + 1, blank: blank)
                return true
            }
            callCount += 1
            state = parallel && callCount < Self.maxCalls ? .open(matched: 0, blank: 0) : .done
            return true
        }
    }

    /// A byte of the call's object, read by each validator still in the running.
    private mutating func object(_ byte: UInt8, _ validators: [JSONPrefixValidator]) -> Bool {
        var left: [JSONPrefixValidator] = []
        left.reserveCapacity(validators.count)
        for var validator in validators where validator.read(byte) { left.append(validator) }
        if left.isEmpty { return false }
        state = left.contains(where: \.isComplete) ? .close(matched: 0, blank: 0) : .object(left)
        return true
    }
}

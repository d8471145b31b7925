import ParleyJSON

/// Reads an answer byte by byte and says whether it is still the beginning of a JSON value that
/// follows an ``OutputSchema``: the grammar that constrained decoding (JSON mode, structured
/// outputs) enforces one token at a time.
///
/// Whitespace may surround the value and separate its tokens; strings hold no control characters,
/// escapes are JSON's, and bytes of 0x80 and above must form UTF-8 characters. Runs of whitespace
/// are capped (``maxWhitespaceRun``) so a model cannot fill its answer with blanks, and nesting is
/// capped at ``maxDepth``. Copying a validator is cheap, so trying a candidate token on a copy is.
public struct JSONPrefixValidator: ByteGrammar, Equatable {
    public static let maxDepth = 32
    public static let maxWhitespaceRun = 16

    private enum State: Equatable, Sendable {
        /// A value of `schema` comes next; `allowsClose`: right after `[`, where `]` may come instead.
        case value(OutputSchema, allowsClose: Bool)
        /// After `{` (`allowsClose`) or `,` in an object.
        case key(allowsClose: Bool)
        /// After an object key: `:`, then a value of this schema.
        case colon(OutputSchema)
        /// After a value inside a container.
        case commaOrClose
        /// Inside a string (`isKey`: a key of an open object), with what it expects next.
        case string(isKey: Bool, escape: Escape, continuation: Int)
        case number(NumberPart, integer: Bool)
        /// Inside one of several exact texts (an enum value, `true`, a declared key): the bytes read
        /// so far and the texts they begin. `isKey`: a declared key, followed by `:`.
        case literal(read: [UInt8], candidates: [[UInt8]], isKey: Bool)
        /// The value is complete: only whitespace may follow.
        case done
        /// A byte broke the grammar; nothing is accepted any more.
        case failed
    }

    private enum Escape: Equatable, Sendable {
        case none
        case backslash
        /// Hex digits of `\u` still to come.
        case hex(Int)
    }

    private enum NumberPart: Equatable, Sendable {
        case minus, zero, integer, dot, fraction, exponent, exponentSign, exponentDigits

        /// Whether the number may end here.
        var isComplete: Bool { self == .zero || self == .integer || self == .fraction || self == .exponentDigits }
    }

    /// An open container.
    private enum Frame: Equatable, Sendable {
        /// `used`: the declared keys written so far.
        case object(properties: [String: OutputSchema], required: Set<String>, open: Bool, used: Set<String>)
        /// `count`: the elements begun so far.
        case array(items: OutputSchema, minItems: Int, maxItems: Int?, count: Int)
    }

    private var state: State
    private var stack: [Frame] = []
    private var whitespaceRun = 0

    /// A validator for an answer that is one value of `schema` (default: any JSON object).
    public init(schema: OutputSchema = .anyObject) {
        state = .value(schema, allowsClose: false)
    }

    /// Whether the bytes read so far are a whole value (perhaps followed by whitespace).
    public var isComplete: Bool { state == .done }
    /// Whether a byte broke the grammar.
    public var hasFailed: Bool { state == .failed }

    /// Reads one byte; false (and failed from then on) when it cannot continue the value.
    @discardableResult
    public mutating func read(_ byte: UInt8) -> Bool {
        if step(byte) { return true }
        state = .failed
        return false
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    private mutating func step(_ byte: UInt8) -> Bool {
        switch state {
        case .failed:
            return false
        case .string(let isKey, let escape, let continuation):
            return string(byte, isKey: isKey, escape: escape, continuation: continuation)
        case .literal(let read, let candidates, let isKey):
            let next = read + [byte]
            let left = candidates.filter { $0.starts(with: next) }
            if !left.isEmpty {
                state = .literal(read: next, candidates: left, isKey: isKey)
                return true
            }
            // No text goes on with this byte: the literal ends here if it is whole.
            guard candidates.contains(read) else { return false }
            endLiteral(read, isKey: isKey)
            return step(byte)
        case .number(let part, let integer):
            if number(byte, part, integer: integer) { return true }
            guard part.isComplete else { return false }
            endValue()
            return step(byte)
        default:
            break
        }
        if JSON.isWhitespace(byte) {
            whitespaceRun += 1
            return whitespaceRun <= Self.maxWhitespaceRun
        }
        whitespaceRun = 0
        switch state {
        case .value(let schema, let allowsClose):
            if allowsClose, byte == UInt8(ascii: "]") { return close() }
            if case .array(let items, let minItems, let maxItems, let count) = stack.last {
                stack[stack.count - 1] = .array(items: items, minItems: minItems, maxItems: maxItems, count: count + 1)
            }
            return value(byte, schema)
        case .key(let allowsClose):
            guard case .object(let properties, _, let open, let used) = stack.last else { return false }
            if allowsClose, byte == UInt8(ascii: "}") { return close() }
            guard byte == UInt8(ascii: "\"") else { return false }
            if open {
                state = .string(isKey: true, escape: .none, continuation: 0)
                return true
            }
            let names = properties.keys.filter { !used.contains($0) }.map { Array(($0.jsonQuoted).utf8) }
            guard !names.isEmpty else { return false }
            state = .literal(read: [byte], candidates: names.filter { $0.first == byte }, isKey: true)
            return true
        case .colon(let schema):
            guard byte == UInt8(ascii: ":") else { return false }
            state = .value(schema, allowsClose: false)
            return true
        case .commaOrClose:
            switch stack.last {
            case .object(let properties, let required, let open, let used):
                if byte == UInt8(ascii: ",") {
                    // Another key only if one may still come.
                    guard open || used.count < properties.count else { return false }
                    state = .key(allowsClose: false)
                    return true
                }
                return byte == UInt8(ascii: "}") && required.isSubset(of: used) && close()
            case .array(let items, let minItems, let maxItems, let count):
                if byte == UInt8(ascii: ",") {
                    guard maxItems.map({ count < $0 }) ?? true else { return false }
                    state = .value(items, allowsClose: false)
                    return true
                }
                return byte == UInt8(ascii: "]") && count >= minItems && close()
            case nil:
                return false
            }
        case .done, .failed, .string, .literal, .number:
            return false
        }
    }

    /// The first byte of a value of `schema`.
    private mutating func value(_ byte: UInt8, _ schema: OutputSchema) -> Bool {
        switch schema {
        case .anyValue:
            switch byte {
            case UInt8(ascii: "{"): return open(.anyObject)
            case UInt8(ascii: "["): return open(.array(items: .anyValue, minItems: 0, maxItems: nil))
            case UInt8(ascii: "\""): return value(byte, .string)
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return value(byte, .boolean)
            case UInt8(ascii: "n"): return value(byte, .null)
            default: return value(byte, .number(integer: false))
            }
        case .object, .array:
            guard byte == (schema.isObject ? UInt8(ascii: "{") : UInt8(ascii: "[")) else { return false }
            return open(schema)
        case .string:
            guard byte == UInt8(ascii: "\"") else { return false }
            state = .string(isKey: false, escape: .none, continuation: 0)
        case .number(let integer):
            if byte == UInt8(ascii: "-") {
                state = .number(.minus, integer: integer)
            } else if Self.isDigit(byte) {
                state = .number(byte == UInt8(ascii: "0") ? .zero : .integer, integer: integer)
            } else {
                return false
            }
        case .boolean: return startLiteral(byte, [Array("true".utf8), Array("false".utf8)])
        case .null: return startLiteral(byte, [Array("null".utf8)])
        case .literals(let values): return startLiteral(byte, values)
        case .oneOf(let alternatives):
            guard let alternative = alternatives.first(where: { $0.firstBytes.contains(byte) }) else { return false }
            return value(byte, alternative)
        }
        return true
    }

    private mutating func startLiteral(_ byte: UInt8, _ values: [[UInt8]]) -> Bool {
        let left = values.filter { $0.first == byte }
        guard !left.isEmpty else { return false }
        state = .literal(read: [byte], candidates: left, isKey: false)
        return true
    }

    private mutating func endLiteral(_ text: [UInt8], isKey: Bool) {
        guard isKey else { return endValue() }
        guard case .object(let properties, let required, let open, var used) = stack.last else { return }
        let name = String(decoding: text.dropFirst().dropLast(), as: UTF8.self)
        used.insert(name)
        stack[stack.count - 1] = .object(properties: properties, required: required, open: open, used: used)
        state = .colon(properties[name] ?? .anyValue)
    }

    /// A value inside a container (or the whole answer) ended.
    private mutating func endValue() {
        state = stack.isEmpty ? .done : .commaOrClose
    }

    private mutating func open(_ schema: OutputSchema) -> Bool {
        guard stack.count < Self.maxDepth else { return false }
        switch schema {
        case .object(let properties, let required, let open):
            stack.append(.object(properties: properties, required: required, open: open, used: []))
            state = .key(allowsClose: required.isEmpty)
        case .array(let items, let minItems, let maxItems):
            stack.append(.array(items: items, minItems: minItems, maxItems: maxItems, count: 0))
            state = maxItems == 0 ? .commaOrClose : .value(items, allowsClose: minItems == 0)
        default:
            return false
        }
        return true
    }

    /// Closes the innermost container (the caller checked it is the kind the byte closes).
    private mutating func close() -> Bool {
        stack.removeLast()
        endValue()
        return true
    }

    private mutating func string(_ byte: UInt8, isKey: Bool, escape: Escape, continuation: Int) -> Bool {
        if continuation > 0 {
            guard byte & 0xC0 == 0x80 else { return false }
            state = .string(isKey: isKey, escape: .none, continuation: continuation - 1)
            return true
        }
        switch escape {
        case .backslash:
            if byte == UInt8(ascii: "u") {
                state = .string(isKey: isKey, escape: .hex(4), continuation: 0)
                return true
            }
            guard Array(#""\/bfnrt"#.utf8).contains(byte) else { return false }
            state = .string(isKey: isKey, escape: .none, continuation: 0)
            return true
        case .hex(let left):
            guard Self.isHex(byte) else { return false }
            state = .string(isKey: isKey, escape: left > 1 ? .hex(left - 1) : .none, continuation: 0)
            return true
        case .none:
            break
        }
        switch byte {
        case UInt8(ascii: "\""):
            if isKey { state = .colon(.anyValue) } else { endValue() }
        case UInt8(ascii: "\\"):
            state = .string(isKey: isKey, escape: .backslash, continuation: 0)
        case 0..<0x20:
            return false
        case 0x80...:
            // A UTF-8 lead byte: 110xxxxx, 1110xxxx or 11110xxx (C0, C1 and F5+ are never valid).
            let following = byte >= 0xC2 && byte <= 0xDF ? 1 : byte >= 0xE0 && byte <= 0xEF ? 2 : byte >= 0xF0 && byte <= 0xF4 ? 3 : 0
            guard following > 0 else { return false }
            state = .string(isKey: isKey, escape: .none, continuation: following)
        default:
            break
        }
        return true
    }

    /// Continues a number with `byte`; false when `byte` is no part of it.
    private mutating func number(_ byte: UInt8, _ part: NumberPart, integer: Bool) -> Bool {
        let digit = Self.isDigit(byte)
        let fractionOrExponent = !integer && (byte == UInt8(ascii: ".") || (byte | 0x20) == UInt8(ascii: "e"))
        let next: NumberPart?
        switch part {
        case .minus: next = byte == UInt8(ascii: "0") ? .zero : digit ? .integer : nil
        case .zero, .integer:
            next =
                fractionOrExponent ? (byte == UInt8(ascii: ".") ? .dot : .exponent)
                : digit && part == .integer ? .integer : nil
        case .dot, .fraction:
            next = digit ? .fraction : part == .fraction && (byte | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .exponent:
            next = byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") ? .exponentSign : digit ? .exponentDigits : nil
        case .exponentSign, .exponentDigits: next = digit ? .exponentDigits : nil
        }
        guard let next else { return false }
        state = .number(next, integer: integer)
        return true
    }
}

extension OutputSchema {
    fileprivate var isObject: Bool {
        if case .object = self { true } else { false }
    }
}

extension String {
    /// The string as a JSON string literal (quotes included).
    fileprivate var jsonQuoted: String { ParleyJSON.JSON.quote(self) }
}

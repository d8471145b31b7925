/// Reads an answer byte by byte and says whether it is still the beginning of a JSON object: the
/// grammar of OpenAI's `response_format: {"type": "json_object"}`, which the sampler enforces one
/// token at a time (``JSONConstraint``).
///
/// The whole answer is one object (RFC 8259), with whitespace around it and between tokens; strings
/// hold no control characters, escapes are JSON's, and bytes of 0x80 and above must form UTF-8
/// characters. Runs of whitespace are capped (``maxWhitespaceRun``) so a model cannot fill its
/// answer with blanks, and nesting is capped at ``maxDepth``. A copy is cheap until it reads an
/// opening bracket, so trying a candidate token on a copy costs little.
struct JSONPrefixValidator: Sendable, Equatable {
    static let maxDepth = 32
    static let maxWhitespaceRun = 16

    private enum State: Equatable, Sendable {
        /// Before the top-level object.
        case start
        /// After `[` or `,` in an array or `:` in an object (`allowsClose`: right after `[`).
        case value(allowsClose: Bool)
        /// After `{` (`allowsClose`) or `,` in an object.
        case key(allowsClose: Bool)
        /// After an object key.
        case colon
        /// After a value inside a container.
        case commaOrClose
        /// Inside a string (`isKey`), with what the string expects next.
        case string(isKey: Bool, escape: Escape, continuation: Int)
        case number(NumberPart)
        /// Inside `true`, `false` or `null`: the bytes still to come.
        case literal(ArraySlice<UInt8>)
        /// The object is complete: only whitespace may follow.
        case done
        /// A byte broke the grammar; nothing is accepted any more.
        case failed
    }

    private enum Escape: Equatable, Sendable {
        case none
        /// After a backslash.
        case backslash
        /// Hex digits of `\u` still to come.
        case hex(Int)
    }

    private enum NumberPart: Equatable, Sendable {
        case minus, zero, integer, dot, fraction, exponent, exponentSign, exponentDigits

        /// Whether the number may end here.
        var isComplete: Bool { self == .zero || self == .integer || self == .fraction || self == .exponentDigits }
    }

    private var state = State.start
    /// Open containers, innermost last: true for an object.
    private var stack: [Bool] = []
    private var whitespaceRun = 0

    /// Whether the bytes read so far are a whole JSON object (perhaps followed by whitespace).
    var isComplete: Bool { state == .done }
    /// Whether a byte broke the grammar.
    var hasFailed: Bool { state == .failed }

    /// Reads `bytes`; false (and failed from then on) when they cannot continue a JSON object.
    @discardableResult
    mutating func read<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        for byte in bytes where !read(byte) { return false }
        return true
    }

    /// Reads one byte; false (and failed from then on) when it cannot continue a JSON object.
    @discardableResult
    mutating func read(_ byte: UInt8) -> Bool {
        if step(byte) { return true }
        state = .failed
        return false
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
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
        case .literal(let rest):
            guard byte == rest.first else { return false }
            let left = rest.dropFirst()
            state = left.isEmpty ? .commaOrClose : .literal(left)
            return true
        case .number(let part):
            if number(byte, part) { return true }
            guard part.isComplete else { return false }
            state = .commaOrClose
            return step(byte)
        default:
            break
        }
        if Self.isWhitespace(byte) {
            whitespaceRun += 1
            return whitespaceRun <= Self.maxWhitespaceRun
        }
        whitespaceRun = 0
        switch state {
        case .start:
            return byte == UInt8(ascii: "{") && open(object: true)
        case .value(let allowsClose):
            if allowsClose, byte == UInt8(ascii: "]") { return close(object: false) }
            return value(byte)
        case .key(let allowsClose):
            if allowsClose, byte == UInt8(ascii: "}") { return close(object: true) }
            guard byte == UInt8(ascii: "\"") else { return false }
            state = .string(isKey: true, escape: .none, continuation: 0)
            return true
        case .colon:
            guard byte == UInt8(ascii: ":") else { return false }
            state = .value(allowsClose: false)
            return true
        case .commaOrClose:
            guard let inObject = stack.last else { return false }
            switch byte {
            case UInt8(ascii: ","):
                state = inObject ? .key(allowsClose: false) : .value(allowsClose: false)
                return true
            case UInt8(ascii: "}"): return inObject && close(object: true)
            case UInt8(ascii: "]"): return !inObject && close(object: false)
            default: return false
            }
        case .done, .failed, .string, .literal, .number:
            return false
        }
    }

    /// The first byte of a value.
    private mutating func value(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "{"): return open(object: true)
        case UInt8(ascii: "["): return open(object: false)
        case UInt8(ascii: "\""): state = .string(isKey: false, escape: .none, continuation: 0)
        case UInt8(ascii: "t"): state = .literal(Array("rue".utf8)[...])
        case UInt8(ascii: "f"): state = .literal(Array("alse".utf8)[...])
        case UInt8(ascii: "n"): state = .literal(Array("ull".utf8)[...])
        case UInt8(ascii: "-"): state = .number(.minus)
        case UInt8(ascii: "0"): state = .number(.zero)
        case _ where Self.isDigit(byte): state = .number(.integer)
        default: return false
        }
        return true
    }

    private mutating func open(object: Bool) -> Bool {
        guard stack.count < Self.maxDepth else { return false }
        stack.append(object)
        state = object ? .key(allowsClose: true) : .value(allowsClose: true)
        return true
    }

    private mutating func close(object: Bool) -> Bool {
        guard stack.last == object else { return false }
        stack.removeLast()
        state = stack.isEmpty ? .done : .commaOrClose
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
            state = isKey ? .colon : .commaOrClose
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
    private mutating func number(_ byte: UInt8, _ part: NumberPart) -> Bool {
        let digit = Self.isDigit(byte)
        let next: NumberPart?
        switch part {
        case .minus: next = byte == UInt8(ascii: "0") ? .zero : digit ? .integer : nil
        case .zero, .integer:
            next =
                byte == UInt8(ascii: ".") ? .dot : (byte | 0x20) == UInt8(ascii: "e") ? .exponent
                : digit && part == .integer ? .integer : nil
        case .dot, .fraction:
            next = digit ? .fraction : part == .fraction && (byte | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .exponent:
            next = byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") ? .exponentSign : digit ? .exponentDigits : nil
        case .exponentSign, .exponentDigits: next = digit ? .exponentDigits : nil
        }
        guard let next else { return false }
        state = .number(next)
        return true
    }
}

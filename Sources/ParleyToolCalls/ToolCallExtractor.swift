import ParleyJSON

/// Splits an answer's text, streamed in pieces, into what it says (content) and the tool calls it
/// makes (``ToolCallMarkup``), as it arrives, so a call's arguments stream like any text.
///
/// Text that could be the beginning of `<tool_call>` is held back until the next piece tells. A
/// call in the usual form (`{"name": …, "arguments": …}`, perhaps with an `"id"` first) begins as
/// soon as its name is read, and its arguments follow piece by piece as they arrive (a string's
/// text unescaped), up to the end of their value; what follows them up to `</tool_call>` is
/// layout. A block in another form (the arguments first) is read whole, up to its closing tag: a
/// call if it is a JSON object of `name` and `arguments` (and an `id`), else content, tags
/// included. An open tag not followed by a JSON object is text at once. An answer that ends inside a call (cut by its token limit) leaves that call with the
/// arguments it had. Blank text after a call (the lines between calls) is dropped. The same pieces
/// always give the same parts, and so does any other division of the same text into pieces, except
/// for how the content and the arguments are divided.
public struct ToolCallExtractor: Sendable {
    /// A piece of the answer.
    public enum Part: Hashable, Sendable {
        case content(String)
        /// A call begins: its tool, and its id when the markup names one. Its arguments follow.
        case callBegins(id: String?, name: String)
        /// The next piece of the arguments' text of the call that began last.
        case arguments(String)
    }

    /// A whole answer's pieces: content and whole calls.
    public enum Block: Hashable, Sendable {
        case content(String)
        case call(ToolCall)
    }

    private enum State: Sendable {
        /// Outside calls; the buffer may hold the beginning of an open tag.
        case outside
        /// After an open tag, until the call's head (id, name, `"arguments":`) is known.
        case head
        /// Inside the arguments' value.
        case arguments(ArgumentsScan)
        /// After the arguments' value, until the close tag.
        case tail
        /// A block read whole, until the close tag.
        case whole
    }

    private static let openBytes = Array(ToolCallMarkup.open.utf8)
    private static let closeBytes = Array(ToolCallMarkup.close.utf8)

    /// Bytes read and not yet released or consumed.
    private var buffer: [UInt8] = []
    private var state = State.outside
    /// Right after a call: blank text is dropped until something else comes.
    private var trimming = false
    /// Calls begun so far.
    public private(set) var callCount = 0

    public init() {}

    /// Reads the next piece of the answer; returns what it completes.
    public mutating func read(_ text: String) -> [Part] {
        buffer.append(contentsOf: text.utf8)
        var parts: [Part] = []
        while step(into: &parts) {}
        return parts
    }

    /// The end of the answer: releases what was held back (an unclosed block that is not a call
    /// yet as content).
    public mutating func finish() -> [Part] {
        var parts: [Part] = []
        switch state {
        case .outside: release(buffer[...], into: &parts)
        case .head, .whole: release(Self.openBytes + buffer, into: &parts)
        case .arguments(var scan):
            let piece = scan.take(&buffer, final: true)
            if !piece.isEmpty { parts.append(.arguments(piece)) }
        case .tail: break
        }
        buffer = []
        state = .outside
        return parts
    }

    /// The content and calls of a whole text (an answer or a stored message).
    public static func blocks(of text: String) -> [Block] {
        var extractor = ToolCallExtractor()
        var blocks: [Block] = []
        for part in extractor.read(text) + extractor.finish() {
            switch part {
            case .content(let piece):
                if case .content(let before)? = blocks.last {
                    blocks[blocks.count - 1] = .content(before + piece)
                } else {
                    blocks.append(.content(piece))
                }
            case .callBegins(let id, let name):
                blocks.append(.call(ToolCall(id: id, name: name, arguments: "")))
            case .arguments(let piece):
                if case .call(var call)? = blocks.last {
                    call.arguments += piece
                    blocks[blocks.count - 1] = .call(call)
                }
            }
        }
        return blocks
    }

    /// A whole message's content and calls: the content nil when the message only calls (blank
    /// around its calls), as OpenAI's messages have it.
    public static func split(_ text: String) -> (content: String?, calls: [ToolCall]) {
        var content = ""
        var calls: [ToolCall] = []
        for block in blocks(of: text) {
            switch block {
            case .content(let piece): content += piece
            case .call(let call): calls.append(call)
            }
        }
        return (calls.isEmpty || !content.allSatisfy(\.isWhitespace) ? content : nil, calls)
    }

    /// Takes what the buffer allows in the current state; false when it needs more text.
    private mutating func step(into parts: inout [Part]) -> Bool {
        switch state {
        case .outside:
            if let start = Self.find(Self.openBytes, in: buffer) {
                release(buffer[..<start], into: &parts)
                buffer.removeSubrange(..<(start + Self.openBytes.count))
                state = .head
                return true
            }
            let kept = Self.heldBack(buffer)
            release(buffer[..<(buffer.count - kept)], into: &parts)
            buffer.removeSubrange(..<(buffer.count - kept))
            return false
        case .head:
            switch CallHead.read(buffer) {
            case .needMore:
                // A close tag before the head was complete: read the block whole.
                guard Self.find(Self.closeBytes, in: buffer) != nil else { return false }
                state = .whole
                return true
            case .otherForm:
                guard buffer.first(where: { !JSON.isWhitespace($0) }) == UInt8(ascii: "{") else {
                    // Not an object at all: the tag was text (released now, not at the block's end).
                    release(Self.openBytes, into: &parts)
                    state = .outside
                    return true
                }
                state = .whole
                return true
            case .head(let id, let name, let length):
                parts.append(.callBegins(id: id, name: name))
                callCount += 1
                buffer.removeSubrange(..<length)
                state = .arguments(ArgumentsScan())
                return true
            }
        case .arguments(var scan):
            let piece = scan.take(&buffer, final: false)
            if !piece.isEmpty { parts.append(.arguments(piece)) }
            state = scan.isDone ? .tail : .arguments(scan)
            return scan.isDone
        case .tail:
            guard let end = Self.find(Self.closeBytes, in: buffer) else {
                // Keep only what could still begin the close tag.
                buffer.removeSubrange(..<(buffer.count - Self.heldBack(buffer, of: Self.closeBytes)))
                return false
            }
            buffer.removeSubrange(..<(end + Self.closeBytes.count))
            state = .outside
            trimming = true
            return true
        case .whole:
            guard let end = Self.find(Self.closeBytes, in: buffer) else { return false }
            if let call = ToolCallMarkup.parseCall(buffer[..<end]) {
                parts.append(.callBegins(id: call.id, name: call.name))
                parts.append(.arguments(call.arguments))
                callCount += 1
                trimming = true
            } else {
                release(Self.openBytes + buffer[..<(end + Self.closeBytes.count)], into: &parts)
            }
            buffer.removeSubrange(..<(end + Self.closeBytes.count))
            state = .outside
            return true
        }
    }

    private mutating func release<Bytes: Collection<UInt8>>(_ bytes: Bytes, into parts: inout [Part]) {
        var slice = bytes[...]
        if trimming {
            // Blank lines after a call are layout, not content.
            while let first = slice.first, JSON.isWhitespace(first) { slice = slice.dropFirst() }
        }
        guard !slice.isEmpty else { return }
        trimming = false
        parts.append(.content(String(decoding: slice, as: UTF8.self)))
    }

    /// Where `needle` first starts in `haystack`.
    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// How many of the buffer's last bytes could begin `tag` (the open tag by default).
    private static func heldBack(_ buffer: [UInt8], of tag: [UInt8] = openBytes) -> Int {
        var length = min(tag.count - 1, buffer.count)
        while length > 0 {
            if buffer.suffix(length).elementsEqual(tag.prefix(length)) { return length }
            length -= 1
        }
        return 0
    }
}

/// The head of a call in the usual form: `{`, an optional `"id": "…",`, `"name": "…",` and
/// `"arguments":`, with any blanks between.
enum CallHead {
    enum Result {
        case needMore
        case otherForm
        /// The head, and how many bytes it took.
        case head(id: String?, name: String, length: Int)
    }

    /// Why reading stopped short of a head.
    private enum Stop: Error {
        /// The bytes ran out before the head was whole.
        case needMore
        /// The bytes are not a head in the usual form.
        case otherForm
    }

    /// Reads the head's parts from the front of the bytes.
    private struct Cursor {
        let bytes: [UInt8]
        var index = 0

        /// The next byte after blanks.
        mutating func next() throws(Stop) -> UInt8 {
            while index < bytes.count, JSON.isWhitespace(bytes[index]) { index += 1 }
            guard index < bytes.count else { throw .needMore }
            return bytes[index]
        }

        /// `text` next, after blanks.
        mutating func expect(_ text: String) throws(Stop) {
            _ = try next()
            for byte in text.utf8 {
                guard index < bytes.count else { throw .needMore }
                guard bytes[index] == byte else { throw .otherForm }
                index += 1
            }
        }

        /// A JSON string next, after blanks: its value.
        mutating func string() throws(Stop) -> String {
            guard try next() == UInt8(ascii: "\"") else { throw .otherForm }
            var end = index + 1
            while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
                end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1
            }
            guard end < bytes.count else { throw .needMore }
            guard case .string(let value) = try? JSONParser.parse(bytes[index...end]) else { throw .otherForm }
            index = end + 1
            return value
        }

        /// `"key"` and `:`, after blanks.
        mutating func member(_ key: String) throws(Stop) {
            try expect("\"" + key + "\"")
            try expect(":")
        }
    }

    static func read(_ bytes: [UInt8]) -> Result {
        var cursor = Cursor(bytes: bytes)
        do throws(Stop) {
            try cursor.expect("{")
            var id: String?
            // `"id"` or `"name"` first: the byte after the quote tells.
            _ = try cursor.next()
            guard cursor.index + 1 < bytes.count else { throw .needMore }
            if bytes[cursor.index + 1] == UInt8(ascii: "i") {
                try cursor.member("id")
                id = try cursor.string()
                try cursor.expect(",")
            }
            try cursor.member("name")
            let name = try cursor.string()
            try cursor.expect(",")
            try cursor.member("arguments")
            return .head(id: id, name: name, length: cursor.index)
        } catch {
            return error == .needMore ? .needMore : .otherForm
        }
    }
}

/// The arguments' value of a call, read as it arrives: a JSON value whose text is passed on as
/// written, or a JSON string whose text is passed on unescaped.
struct ArgumentsScan: Sendable {
    private enum Form: Sendable {
        case undecided
        /// Raw JSON text: open containers, and whether inside a string (after a backslash).
        case raw(depth: Int, inString: Bool, escaped: Bool)
        /// A string's contents.
        case string
    }

    private var form = Form.undecided
    private(set) var isDone = false

    /// Takes the bytes of the value from the front of `buffer`, and answers their text; stops at
    /// the value's end (``isDone``). A string's text is unescaped up to the last complete escape
    /// (`final`: the answer ended, take what there is).
    mutating func take(_ buffer: inout [UInt8], final: Bool) -> String {
        var i = 0
        if case .undecided = form {
            while i < buffer.count, JSON.isWhitespace(buffer[i]) { i += 1 }
            guard i < buffer.count else {
                buffer.removeAll()
                return ""
            }
            if buffer[i] == UInt8(ascii: "\"") {
                form = .string
                i += 1
            } else {
                form = .raw(depth: 0, inString: false, escaped: false)
            }
            buffer.removeSubrange(..<i)
            i = 0
        }
        switch form {
        case .undecided:
            return ""
        case .string:
            // Up to the closing quote or the last point no escape is open at.
            var safe = 0
            var end: Int?
            while i < buffer.count {
                let byte = buffer[i]
                if byte == UInt8(ascii: "\"") {
                    end = i
                    break
                }
                if byte == UInt8(ascii: "\\") {
                    let length = Self.escapeLength(buffer, at: i)
                    guard let length else { break }
                    i += length
                } else {
                    i += 1
                }
                safe = i
            }
            let cut = end ?? (final ? buffer.count : safe)
            let text = Self.unescape(buffer[..<cut])
            if let end {
                buffer.removeSubrange(...end)
                isDone = true
            } else {
                buffer.removeSubrange(..<cut)
            }
            return text
        case .raw(var depth, var inString, var escaped):
            var end: Int?
            scan: while i < buffer.count {
                let byte = buffer[i]
                if inString {
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                    if !inString, depth == 0 {
                        end = i + 1
                        break scan
                    }
                } else {
                    switch byte {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        // A scalar ends where its object does.
                        if depth == 0 {
                            end = i
                            break scan
                        }
                        depth -= 1
                        if depth == 0 {
                            end = i + 1
                            break scan
                        }
                    case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                        if depth == 0 {
                            end = i
                            break scan
                        }
                    default: break
                    }
                }
                i += 1
            }
            form = .raw(depth: depth, inString: inString, escaped: escaped)
            let cut = end ?? buffer.count
            let text = String(decoding: buffer[..<cut], as: UTF8.self)
            buffer.removeSubrange(..<cut)
            isDone = end != nil
            return text
        }
    }

    /// Bytes of the escape at `i` (a backslash), or nil when it is not complete yet. A `\u` of a
    /// high surrogate takes its low surrogate's `\u` along.
    private static func escapeLength(_ bytes: [UInt8], at i: Int) -> Int? {
        guard i + 1 < bytes.count else { return nil }
        guard bytes[i + 1] == UInt8(ascii: "u") else { return 2 }
        guard i + 6 <= bytes.count else { return nil }
        let hex = String(decoding: bytes[(i + 2)..<(i + 6)], as: UTF8.self)
        guard let unit = UInt16(hex, radix: 16), (0xD800...0xDBFF).contains(unit) else { return 6 }
        guard i + 12 <= bytes.count else { return nil }
        return 12
    }

    /// The text of a string's escaped contents (as JSON reads them; undecodable ones as written).
    private static func unescape(_ bytes: ArraySlice<UInt8>) -> String {
        guard !bytes.isEmpty else { return "" }
        if case .string(let text)? = try? JSONParser.parse([UInt8(ascii: "\"")] + bytes + [UInt8(ascii: "\"")]) {
            return text
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Splits an answer's text, streamed in pieces, into what it says (content) and the tool calls it
/// makes (``ToolCallMarkup``), as it arrives.
///
/// Text that could be the beginning of `<tool_call>` is held back until the next piece tells; a
/// call is released whole, once its closing tag is read. A block whose inside is not a call (not a
/// JSON object with `name` and `arguments`) is content, tags included, as is a block the answer
/// never closed (cut short by its token limit) when ``finish()`` is called. Blank text after a call
/// (the lines between calls) is dropped. The same pieces always give the same parts, so a stream
/// replayed from its start is split as the first one was.
public struct ToolCallExtractor: Sendable {
    /// A piece of the answer.
    public enum Part: Hashable, Sendable {
        case content(String)
        case call(ToolCall)
    }

    private static let openBytes = Array(ToolCallMarkup.open.utf8)
    private static let closeBytes = Array(ToolCallMarkup.close.utf8)

    /// Text read and not yet released: after an open tag (`inside`), the call so far.
    private var buffer: [UInt8] = []
    private var inside = false
    /// Right after a call: blank text is dropped until something else comes.
    private var trimming = false
    /// Calls released so far.
    public private(set) var callCount = 0

    public init() {}

    /// Reads the next piece of the answer; returns what it completes.
    public mutating func read(_ text: String) -> [Part] {
        buffer.append(contentsOf: text.utf8)
        var parts: [Part] = []
        while true {
            if inside {
                guard let end = Self.find(Self.closeBytes, in: buffer) else { break }
                if let call = ToolCallMarkup.parseCall(buffer[..<end]) {
                    parts.append(.call(call))
                    callCount += 1
                    trimming = true
                } else {
                    release(Self.openBytes + buffer[..<(end + Self.closeBytes.count)], into: &parts)
                }
                buffer.removeSubrange(..<(end + Self.closeBytes.count))
                inside = false
            } else if let start = Self.find(Self.openBytes, in: buffer) {
                release(buffer[..<start], into: &parts)
                buffer.removeSubrange(..<(start + Self.openBytes.count))
                inside = true
            } else {
                let kept = Self.heldBack(buffer)
                release(buffer[..<(buffer.count - kept)], into: &parts)
                buffer.removeSubrange(..<(buffer.count - kept))
                break
            }
        }
        return parts
    }

    /// The end of the answer: releases what was held back (an unclosed call as content).
    public mutating func finish() -> [Part] {
        var parts: [Part] = []
        release((inside ? Self.openBytes : []) + buffer, into: &parts)
        buffer = []
        inside = false
        return parts
    }

    private mutating func release<Bytes: Collection<UInt8>>(_ bytes: Bytes, into parts: inout [Part]) {
        var slice = bytes[...]
        if trimming {
            // Blank lines after a call are layout, not content.
            while let first = slice.first, first == 0x20 || first == 0x0A || first == 0x0D || first == 0x09 {
                slice = slice.dropFirst()
            }
        }
        guard !slice.isEmpty else { return }
        trimming = false
        parts.append(.content(String(decoding: slice, as: UTF8.self)))
    }

    /// Where `needle` first starts in `haystack`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= haystack.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    /// How many of the buffer's last bytes could begin an open tag.
    private static func heldBack(_ buffer: [UInt8]) -> Int {
        var length = min(openBytes.count - 1, buffer.count)
        while length > 0 {
            if buffer.suffix(length).elementsEqual(openBytes.prefix(length)) { return length }
            length -= 1
        }
        return 0
    }
}

import ParleyJSON

/// Finds the text of a member's value in a JSON object's text, as written (spacing, key order and
/// number forms kept), for passing a call's arguments on unchanged.
enum TopLevelMembers {
    /// The text of the value of `key` in the object `bytes` (already known to be valid JSON), or nil.
    static func valueText(of key: String, in bytes: [UInt8]) -> String? {
        var i = skipWhitespace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        while true {
            i = skipWhitespace(bytes, i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            let keyEnd = endOfString(bytes, i)
            let name = try? JSONParser.parse(bytes[i..<keyEnd])
            i = skipWhitespace(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i = skipWhitespace(bytes, i + 1)
            let valueEnd = endOfValue(bytes, i)
            if case .string(key)? = name { return String(decoding: bytes[i..<valueEnd], as: UTF8.self) }
            i = skipWhitespace(bytes, valueEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
    }

    private static func skipWhitespace(_ bytes: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < bytes.count, JSON.isWhitespace(bytes[i]) { i += 1 }
        return i
    }

    /// The index after the string that starts at `start` (a quote).
    private static func endOfString(_ bytes: [UInt8], _ start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") {
                i += 2
                continue
            }
            if bytes[i] == UInt8(ascii: "\"") { return i + 1 }
            i += 1
        }
        return bytes.count
    }

    /// The index after the value that starts at `start`.
    private static func endOfValue(_ bytes: [UInt8], _ start: Int) -> Int {
        guard start < bytes.count else { return start }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    i = endOfString(bytes, i)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return bytes.count
        default:
            var i = start
            while i < bytes.count, !",}] \n\r\t".utf8.contains(bytes[i]) { i += 1 }
            return i
        }
    }
}

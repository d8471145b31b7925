/// Splits a `text/event-stream` byte stream into the `data` payloads of its events (the SSE
/// framing of OpenAI-compatible streaming responses). Pure: feed it bytes as they arrive, in any
/// chunking, and take the completed payloads.
///
/// Lines end with LF, CRLF or CR; an empty line ends an event; multi-line `data` fields are joined
/// with LF; comments (`:` lines) and other fields (`event`, `id`, `retry`) are skipped. A line
/// longer than ``maxLineBytes`` is an error (a misbehaving upstream must not exhaust memory).
struct ServerSentEventParser {
    /// The longest line accepted, in bytes (default 1 MiB).
    let maxLineBytes: Int

    private var line: [UInt8] = []
    private var data: [UInt8]?
    private var lastWasCR = false

    struct LineTooLong: Error {}

    init(maxLineBytes: Int = 1 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Consumes `bytes` and returns the data payloads of the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [String] {
        var payloads: [String] = []
        for byte in bytes {
            if lastWasCR {
                lastWasCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\n"):
                endLine(into: &payloads)
            case UInt8(ascii: "\r"):
                lastWasCR = true
                endLine(into: &payloads)
            default:
                guard line.count < maxLineBytes else { throw LineTooLong() }
                line.append(byte)
            }
        }
        return payloads
    }

    /// Ends the input: an event without its final empty line still counts.
    mutating func finish() -> [String] {
        var payloads: [String] = []
        if !line.isEmpty { endLine(into: &payloads) }
        if let data {
            payloads.append(String(decoding: data, as: UTF8.self))
            self.data = nil
        }
        return payloads
    }

    private mutating func endLine(into payloads: inout [String]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if let data { payloads.append(String(decoding: data, as: UTF8.self)) }
            data = nil
            return
        }
        if line.first == UInt8(ascii: ":") { return }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        guard line[..<colon].elementsEqual("data".utf8) else { return }
        var value = colon < line.endIndex ? line[(colon + 1)...] : []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        if data == nil {
            data = Array(value)
        } else {
            data!.append(UInt8(ascii: "\n"))
            data!.append(contentsOf: value)
        }
    }
}

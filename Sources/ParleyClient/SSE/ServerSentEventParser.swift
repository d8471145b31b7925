/// One event of a `text/event-stream` body.
public struct ServerSentEvent: Hashable, Sendable {
    /// The `event:` field; `nil` means the default type, `message`.
    public var type: String?
    /// The `data:` lines joined with `\n`.
    public var data: String
    /// The `id:` field of this event, if it had one.
    public var id: String?
    /// The `retry:` field in milliseconds, if it had one.
    public var retryMilliseconds: Int?
    /// A comment line rather than an event (only from a parser that ``ServerSentEventParser/yieldsComments``):
    /// `data` is its text after the colon and one space.
    public var isComment: Bool

    public init(type: String? = nil, data: String, id: String? = nil, retryMilliseconds: Int? = nil, isComment: Bool = false) {
        self.type = type
        self.data = data
        self.id = id
        self.retryMilliseconds = retryMilliseconds
        self.isComment = isComment
    }
}

/// An incremental parser of the server-sent events format (the WHATWG HTML "event stream"
/// interpretation): bytes go in as they arrive, split anywhere (even inside a line or a UTF-8
/// sequence), and whole events come out.
///
/// Lines end in LF, CRLF or a lone CR (a CR at the end of one chunk followed by LF at the start of
/// the next is one line end). Lines starting with `:` are comments (heartbeats): dropped, or handed
/// over in order as comment events when ``yieldsComments`` is set.
/// A field without a colon has an empty value; one space after the colon is removed. `data` lines
/// accumulate; a blank line dispatches the event, unless it has no data (then it is dropped, as a
/// browser does). An `id` containing NUL is ignored. A leading UTF-8 byte order mark is skipped.
/// A line longer than ``maximumLineBytes`` throws: the stream is not one this client can trust.
public struct ServerSentEventParser: Sendable {
    /// The longest line accepted, in bytes. Default 1 MiB.
    public var maximumLineBytes: Int
    /// Whether comment lines come out (as events with ``ServerSentEvent/isComment``) instead of
    /// being dropped.
    public var yieldsComments: Bool
    /// The last `id` seen on any dispatched or pending event, the value of a resume's
    /// `Last-Event-ID`; survives across events as in the standard.
    public private(set) var lastEventID: String?

    private var line: [UInt8] = []
    private var afterCR = false
    private var atStart = true
    private var data: [String] = []
    private var hasData = false
    private var type: String?
    private var eventHasID = false
    private var retry: Int?

    /// The stream broke the format (a line too long).
    public struct FormatError: Error, Hashable, Sendable {
        public var message: String
    }

    public init(maximumLineBytes: Int = 1 << 20, yieldsComments: Bool = false) {
        self.maximumLineBytes = maximumLineBytes
        self.yieldsComments = yieldsComments
    }

    /// Feeds the next bytes of the body and returns the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0A:
                if let event = processLine() { events.append(event) }
            case 0x0D:
                afterCR = true
                if let event = processLine() { events.append(event) }
            default:
                guard line.count < maximumLineBytes else {
                    throw FormatError(message: "an event-stream line is longer than \(maximumLineBytes) bytes")
                }
                line.append(byte)
            }
        }
        return events
    }

    /// Forgets a partly received event and line (a new connection starts), keeping ``lastEventID``.
    public mutating func resetConnection() {
        line = []
        afterCR = false
        atStart = true
        data = []
        hasData = false
        type = nil
        eventHasID = false
        retry = nil
    }

    private mutating func processLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if atStart {
            atStart = false
            if line.starts(with: [0xEF, 0xBB, 0xBF]) { line.removeFirst(3) }
        }
        if line.isEmpty { return dispatch() }
        if line[0] == UInt8(ascii: ":") {
            guard yieldsComments else { return nil }
            let start = line.count > 1 && line[1] == UInt8(ascii: " ") ? 2 : 1
            return ServerSentEvent(data: String(decoding: line[start...], as: UTF8.self), isComment: true)
        }
        let name: String
        var value: Substring.UTF8View
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = String(decoding: line[..<colon], as: UTF8.self)
            var start = colon + 1
            if start < line.count, line[start] == UInt8(ascii: " ") { start += 1 }
            value = Substring(decoding: line[start...], as: UTF8.self).utf8
        } else {
            name = String(decoding: line, as: UTF8.self)
            value = Substring("").utf8
        }
        let text = String(Substring(value))
        switch name {
        case "data":
            data.append(text)
            hasData = true
        case "event":
            type = text
        case "id":
            if !text.utf8.contains(0) {
                lastEventID = text
                eventHasID = true
            }
        case "retry":
            if !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
                retry = Int(text)
            }
        default:
            break
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            data = []
            hasData = false
            type = nil
            eventHasID = false
            retry = nil
        }
        guard hasData else { return nil }
        return ServerSentEvent(
            type: type, data: data.joined(separator: "\n"), id: eventHasID ? lastEventID : nil,
            retryMilliseconds: retry)
    }
}

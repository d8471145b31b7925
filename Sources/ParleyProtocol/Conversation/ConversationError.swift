/// An error of the conversation service. Callers branch on ``code``; the HTTP gateway maps codes
/// to statuses (see ``Code``).
public struct ConversationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Open set of error codes; stable strings usable as the OpenAI-style `error.code`.
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No such conversation or message for this user (also for other users' ids). HTTP 404.
        public static let notFound = Code(rawValue: "not_found")
        /// Malformed input: unknown role, bad UTF-8, bad JSON, empty owner. HTTP 400.
        public static let invalidInput = Code(rawValue: "invalid_input")
        /// Input over a limit (content over 1 MiB, title, query). HTTP 413 for bodies, else 400.
        public static let tooLarge = Code(rawValue: "too_large")
        /// A cursor that is not one of ours or belongs to another listing. HTTP 400.
        public static let invalidCursor = Code(rawValue: "invalid_cursor")
        /// The conversation was deleted. HTTP 404 (410 if the gateway prefers).
        public static let deleted = Code(rawValue: "deleted")
        /// A write contradicts stored state (e.g. parent in another conversation). HTTP 409.
        public static let conflict = Code(rawValue: "conflict")
        /// Replication data (snapshot chunk, change batch) failed a checksum or could not be decoded.
        public static let corruptData = Code(rawValue: "corrupt_data")
        /// The storage engine failed (an I/O error, a damaged file). HTTP 503.
        public static let storageFailure = Code(rawValue: "storage_failure")
        /// The disk that holds the database is full: the write was not stored (nor any part of
        /// it), and writes work again once there is room. HTTP 503.
        public static let storageFull = Code(rawValue: "storage_full")
    }

    public var code: Code
    /// What happened, for logs and the API's `error.message`. Never contains message content.
    public var message: String
    /// Underlying error, if any.
    public var cause: String?
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause.map { String(describing: $0) }
        self.file = file
        self.line = line
    }

    public var description: String {
        var text = "ConversationError(\(code)): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text + " [\(file):\(line)]"
    }
}

import Foundation

/// A failure of a call to Parley's HTTP API.
///
/// Branch on ``code``; for an answer of the server, ``status`` and the fields of its OpenAI-shaped
/// error body (`{"error": {"message", "type", "param", "code"}}`) are kept as they came.
public struct ParleyClientError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; open to new values.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// 400: the request was malformed.
        public static let badRequest = Code(rawValue: "bad_request")
        /// 401: no or a wrong API key or token.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// 403: not allowed for this user.
        public static let forbidden = Code(rawValue: "forbidden")
        /// 404: no such conversation, request or model.
        public static let notFound = Code(rawValue: "not_found")
        /// 413: the body was too large.
        public static let tooLarge = Code(rawValue: "too_large")
        /// 422: valid, but Parley cannot do it.
        public static let unprocessable = Code(rawValue: "unprocessable")
        /// 429: a rate limit; see ``ParleyClientError/retryAfter``.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// 503: overloaded or no backend; see ``ParleyClientError/retryAfter``.
        public static let unavailable = Code(rawValue: "unavailable")
        /// Any other 5xx.
        public static let serverError = Code(rawValue: "server_error")
        /// Any other unexpected status.
        public static let unexpectedStatus = Code(rawValue: "unexpected_status")
        /// No gateway could be reached (connection refused, timed out, reset before an answer).
        public static let connectionFailed = Code(rawValue: "connection_failed")
        /// A stream broke and every resume attempt failed.
        public static let streamBroken = Code(rawValue: "stream_broken")
        /// The server sent an error event inside an already started stream.
        public static let streamError = Code(rawValue: "stream_error")
        /// The answer did not follow the contract (bad JSON, bad event stream).
        public static let invalidResponse = Code(rawValue: "invalid_response")
    }

    public var code: Code
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// Human-readable; the server's `error.message` when there was one.
    public var message: String
    /// OpenAI's `error.type` (`rate_limit_error`, …).
    public var type: String?
    /// OpenAI's `error.param`.
    public var param: String?
    /// OpenAI's `error.code` (`rate_limited`, `invalid_api_key`, …).
    public var apiCode: String?
    /// From `Retry-After` (seconds, or an HTTP date), on 429 and 503.
    public var retryAfter: Duration?
    /// The server's `x-request-id`, if known.
    public var requestID: String?
    /// The underlying error.
    public var cause: (any Error)?
    /// Where it was thrown.
    public var location: String

    public init(
        _ code: Code, _ message: String, status: Int? = nil, type: String? = nil, param: String? = nil,
        apiCode: String? = nil, retryAfter: Duration? = nil, requestID: String? = nil, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.apiCode = apiCode
        self.retryAfter = retryAfter
        self.requestID = requestID
        self.cause = cause
        self.location = "\(file):\(line)"
    }

    public var description: String {
        var text = "\(code)"
        if let status { text += " (HTTP \(status))" }
        if let apiCode { text += " [\(apiCode)]" }
        text += ": \(message)"
        if let retryAfter { text += "; retry after \(retryAfter)" }
        if let cause { text += "; caused by: \(cause)" }
        return text
    }

    /// The code for an HTTP status.
    public static func code(forStatus status: Int) -> Code {
        switch status {
        case 400: .badRequest
        case 401: .unauthorized
        case 403: .forbidden
        case 404: .notFound
        case 413: .tooLarge
        case 422: .unprocessable
        case 429: .rateLimited
        case 503: .unavailable
        case 500..<600: .serverError
        default: .unexpectedStatus
        }
    }

    /// The error for a non-2xx answer: reads the OpenAI error body if it is one, else keeps a
    /// short excerpt of the body as the message.
    static func fromResponse(
        status: Int, body: [UInt8], retryAfterHeader: String?, requestID: String?, now: Date = Date(),
        file: String = #fileID, line: Int = #line
    ) -> ParleyClientError {
        var error = ParleyClientError(
            code(forStatus: status), "HTTP \(status)", status: status,
            retryAfter: retryAfterHeader.flatMap { parseRetryAfter($0, now: now) }, requestID: requestID,
            file: file, line: line)
        if let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)) {
            error.message = envelope.error.message ?? error.message
            error.type = envelope.error.type
            error.param = envelope.error.param
            error.apiCode = envelope.error.code
        } else if !body.isEmpty {
            error.message = String(decoding: body.prefix(200), as: UTF8.self)
        }
        return error
    }

    /// An error object sent as a `data:` event inside a started stream, or `nil` if `data` is not one.
    static func fromStreamEvent(_ data: String, requestID: String?) -> ParleyClientError? {
        guard data.contains("\"error\""),
            let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(data.utf8))
        else { return nil }
        var error = ParleyClientError(
            .streamError, envelope.error.message ?? "error in stream", type: envelope.error.type,
            param: envelope.error.param, apiCode: envelope.error.code, requestID: requestID)
        if envelope.error.code == "rate_limited" { error.code = .rateLimited }
        return error
    }

    /// `Retry-After`: whole (or fractional) seconds, or an IMF-fixdate HTTP date.
    static func parseRetryAfter(_ text: String, now: Date) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite {
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }

    struct ErrorEnvelope: Decodable {
        struct Inner: Decodable {
            var message: String?
            var type: String?
            var param: String?
            var code: String?

            enum CodingKeys: String, CodingKey { case message, type, param, code }

            /// Lenient: a field of another JSON type (a numeric `code`, say) is kept as text or dropped.
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                func text(_ key: CodingKeys) -> String? {
                    if let value = try? c.decodeIfPresent(String.self, forKey: key) { return value }
                    if let value = try? c.decodeIfPresent(Int.self, forKey: key) { return String(value) }
                    return nil
                }
                message = text(.message)
                type = text(.type)
                param = text(.param)
                code = text(.code)
            }
        }
        var error: Inner
    }
}

import Foundation
public import HTTPTypes
public import Hummingbird
import NIOCore
import ParleyCluster
import ParleyProtocol

/// An error answered in OpenAI's shape `{"error": {"message", "type", "param", "code"}}` with its
/// HTTP status and, for 429 and 503, a `Retry-After` header.
public struct OpenAIError: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `not_found_error`, `rate_limit_error`, `server_error`, …
    public var type: String
    /// The offending request field, if any.
    public var param: String?
    /// Machine-readable code (`invalid_value`, `rate_limited`, …).
    public var code: String?
    /// Whole seconds for `Retry-After` (429, 503).
    public var retryAfterSeconds: Int?
    /// Extra headers (rate-limit headers).
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ message: String, type: String? = nil, param: String? = nil,
        code: String? = nil, retryAfterSeconds: Int? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.type = type ?? Self.defaultType(for: status)
        self.param = param
        self.code = code
        self.retryAfterSeconds = retryAfterSeconds
        self.headers = headers
    }

    public var description: String { "\(status.code) \(type)/\(code ?? "-"): \(message)" }

    static func defaultType(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found_error"
        case 409: "conflict_error"
        case 413: "request_too_large"
        case 422: "unprocessable_entity_error"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        default: "server_error"
        }
    }

    /// The JSON body, its keys in the same (sorted) order every time.
    var body: [UInt8] {
        struct Envelope: Encodable {
            struct Inner: Encodable {
                var message: String
                var type: String
                var param: String?
                var code: String?
                func encode(to encoder: any Encoder) throws {
                    // `param` and `code` are written as null when absent, as OpenAI does.
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(message, forKey: .message)
                    try c.encode(type, forKey: .type)
                    try c.encode(param, forKey: .param)
                    try c.encode(code, forKey: .code)
                }
                enum CodingKeys: String, CodingKey { case message, type, param, code }
            }
            var error: Inner
        }
        let envelope = Envelope(error: .init(message: message, type: type, param: param, code: code))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(envelope)) ?? Data(#"{"error":{"message":"error"}}"#.utf8))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        if let retryAfterSeconds { fields[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: Common errors

    static func invalid(_ message: String, param: String? = nil, code: String = "invalid_value") -> OpenAIError {
        OpenAIError(.badRequest, message, param: param, code: code)
    }

    static func unauthorized(_ message: String) -> OpenAIError {
        OpenAIError(.unauthorized, message, code: "invalid_api_key")
    }

    static func notFound(_ message: String) -> OpenAIError {
        OpenAIError(.notFound, message, code: "not_found")
    }
}

extension HTTPField.Name {
    static let requestID = HTTPField.Name("x-request-id")!
    static let conversationID = HTTPField.Name("x-parley-conversation-id")!
    static let rateLimitLimit = HTTPField.Name("x-ratelimit-limit-requests")!
    static let rateLimitRemaining = HTTPField.Name("x-ratelimit-remaining-requests")!
    static let rateLimitReset = HTTPField.Name("x-ratelimit-reset-requests")!
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}

extension OpenAIError {
    /// Maps any error from the backends or the framework to an OpenAI-shaped error. Never returns
    /// a 500 for a client's mistake: only unknown internal failures become 500.
    static func from(_ error: any Error) -> OpenAIError {
        switch error {
        case let error as OpenAIError:
            return error
        case let error as ServingError:
            return fromCode(error.code, message: error.message, retryAfter: error.retryAfterSeconds)
        case let error as ConversationError:
            return fromConversation(error.code.rawValue, message: error.message)
        case let error as ClusterError:
            return fromCluster(error)
        case let error as HTTPError:
            let status = error.status
            let message = error.body ?? status.reasonPhrase
            if status == .notFound { return OpenAIError(.notFound, "no such endpoint", code: "unknown_url") }
            if status == .methodNotAllowed { return OpenAIError(.methodNotAllowed, message, code: "method_not_allowed") }
            return OpenAIError(status, message)
        case is NIOTooManyBytesError:
            return OpenAIError(.contentTooLarge, "request body too large", code: "request_too_large")
        case is DecodingError:
            return invalid("the body is not valid JSON for this endpoint", code: "invalid_json")
        case is CancellationError:
            return OpenAIError(.serviceUnavailable, "the request was cancelled", code: "cancelled", retryAfterSeconds: 1)
        default:
            return OpenAIError(.internalServerError, "internal error", code: "internal_error")
        }
    }

    /// A `ClusterError` carries the code of a remote `WireError` (`ServingError`, `ConversationError`).
    static func fromCluster(_ error: ClusterError) -> OpenAIError {
        switch error.code {
        case .timedOut:
            return OpenAIError(.serviceUnavailable, "the cluster did not answer in time", code: "timeout", retryAfterSeconds: 1)
        case .nodeDown, .actorNotFound, .shutDown:
            return OpenAIError(.serviceUnavailable, "no node could serve the request", code: "no_backend", retryAfterSeconds: 1)
        case .tooLarge:
            return OpenAIError(.contentTooLarge, error.message, code: "request_too_large")
        default:
            break
        }
        let code = error.code.rawValue
        let servingCodes: Set<String> = [
            ServingError.rateLimited, ServingError.overloaded, ServingError.modelNotFound, ServingError.noBackend,
            ServingError.invalidRequest, ServingError.notFound, ServingError.duplicateRequest,
            ServingError.storeUnavailable, "forbidden",
        ]
        if servingCodes.contains(code) {
            return fromCode(code, message: error.message, retryAfter: retryAfter(in: error.message))
        }
        if ConversationErrorCodes.all.contains(code) {
            return fromConversation(code, message: error.message)
        }
        return OpenAIError(.internalServerError, "internal error", code: "internal_error")
    }

    static func fromCode(_ code: String, message: String, retryAfter: Double?) -> OpenAIError {
        let seconds = retryAfter.map { max(1, Int($0.rounded(.up))) }
        switch code {
        case ServingError.rateLimited:
            // Nothing remains when the requests window is full; when another limit refused (answers
            // at once, tokens this minute) the requests left are unknown here, so that header is
            // left out rather than a wrong 0.
            let reset = seconds ?? 1
            let refusal = ServingError.rateLimitRefusal(in: message)
            var headers: HTTPFields = [.rateLimitReset: "\(reset)s"]
            if refusal.reason == nil || refusal.reason == .requests { headers[.rateLimitRemaining] = "0" }
            if let limit = refusal.limit { headers[.rateLimitLimit] = String(limit) }
            return OpenAIError(.tooManyRequests, message, code: code, retryAfterSeconds: reset, headers: headers)
        case ServingError.overloaded, ServingError.noBackend, ServingError.storeUnavailable:
            return OpenAIError(.serviceUnavailable, message, code: code, retryAfterSeconds: seconds ?? 1)
        case ServingError.modelNotFound:
            return OpenAIError(.notFound, message, param: "model", code: code)
        case ServingError.invalidRequest:
            return OpenAIError(.badRequest, message, code: code)
        case ServingError.notFound:
            return OpenAIError(.notFound, message, code: code)
        case ServingError.duplicateRequest:
            return OpenAIError(.conflict, message, code: code)
        case "forbidden":
            return OpenAIError(.forbidden, message, code: code)
        default:
            return OpenAIError(.internalServerError, "internal error", code: "internal_error")
        }
    }

    static func fromConversation(_ code: String, message: String) -> OpenAIError {
        switch code {
        case "not_found", "deleted": OpenAIError(.notFound, message, code: code)
        case "invalid_input", "invalid_cursor": OpenAIError(.badRequest, message, code: code)
        case "too_large": OpenAIError(.contentTooLarge, message, code: code)
        case "conflict": OpenAIError(.conflict, message, code: code)
        case "corrupt_data": OpenAIError(.unprocessableContent, message, code: code)
        case "storage_full":
            OpenAIError(
                .serviceUnavailable, "the conversation store is out of disk space; nothing was stored", code: code,
                retryAfterSeconds: 30)
        default: OpenAIError(.serviceUnavailable, "the conversation store failed", code: code, retryAfterSeconds: 1)
        }
    }

    /// Reads the "(retry after N s)" suffix `ServingError.wireMessage` adds.
    static func retryAfter(in message: String) -> Double? {
        number(after: "(retry after ", in: message)
    }

    /// The number that follows the last `marker` in `message`.
    static func number(after marker: String, in message: String) -> Double? {
        guard let range = message.range(of: marker, options: .backwards) else { return nil }
        let rest = message[range.upperBound...]
        let digits = rest.prefix { $0.isNumber || $0 == "." }
        return Double(digits)
    }
}

/// The codes of `ConversationError` as strings (they cross the wire as `ClusterError` codes).
enum ConversationErrorCodes {
    static let all: Set<String> = [
        ConversationError.Code.notFound, .invalidInput, .tooLarge, .invalidCursor, .deleted, .conflict, .corruptData,
        .storageFailure, .storageFull,
    ].reduce(into: []) { $0.insert($1.rawValue) }
}

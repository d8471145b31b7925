import Foundation
import Hummingbird
import Logging
import NIOCore

/// The per-request context of the gateway: the authenticated user and the request id.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` on every authenticated route.
    var user: String?
    /// The `x-request-id` of this request (the client's, if it sent a valid one).
    var requestID: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        requestID = ""
    }

    /// Bodies are read with explicit limits per endpoint; this is only the framework's default.
    var maxUploadSize: Int { 64 << 20 }

    /// The authenticated user, or a 401.
    func requireUser() throws -> String {
        guard let user else { throw OpenAIError.unauthorized("missing credentials") }
        return user
    }
}

/// Maps every error to an OpenAI-shaped answer and stamps `x-request-id` on every response.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(from: request)
        do {
            var response = try await next(request, context)
            if response.headers[.requestID] == nil { response.headers[.requestID] = context.requestID }
            return response
        } catch {
            let mapped = OpenAIError.from(error)
            if mapped.status.code >= 500 {
                context.logger.error(
                    "request failed",
                    metadata: ["error.type": "\(type(of: error))", "http.status": "\(mapped.status.code)"])
            }
            var response = try mapped.response(from: request, context: context)
            if response.headers[.requestID] == nil { response.headers[.requestID] = context.requestID }
            return response
        }
    }

    /// The client's `x-request-id` when it is short and printable, else a new one.
    static func requestID(from request: Request) -> String {
        if let given = request.headers[.requestID], (1...128).contains(given.utf8.count),
            given.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        {
            return given
        }
        return "req-" + RandomIdentifier.hex128()
    }
}

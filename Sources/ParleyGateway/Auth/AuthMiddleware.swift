import Foundation
import HTTPTypes
import Hummingbird

/// Requires `Authorization: Bearer <token>` and puts the caller's user id into the context.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let authenticator: Authenticator

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw OpenAIError.unauthorized("missing Authorization header (expected: Bearer <API key or token>)")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw OpenAIError.unauthorized("the Authorization header must be: Bearer <API key or token>")
        }
        var context = context
        context.user = try await authenticator.authenticate(token: String(parts[1]).trimmingCharacters(in: .whitespaces))
        return try await next(request, context)
    }
}

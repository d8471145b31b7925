import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ParleyProtocol
import Prometheus

/// The gateway's HTTP endpoints (DESIGN.md's HTTP table) over its three backends.
struct GatewayRoutes: Sendable {
    let configuration: GatewayConfiguration
    let completions: any CompletionBackend
    let conversations: any ConversationBackend
    let status: any NodeStatusProvider
    let authenticator: Authenticator
    let metrics: GatewayMetrics
    let registry: PrometheusCollectorRegistry?
    let web: WebAssets
    /// Streams whose client went away, in their grace period.
    let abandoned = AbandonedStreams()
    let heartbeats: HeartbeatTicker
    let logger: Logger

    /// The router with every endpoint; `/v1/…` requires authentication.
    func makeRouter() -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.get("/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: web.page))
        }
        router.get("/assets/:name") { _, context in
            guard let name = context.parameters.get("name"), let asset = web.asset(named: name) else {
                throw OpenAIError(.notFound, "no such asset", code: "not_found")
            }
            return Response(
                status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                body: .init(byteBuffer: asset.body))
        }
        router.get("/healthz") { _, _ in Self.json(#"{"status":"ok"}"#) }
        router.get("/readyz") { _, _ in
            guard status.isReady() else {
                throw OpenAIError(.serviceUnavailable, "not ready: not joined or no completion node", code: "not_ready", retryAfterSeconds: 1)
            }
            return Self.json(#"{"status":"ready"}"#)
        }
        router.get("/metrics") { _, _ in
            let text = registry?.emitToString() ?? ""
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: text)))
        }

        let api = router.group("v1").add(middleware: AuthMiddleware(authenticator: authenticator))
        api.post("chat/completions") { request, context in try await chatCompletions(request, context) }
        api.post("chat/completions/:request_id/cancel") { request, context in try await cancel(request, context) }
        api.get("chat/completions/:request_id/stream") { request, context in try await resume(request, context) }
        api.get("models") { request, context in try await models(request, context) }
        api.get("models/**") { request, context in try await model(request, context) }
        api.get("cluster") { _, _ in try await Self.json(encoding: status.clusterStatus()) }
        addConversationRoutes(to: api)
        addResponseRoutes(to: api)
        return router
    }

    // MARK: Helpers

    static func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(encoding value: some Encodable, headers: HTTPFields = [:]) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A path parameter that must be present, short and printable.
    static func identifier(_ name: String, _ context: GatewayRequestContext) throws -> String {
        guard let value = context.parameters.get(name), (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw OpenAIError.invalid("invalid '\(name)'", param: name) }
        return value
    }

    /// `limit` query parameter: 1...200 or absent.
    static func limit(_ request: Request) throws -> Int? {
        guard let text = request.uri.queryParameters.get("limit") else { return nil }
        guard let value = Int(text), (1...ConversationLimits.maxPageSize).contains(value) else {
            throw OpenAIError.invalid("'limit' must be an integer from 1 to \(ConversationLimits.maxPageSize)", param: "limit")
        }
        return value
    }

    static func cursor(_ request: Request) throws -> String? {
        guard let text = request.uri.queryParameters.get("cursor") else { return nil }
        guard !text.isEmpty, text.utf8.count <= 1024 else { throw OpenAIError.invalid("invalid 'cursor'", param: "cursor") }
        return text
    }

    /// Reads the body up to `limit` bytes (413 beyond).
    static func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw OpenAIError(.contentTooLarge, "request body larger than \(limit) bytes", code: "request_too_large")
        }
    }
}

public import AsyncHTTPClient
import Foundation
public import Logging
import NIOCore
import NIOHTTP1

/// A small async client of Parley's HTTP API (OpenAI-compatible chat completions with SSE, resume
/// and cancel; models; conversations list, get, search and import).
///
/// Streams resume by themselves: when a connection breaks mid-answer, the stream calls
/// `GET /v1/chat/completions/{id}/stream` with `Last-Event-ID`, on the same gateway and then on the
/// others of ``Configuration/gatewayURLs``, and hands every token to the caller exactly once.
/// Errors are ``ParleyClientError``s built from the server's OpenAI-shaped bodies.
public final class ParleyClient: Sendable {
    public let configuration: Configuration
    let http: HTTPClient
    private let ownsHTTPClient: Bool
    let logger: Logger

    /// A client with its own `HTTPClient` (on the shared event loop group); call ``shutdown()``.
    public init(configuration: Configuration, logger: Logger = Logger(label: "parley.client")) {
        precondition(!configuration.gatewayURLs.isEmpty, "at least one gateway URL")
        self.configuration = configuration
        self.logger = logger
        var httpConfiguration = HTTPClient.Configuration()
        httpConfiguration.timeout = .init(
            connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.readTimeout))
        httpConfiguration.connectionPool = .init(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnectionsPerGateway)
        // With other gateways to go to, a refused connection fails at once and the request moves on
        // (a killed gateway would otherwise stall it for the whole connect timeout, retried with
        // backoff). A lone gateway is retried until the connect timeout, as it may be restarting.
        httpConfiguration.connectionPool.retryConnectionEstablishment = configuration.gatewayURLs.count == 1
        httpConfiguration.httpVersion = .http1Only
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: httpConfiguration)
        ownsHTTPClient = true
    }

    /// A client on an `HTTPClient` owned by the caller (its timeouts and pool apply; the
    /// timeouts of `configuration` other than ``Configuration/requestTimeout`` do not).
    public init(configuration: Configuration, httpClient: HTTPClient, logger: Logger = Logger(label: "parley.client")) {
        precondition(!configuration.gatewayURLs.isEmpty, "at least one gateway URL")
        self.configuration = configuration
        self.logger = logger
        http = httpClient
        ownsHTTPClient = false
    }

    /// A client on the same connections with another key and/or its gateway list rotated by
    /// `gatewayOffset` (so many simulated users spread over the gateways). It does not own the
    /// connections: shut down this client, not the returned one.
    public func sharingConnections(apiKey: String?, gatewayOffset: Int = 0) -> ParleyClient {
        var configuration = self.configuration
        configuration.apiKey = apiKey
        let count = configuration.gatewayURLs.count
        let offset = ((gatewayOffset % count) + count) % count
        configuration.gatewayURLs = Array(configuration.gatewayURLs[offset...] + configuration.gatewayURLs[..<offset])
        return ParleyClient(configuration: configuration, httpClient: http, logger: logger)
    }

    /// Closes the connections of a client that owns its `HTTPClient`; a no-op otherwise.
    public func shutdown() async throws {
        if ownsHTTPClient { try await http.shutdown() }
    }

    // MARK: Requests

    /// The gateway URL at `index` of the list, without a trailing slash.
    func gateway(_ index: Int) -> String {
        var url = configuration.gatewayURLs[index % configuration.gatewayURLs.count]
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    func request(_ method: HTTPMethod, gateway: Int, path: String, json: [UInt8]? = nil) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: self.gateway(gateway) + path)
        request.method = method
        if let apiKey = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer " + apiKey) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json))
        }
        return request
    }

    /// Sends a request and reads the whole answer. Idempotent requests (`retryOtherGateways`) go to
    /// the next gateway when one cannot be reached; others only when the connection was refused.
    func send(
        _ method: HTTPMethod, path: String, json: [UInt8]? = nil, startAt: Int = 0, retryOtherGateways: Bool
    ) async throws -> (body: [UInt8], headers: HTTPHeaders, gateway: Int) {
        let (response, gateway) = try await execute(
            method, path: path, json: json, startAt: startAt, retryOtherGateways: retryOtherGateways)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: configuration.maximumResponseBytes)
        } catch {
            throw ParleyClientError(.connectionFailed, "the answer broke off", status: Int(response.status.code), cause: error)
        }
        let bytes = Array(body.readableBytesView)
        try Self.check(response, body: bytes)
        return (bytes, response.headers, gateway)
    }

    /// Sends a request and returns once the response head arrived (the body not yet read), trying
    /// the gateways in order from `startAt` as described in ``send(_:path:json:startAt:retryOtherGateways:)``.
    func execute(
        _ method: HTTPMethod, path: String, json: [UInt8]? = nil, startAt: Int = 0, retryOtherGateways: Bool,
        headers extra: [(String, String)] = []
    ) async throws -> (HTTPClientResponse, gateway: Int) {
        var lastError: (any Error)?
        for offset in 0..<configuration.gatewayURLs.count {
            let gateway = (startAt + offset) % configuration.gatewayURLs.count
            var request = request(method, gateway: gateway, path: path, json: json)
            for (name, value) in extra { request.headers.add(name: name, value: value) }
            do {
                let response = try await http.execute(
                    request, timeout: TimeAmount(configuration.requestTimeout), logger: logger)
                return (response, gateway)
            } catch {
                if Task.isCancelled { throw CancellationError() }
                lastError = error
                let canRetry = retryOtherGateways || Self.isConnectFailure(error)
                logger.debug(
                    "gateway unreachable",
                    metadata: ["gateway.url": "\(self.gateway(gateway))", "error": "\(error)", "retry": "\(canRetry)"])
                guard canRetry else { break }
            }
        }
        throw ParleyClientError(
            .connectionFailed, "no gateway could be reached", cause: lastError)
    }

    /// Throws the ``ParleyClientError`` of a non-2xx answer.
    static func check(_ response: HTTPClientResponse, body: [UInt8]) throws {
        let status = Int(response.status.code)
        guard !(200..<300).contains(status) else { return }
        throw ParleyClientError.fromResponse(
            status: status, body: body, retryAfterHeader: response.headers.first(name: "Retry-After"),
            requestID: response.headers.first(name: "x-request-id"))
    }

    /// Reads at most 64 KiB of an error answer and throws its ``ParleyClientError``.
    static func throwError(_ response: HTTPClientResponse) async throws -> Never {
        let body = (try? await response.body.collect(upTo: 64 << 10)).map { Array($0.readableBytesView) } ?? []
        try check(response, body: body)
        throw ParleyClientError(.unexpectedStatus, "unexpected status \(response.status.code)")
    }

    /// Failures where the request surely never reached a server (so even a POST may go elsewhere).
    static func isConnectFailure(_ error: any Error) -> Bool {
        // No connection was made (or none became free in time): the request was never sent.
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .getConnectionFromPoolTimeout {
            return true
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            return true
        }
        let text = String(describing: error)
        return text.contains("connectTimeout") || text.contains("Connection refused")
    }

    func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch {
            throw ParleyClientError(.invalidResponse, "the answer is not the expected \(T.self) JSON", cause: error)
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

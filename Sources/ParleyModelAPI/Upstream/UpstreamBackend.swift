import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import ParleyProtocol

/// An OpenAI-compatible upstream server (`--upstream URL`: vLLM, llama.cpp server, Ollama, …).
///
/// Each generation is one `POST {baseURL}/v1/chat/completions` with `stream: true`, read as
/// server-sent events over async-http-client; every chunk with content becomes one token event.
/// Cancelling the stream cancels the HTTP request. HTTP errors map to `ServingError` codes
/// (400/422 → `invalid_request`, 404 → `model_not_found`, 429 and 5xx → `overloaded`, others →
/// `no_backend`).
///
/// Tools are offered as OpenAI's `tools`; the calls the upstream streams back become markup in the
/// answer's text (``UpstreamToolCallText``), and calls and results in the chat go up as OpenAI's
/// `tool_calls` and `tool` messages (``UpstreamMessage``).
///
/// Limitation: an upstream cannot continue a half-written answer token-exactly. A resumed request
/// is sent as the chat plus the partial assistant message and a user instruction to continue it
/// without repeating; the continuation is numbered from `resume.tokenCount`, but its wording may
/// differ from what the first upstream would have said.
public struct UpstreamBackend: ModelBackend {
    /// Where the upstream is and what it serves.
    public struct Configuration: Sendable {
        /// The server's base URL, without `/v1` (for example `http://127.0.0.1:8080`).
        public var baseURL: String
        /// The upstream's model names this node serves; empty (the default): every model of
        /// `GET {baseURL}/v1/models`, read by ``connect(_:)``.
        public var models: [String]
        /// Sent as `Authorization: Bearer …` when set. Default none.
        public var apiKey: String?
        /// Time allowed to connect; a refused connection is retried until then (default 1 s).
        public var connectTimeout: Duration
        /// Time allowed until the response head arrives (default 60 s: covers queueing and prefill).
        public var responseTimeout: Duration
        /// Longest silence between two chunks of a streaming body (default 60 s).
        public var readTimeout: Duration

        /// Creates a configuration; see the properties for defaults.
        public init(
            baseURL: String, models: [String] = [], apiKey: String? = nil, connectTimeout: Duration = .seconds(1),
            responseTimeout: Duration = .seconds(60), readTimeout: Duration = .seconds(60)
        ) {
            self.connectTimeout = connectTimeout
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.models = models
            self.apiKey = apiKey
            self.responseTimeout = responseTimeout
            self.readTimeout = readTimeout
        }
    }

    /// The instruction appended after a partial assistant message on resume.
    public static let continuationInstruction =
        "Continue your previous answer exactly where it stopped. Do not repeat any of it and do not comment."

    public let configuration: Configuration
    let client: HTTPClient

    private init(configuration: Configuration, client: HTTPClient) {
        self.configuration = configuration
        self.client = client
    }

    /// Creates the HTTP client and, when ``Configuration/models`` is empty, asks the upstream which
    /// models it serves. Throws `ServingError(no_backend)` when the upstream cannot be reached.
    public static func connect(_ configuration: Configuration) async throws -> UpstreamBackend {
        var http = HTTPClient.Configuration()
        http.timeout = .init(
            connect: configuration.connectTimeout.timeAmount, read: configuration.readTimeout.timeAmount)
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
        var configuration = configuration
        do {
            if configuration.models.isEmpty {
                configuration.models = try await listModels(configuration, client: client)
            }
            guard !configuration.models.isEmpty else {
                throw ServingError(ServingError.noBackend, "the upstream at \(configuration.baseURL) lists no models")
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        return UpstreamBackend(configuration: configuration, client: client)
    }

    public var models: [ModelInfo] {
        configuration.models.map { ModelInfo(id: $0, backend: "upstream") }
    }

    public func generate(_ request: ModelRequest) throws -> UpstreamEvents {
        var messages = request.messages
        if let resume = request.resume, !resume.text.isEmpty {
            messages.append(ChatMessage(role: "assistant", content: resume.text))
            messages.append(ChatMessage(role: "user", content: Self.continuationInstruction))
        }
        let first = request.firstTokenIndex
        let body = UpstreamRequestBody(
            model: request.model, messages: UpstreamMessage.from(messages), temperature: request.sampling.temperature,
            topP: request.sampling.topP, maxTokens: request.sampling.maxTokens.map { max(1, $0 - first) },
            seed: request.sampling.seed, stop: request.sampling.stop.isEmpty ? nil : request.sampling.stop,
            frequencyPenalty: request.sampling.frequencyPenalty, presencePenalty: request.sampling.presencePenalty,
            logitBias: request.sampling.logitBias.isEmpty
                ? nil : Dictionary(uniqueKeysWithValues: request.sampling.logitBias.map { (String($0), $1) }),
            logprobs: request.sampling.logprobs.map { _ in true }, topLogprobs: request.sampling.logprobs,
            topK: request.sampling.topK, minP: request.sampling.minP, repetitionPenalty: request.sampling.repetitionPenalty)
        var http = HTTPClientRequest(url: configuration.baseURL + "/v1/chat/completions")
        http.method = .POST
        http.headers.add(name: "content-type", value: "application/json")
        http.headers.add(name: "accept", value: "text/event-stream")
        if let apiKey = configuration.apiKey { http.headers.add(name: "authorization", value: "Bearer \(apiKey)") }
        http.body = .bytes(ByteBuffer(bytes: try body.json(responseFormat: request.sampling.responseFormat, tools: request.sampling.tools)))
        let exhausted = request.sampling.maxTokens.map { $0 <= first } ?? false
        return UpstreamEvents(
            client: client, request: http, firstIndex: first, exhausted: exhausted,
            responseTimeout: configuration.responseTimeout)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    static func listModels(_ configuration: Configuration, client: HTTPClient) async throws -> [String] {
        struct List: Decodable {
            struct Model: Decodable { var id: String }
            var data: [Model]
        }
        var request = HTTPClientRequest(url: configuration.baseURL + "/v1/models")
        if let apiKey = configuration.apiKey { request.headers.add(name: "authorization", value: "Bearer \(apiKey)") }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(10))
        } catch {
            throw ServingError(
                ServingError.noBackend, "the upstream at \(configuration.baseURL) is unreachable: \(error)")
        }
        let body = try await response.body.collect(upTo: 4 << 20)
        guard response.status == .ok,
            let list = try? JSONDecoder().decode(List.self, from: Data(body.readableBytesView))
        else {
            throw ServingError(
                ServingError.noBackend, "the upstream's model list answered \(response.status.code) with no usable list"
            )
        }
        return list.data.map(\.id)
    }

    /// The serving error for an upstream HTTP status.
    static func error(status: HTTPResponseStatus, message: String) -> ServingError {
        let text = "upstream answered \(status.code): \(message)"
        switch status.code {
        case 400, 422: return ServingError(ServingError.invalidRequest, text)
        case 404: return ServingError(ServingError.modelNotFound, text)
        case 429, 500...599: return ServingError(ServingError.overloaded, text, retryAfterSeconds: 1)
        default: return ServingError(ServingError.noBackend, text)
        }
    }
}

extension Duration {
    /// This duration as a NIO `TimeAmount` (nanosecond precision).
    var timeAmount: TimeAmount {
        .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }
}

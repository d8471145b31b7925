import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension ParleyClient {
    /// Starts a streamed completion. Returns once the gateway accepted it (so 401, 429 and the
    /// like throw here); iterate the result for the tokens. The request carries a fresh
    /// `Idempotency-Key`, so when its gateway fails before answering it is sent to the next one:
    /// a gateway that finds it already started replays it instead of running it twice. The key
    /// begins with the time (12 hex digits of Unix milliseconds and `-`, the gateway's `TimePrefix`,
    /// written here because this client does without ParleyProtocol), which the gateway keeps at the
    /// head of the request id, so the stores index the request's rows in time order.
    public func streamChatCompletion(_ request: ChatCompletionRequest) async throws -> ChatCompletionStream {
        let json = try request.bodyJSON(stream: true)
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        let time = String(milliseconds, radix: 16)
        let key = String(repeating: "0", count: 12 - time.count) + time + "-" + UUID().uuidString.lowercased()
        let (response, gateway) = try await execute(
            .POST, path: "/v1/chat/completions", json: Array(json), retryOtherGateways: true,
            headers: [("Accept", "text/event-stream"), ("Idempotency-Key", key)])
        guard response.status.code == 200 else { try await Self.throwError(response) }
        guard let requestID = response.headers.first(name: "x-request-id") else {
            throw ParleyClientError(.invalidResponse, "the stream answer has no x-request-id", status: 200)
        }
        return ChatCompletionStream(
            requestID: requestID, conversationID: response.headers.first(name: "x-parley-conversation-id"),
            gatewayURL: self.gateway(gateway), client: self, gateway: gateway, body: response.body)
    }

    /// A whole completion in one answer (`stream: false`).
    public func chatCompletion(_ request: ChatCompletionRequest) async throws -> ChatCompletion {
        let json = try request.bodyJSON(stream: false)
        let (body, headers, _) = try await send(
            .POST, path: "/v1/chat/completions", json: Array(json), retryOtherGateways: false)
        let answer = try decode(CompletionBody.self, from: body)
        let choice = answer.choices.first
        return ChatCompletion(
            id: answer.id, model: answer.model ?? request.model, content: choice?.message.content ?? "",
            finishReason: choice?.finishReason, usage: answer.usage,
            conversationID: headers.first(name: "x-parley-conversation-id"), logprobs: choice?.logprobs?.content,
            toolCalls: choice?.message.toolCalls ?? [])
    }

    /// Stops a running completion everywhere downstream (`POST /v1/chat/completions/{id}/cancel`);
    /// the partial answer is stored as cancelled. Returns false when the server no longer knows it
    /// as running (already finished).
    @discardableResult
    public func cancel(requestID: String) async throws -> Bool {
        try await cancel(requestID: requestID, startAt: 0)
    }

    func cancel(requestID: String, startAt: Int) async throws -> Bool {
        do {
            _ = try await send(
                .POST, path: "/v1/chat/completions/\(Self.pathComponent(requestID))/cancel", json: Array("{}".utf8),
                startAt: startAt, retryOtherGateways: true)
            return true
        } catch let error as ParleyClientError where error.code == .notFound {
            return false
        }
    }

    /// `GET /v1/models`: the models some live model node serves.
    public func models() async throws -> [ModelDescription] {
        let (body, _, _) = try await send(.GET, path: "/v1/models", retryOtherGateways: true)
        return try decode(ListPage<ModelDescription>.self, from: body).data
    }

    /// Percent-encodes a value for a path segment.
    static func pathComponent(_ value: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// The fields of a `chat.completion` this client reads.
    struct CompletionBody: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable {
                var content: String?
                var toolCalls: [ChatToolCall]?
                enum CodingKeys: String, CodingKey {
                    case content
                    case toolCalls = "tool_calls"
                }
            }
            struct Logprobs: Decodable {
                var content: [ChatTokenLogprob]?
            }
            var message: Message
            var finishReason: String?
            var logprobs: Logprobs?
            enum CodingKeys: String, CodingKey {
                case message, logprobs
                case finishReason = "finish_reason"
            }
        }
        var id: String
        var model: String?
        var choices: [Choice]
        var usage: TokenCounts?
    }
}

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ParleyJSON

/// A started, streamed completion: its ids, and its events as an `AsyncSequence` (iterate it once).
///
/// Iterating does the network work in the caller's task; cancelling that task closes the connection
/// (which makes the gateway cancel the generation too). A broken connection is resumed through
/// `GET /v1/chat/completions/{id}/stream` with `Last-Event-ID` as ``ParleyClient/Configuration/resume``
/// allows; each token is handed over once.
public struct ChatCompletionStream: AsyncSequence, Sendable {
    public typealias Element = ChatStreamEvent

    /// The request id (`x-request-id`), for ``ParleyClient/cancel(requestID:)`` and resumes.
    public let requestID: String
    /// `x-parley-conversation-id`, when the exchange is stored.
    public let conversationID: String?
    /// The gateway that accepted the request.
    public let gatewayURL: String
    let client: ParleyClient
    let gateway: Int
    let body: HTTPClientResponse.Body

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    /// Stops the generation on the server (`POST …/cancel`); see ``ParleyClient/cancel(requestID:)``.
    @discardableResult
    public func cancel() async throws -> Bool {
        try await client.cancel(requestID: requestID, startAt: gateway)
    }

    /// Reads the events; resumes broken connections.
    public struct Iterator: AsyncIteratorProtocol {
        private let client: ParleyClient
        private let requestID: String
        private var gateway: Int
        private var body: HTTPClientResponse.Body.AsyncIterator?
        private var parser = ServerSentEventParser(yieldsComments: true)
        private var tracker = ChatStreamTracker()
        private var schedule: ResumeSchedule
        private var pending: [ChatStreamEvent] = []
        private var pendingIndex = 0
        private var resumes = 0
        private var finishReason: String?
        private var done = false

        init(stream: ChatCompletionStream) {
            client = stream.client
            requestID = stream.requestID
            gateway = stream.gateway
            body = stream.body.makeAsyncIterator()
            schedule = ResumeSchedule(
                policy: stream.client.configuration.resume, gatewayCount: stream.client.configuration.gatewayURLs.count)
        }

        public mutating func next() async throws -> ChatStreamEvent? {
            while true {
                if pendingIndex < pending.count {
                    defer { pendingIndex += 1 }
                    return pending[pendingIndex]
                }
                pending.removeAll(keepingCapacity: true)
                pendingIndex = 0
                if done {
                    await readToEnd()
                    return nil
                }
                guard var current = body else {
                    try await resume()
                    continue
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await current.next()
                    body = current
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    client.logger.debug("stream broke", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
                    body = nil
                    continue
                }
                guard let chunk else {
                    client.logger.debug("stream ended before [DONE]", metadata: ["request.id": "\(requestID)"])
                    body = nil
                    continue
                }
                let events: [ServerSentEvent]
                do {
                    events = try parser.feed(chunk.readableBytesView)
                } catch {
                    throw ParleyClientError(.invalidResponse, "bad event stream", requestID: requestID, cause: error)
                }
                for event in events where !done { try handle(event) }
            }
        }

        private mutating func handle(_ event: ServerSentEvent) throws {
            if event.isComment {
                if tracker.lastEventID ?? 0 == 0, let progress = Self.promptProgress(event.data) {
                    pending.append(.promptProgress(computed: progress.computed, of: progress.total))
                }
                return
            }
            if event.data == "[DONE]" {
                done = true
                pending.append(
                    .end(
                        ChatStreamSummary(
                            eventsWithID: tracker.deliveredWithID, lastEventID: tracker.lastEventID, resumes: resumes,
                            duplicatesDropped: tracker.duplicatesDropped, missingEvents: tracker.missingEvents,
                            finishReason: finishReason)))
                return
            }
            if event.type == "error" || event.data.hasPrefix(#"{"error""#) {
                throw ParleyClientError.fromStreamEvent(event.data, requestID: requestID)
                    ?? ParleyClientError(.streamError, "error event in stream", requestID: requestID)
            }
            let chunk: StreamChunk
            do {
                chunk = try StreamChunk(json: event.data)
            } catch {
                throw ParleyClientError(
                    .invalidResponse, "a stream chunk is not a chat.completion.chunk", requestID: requestID, cause: error)
            }
            var eventID: Int64?
            if let idText = event.id, let id = Int64(idText) {
                guard tracker.accept(id: id) else { return }
                eventID = id
                schedule.progressed()
            }
            for choice in chunk.choices {
                if let content = choice.content, !content.isEmpty {
                    pending.append(.content(content, eventID: eventID))
                }
                if let logprobs = choice.logprobs, !logprobs.isEmpty { pending.append(.logprobs(logprobs)) }
                for call in choice.toolCalls { pending.append(.toolCall(call)) }
                if let reason = choice.finishReason, tracker.acceptFinish() {
                    finishReason = reason
                    pending.append(.finished(reason: reason))
                }
            }
            if let usage = chunk.usage, tracker.acceptUsage() { pending.append(.usage(usage)) }
        }

        /// `prompt N/M` (N ≤ M) as the gateway comments a long prompt's progress; nil for other comments.
        static func promptProgress(_ comment: String) -> (computed: Int, total: Int)? {
            guard comment.hasPrefix("prompt ") else { return nil }
            let numbers = comment.dropFirst(7).split(separator: "/", omittingEmptySubsequences: false)
            guard numbers.count == 2, let computed = Int(numbers[0]), let total = Int(numbers[1]),
                computed >= 0, total > 0, computed <= total
            else { return nil }
            return (computed, total)
        }

        /// Reads what follows `[DONE]` up to the response's end (the gateway ends it right after), so
        /// the connection goes back to the pool for the next request. A response left unread is
        /// cancelled, which closes its connection: every request would then pay for a new one.
        /// Gives up, closing the connection after all, past 64 KiB or on an error.
        private mutating func readToEnd() async {
            guard var current = body else { return }
            body = nil
            var left = 64 * 1024
            while left > 0, let chunk = try? await current.next() {
                left -= chunk.readableBytes
            }
        }

        /// Reconnects through the resume endpoint, or throws `streamBroken` when the attempts are used up.
        private mutating func resume() async throws {
            var lastError: (any Error)?
            while let (next, delay) = schedule.nextAttempt(current: gateway) {
                if delay > .zero { try await Task.sleep(for: delay) }
                try Task.checkCancellation()
                gateway = next
                var headers: [(String, String)] = [("Accept", "text/event-stream")]
                if let last = tracker.lastEventID { headers.append(("Last-Event-ID", String(last))) }
                do {
                    let (response, _) = try await client.execute(
                        .GET, path: "/v1/chat/completions/\(requestID)/stream", startAt: next,
                        retryOtherGateways: false, headers: headers)
                    guard response.status.code == 200 else {
                        try await ParleyClient.throwError(response)
                    }
                    body = response.body.makeAsyncIterator()
                    parser.resetConnection()
                    resumes += 1
                    pending.append(
                        .resumed(
                            ChatStreamResume(
                                gatewayURL: client.gateway(next), lastEventID: tracker.lastEventID,
                                attempt: schedule.attempts)))
                    client.logger.debug(
                        "stream resumed",
                        metadata: ["request.id": "\(requestID)", "gateway.url": "\(client.gateway(next))"])
                    return
                } catch let error as ParleyClientError where [.unauthorized, .forbidden].contains(error.code) {
                    throw error
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    lastError = error
                }
            }
            throw ParleyClientError(
                .streamBroken, "the stream broke and could not be resumed", requestID: requestID, cause: lastError)
        }
    }
}

/// The fields of a `chat.completion.chunk` this client reads, parsed with ``JSONParser`` (a third
/// of a streaming client's CPU went to Foundation's `JSONDecoder` here). Other fields are ignored;
/// a read field of the wrong type is an error, a missing or null one is absent.
struct StreamChunk {
    struct Choice {
        var content: String?
        var finishReason: String?
        var logprobs: [ChatTokenLogprob]? = nil
        var toolCalls: [ChatToolCallDelta] = []
    }

    /// What is wrong with a chunk.
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    var choices: [Choice] = []
    var usage: TokenCounts?

    init(json: String) throws {
        let value: JSONValue
        do {
            value = try JSONParser.parse(json.utf8)
        } catch {
            throw Malformed(description: "not valid JSON")
        }
        guard case .object = value else { throw Malformed(description: "not a JSON object") }
        for choice in try Self.field(value, "choices", "an array", \.array) ?? [] {
            guard case .object = choice else { throw Malformed(description: "a choice is not an object") }
            let delta = try Self.field(choice, "delta", "an object", Self.object)
            choices.append(
                Choice(
                    content: try delta.flatMap { try Self.field($0, "content", "a string", \.string) },
                    finishReason: try Self.field(choice, "finish_reason", "a string", \.string),
                    logprobs: ChatTokenLogprob.items(of: choice["logprobs"]),
                    toolCalls: try delta.map(Self.toolCalls) ?? []))
        }
        if let usage = try Self.field(value, "usage", "an object", Self.object) {
            func count(_ key: String) throws -> Int {
                guard let count = try Self.field(usage, key, "an integer", \.integer) else {
                    throw Malformed(description: "usage has no \(key)")
                }
                return count
            }
            self.usage = TokenCounts(
                promptTokens: try count("prompt_tokens"), completionTokens: try count("completion_tokens"),
                totalTokens: try count("total_tokens"))
        }
    }

    /// A delta's `tool_calls`: each needs its `index`.
    private static func toolCalls(_ delta: JSONValue) throws -> [ChatToolCallDelta] {
        try (field(delta, "tool_calls", "an array", \.array) ?? []).map { call in
            guard let index = try field(call, "index", "an integer", \.integer) else {
                throw Malformed(description: "a tool call delta has no index")
            }
            let function = try field(call, "function", "an object", object)
            return ChatToolCallDelta(
                index: index, id: try field(call, "id", "a string", \.string),
                name: try function.flatMap { try field($0, "name", "a string", \.string) },
                arguments: try function.flatMap { try field($0, "arguments", "a string", \.string) } ?? "")
        }
    }

    /// `value` if it is an object.
    private static func object(_ value: JSONValue) -> JSONValue? {
        if case .object = value { value } else { nil }
    }

    /// The member `key` of `object` read by `read`; nil when missing or null, an error when of
    /// another type than `expected`.
    private static func field<T>(_ object: JSONValue, _ key: String, _ expected: String, _ read: (JSONValue) -> T?) throws -> T? {
        guard let member = object[key], member != .null else { return nil }
        guard let value = read(member) else { throw Malformed(description: "\(key) is not \(expected)") }
        return value
    }
}

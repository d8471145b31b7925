import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
public import ParleyProtocol

/// The events of one upstream generation: the request is sent on the first `next()`, and each
/// server-sent chunk with content becomes a token numbered from the resume point (reasoning
/// included, inline: ``UpstreamReasoningText``).
public struct UpstreamEvents: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    let client: HTTPClient
    let request: HTTPClientRequest
    let firstIndex: Int
    let exhausted: Bool
    let responseTimeout: Duration

    public func makeAsyncIterator() -> Iterator {
        Iterator(events: self, next: firstIndex)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let events: UpstreamEvents
        var next: Int
        var body: HTTPClientResponse.Body.AsyncIterator?
        var parser = ServerSentEventParser()
        var queued: [GenerationEvent] = []
        var finishReason: FinishReason?
        /// The markup of the tool calls being streamed.
        var calls = UpstreamToolCallText()
        /// The reasoning being streamed, inline before the answer.
        var reasoning = UpstreamReasoningText()
        var promptTokens = 0
        var done = false

        init(events: UpstreamEvents, next: Int) {
            self.events = events
            self.next = next
        }

        public mutating func next() async throws -> GenerationEvent? {
            while true {
                if !queued.isEmpty { return queued.removeFirst() }
                if done { return nil }
                if events.exhausted {
                    done = true
                    return .finished(.length, TokenUsage(promptTokens: 0, completionTokens: next))
                }
                if body == nil { body = try await start() }
                guard let buffer = try await body?.next() else {
                    // The body ended: whatever the parser still holds, then the end.
                    try handle(parser.finish())
                    if !done { finish(reason: finishReason ?? .stop) }
                    continue
                }
                try handle(parser.feed(buffer.readableBytesView))
            }
        }

        private func start() async throws -> HTTPClientResponse.Body.AsyncIterator {
            let timeout = events.responseTimeout.timeAmount
            let response: HTTPClientResponse
            do {
                response = try await events.client.execute(events.request, timeout: timeout)
            } catch {
                try Task.checkCancellation()
                throw ServingError(ServingError.noBackend, "the upstream is unreachable: \(error)")
            }
            guard response.status == .ok else {
                let body = (try? await response.body.collect(upTo: 64 << 10)).map { String(buffer: $0) } ?? ""
                let message = (try? JSONDecoder().decode(UpstreamChunk.self, from: Data(body.utf8)))?.error?.message
                throw UpstreamBackend.error(status: response.status, message: message ?? String(body.prefix(200)))
            }
            return response.body.makeAsyncIterator()
        }

        private mutating func handle(_ payloads: [String]) throws {
            for payload in payloads where !done {
                if payload.trimmingCharacters(in: .whitespaces) == "[DONE]" {
                    finish(reason: finishReason ?? .stop)
                    continue
                }
                guard let chunk = try? JSONDecoder().decode(UpstreamChunk.self, from: Data(payload.utf8)) else {
                    throw ServingError(
                        ServingError.noBackend, "the upstream sent an event that is not a completion chunk")
                }
                if let error = chunk.error {
                    throw ServingError(ServingError.noBackend, "upstream error: \(error.message ?? "unknown")")
                }
                if let usage = chunk.usage { promptTokens = usage.promptTokens ?? promptTokens }
                for choice in chunk.choices ?? [] {
                    var content = ""
                    if let piece = choice.delta?.reasoning {
                        content += calls.close() + reasoning.text(piece)
                    }
                    for call in choice.delta?.toolCalls ?? [] {
                        content += reasoning.close()
                        content += calls.text(
                            index: call.index ?? 0, name: call.function?.name, arguments: call.function?.arguments)
                    }
                    if let text = choice.delta?.content, !text.isEmpty {
                        content += reasoning.close() + calls.close() + text
                    }
                    if choice.finishReason != nil { content += reasoning.close() + calls.close() }
                    let logprobs = (choice.logprobs?.content ?? []).prefix(4096).map { $0.logprob() }
                    if !content.isEmpty || !logprobs.isEmpty {
                        queued.append(.token(index: next, text: content, logprobs: logprobs))
                        next += 1
                    }
                    if let reason = choice.finishReason { finishReason = FinishReason(upstream: reason) }
                }
            }
        }

        private mutating func finish(reason: FinishReason) {
            done = true
            let closing = reasoning.close() + calls.close()
            if !closing.isEmpty {
                queued.append(.token(index: next, text: closing))
                next += 1
            }
            queued.append(.finished(reason, TokenUsage(promptTokens: promptTokens, completionTokens: next)))
        }
    }
}

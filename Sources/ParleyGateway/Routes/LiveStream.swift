import CoreMetrics
import Hummingbird
import Logging
import NIOCore
import ParleyProtocol
import Synchronization

/// How one kind of streamed answer is written to its client: Chat Completions chunks
/// (``ChatChunkRenderer``) or the Responses API's events (``ResponseEventRenderer``).
protocol StreamRenderer: Sendable {
    /// What goes out first, before any event.
    mutating func head() -> String
    /// What the client receives for `event`, and whether it ends the answer (nil: nothing).
    mutating func text(for event: CompletionEvent) -> (text: String, ends: Bool)?
    /// What the client receives when the answer fails after it started; it ends the answer.
    mutating func failure(_ error: OpenAIError) -> String
}

/// Writes one completion to the client as server-sent events rendered by a ``StreamRenderer``,
/// sending together what queued up while the previous write was under way. Comment heartbeats go
/// out while no event flows. A failed write means the client is gone: the generation goes on for
/// `disconnectGrace`, for the client to resume it, then is cancelled downstream unless a resume
/// claimed it (``AbandonedStreams``).
struct LiveStream<Renderer: StreamRenderer>: Sendable {
    let routes: GatewayRoutes
    let events: EventIterator
    let pending: [CompletionEvent]
    let renderer: Renderer
    let requestID: String
    let userID: String
    let startedAt: ContinuousClock.Instant

    private enum Item: Sendable {
        case event(CompletionEvent)
        case end
        case failure(any Error)
        case tick
    }

    func write(to writer: inout any ResponseBodyWriter) async throws {
        let metrics = routes.metrics
        metrics.activeStreams.increment()
        metrics.streamStarted()
        defer {
            metrics.activeStreams.decrement()
            metrics.streamEnded()
        }
        let reader = ReaderHandle()
        do {
            try await relay(to: &writer, reader: reader)
        } catch let failure as ClientGone {
            metrics.completions("client_gone").increment()
            let grace = routes.configuration.streaming.disconnectGrace
            routes.logger.info(
                "client went away mid-stream; cancelling unless it resumes",
                metadata: ["request.id": "\(requestID)", "grace": "\(grace)"])
            let (completions, requestID, userID) = (routes.completions, requestID, userID)
            routes.abandoned.abandon(requestID, grace: grace) {
                _ = try? await completions.cancel(requestID: requestID, userID: userID)
                reader.cancel()
            }
            throw failure.error
        }
    }

    /// A write to the client failed.
    private struct ClientGone: Error {
        var error: any Error
    }

    /// The task that reads the completion's events; it outlives the response while the answer
    /// waits for its client to resume, and cancelling it closes the completion's stream.
    final class ReaderHandle: Sendable {
        private let task = Mutex<Task<Void, Never>?>(nil)

        func set(_ reader: Task<Void, Never>) { task.withLock { $0 = reader } }
        func cancel() { task.withLock { $0 }?.cancel() }
    }

    private func send(_ text: String, _ writer: inout any ResponseBodyWriter) async throws {
        do {
            try await writer.write(ByteBuffer(string: text))
        } catch {
            throw ClientGone(error: error)
        }
    }

    /// What the client receives for `event` (see ``StreamRenderer/text(for:)``), counted in the metrics.
    private func text(for event: CompletionEvent, tokens: inout Int, renderer: inout Renderer) -> (text: String, ends: Bool)? {
        let metrics = routes.metrics
        switch event {
        case .token:
            if tokens == 0 { metrics.timeToFirstToken.recordInterval(since: startedAt) }
            tokens += 1
            metrics.tokenSent()
        case .finished:
            metrics.completions("ok").increment()
        case .started, .prompt:
            break
        }
        return renderer.text(for: event)
    }

    private func relay(to writer: inout any ResponseBodyWriter, reader: ReaderHandle) async throws {
        let metrics = routes.metrics
        // The events that came with `started` (usually the first token) go out with the role chunk,
        // in one write.
        var tokens = 0
        var renderer = self.renderer
        var ended = false
        var head = renderer.head()
        for event in pending where !ended {
            guard let (text, ends) = text(for: event, tokens: &tokens, renderer: &renderer) else { continue }
            head += text
            ended = ends
        }
        try await send(head, &writer)
        if ended {
            try await writer.finish(nil)
            return
        }
        let mailbox = StreamMailbox<Item>()
        // The reader is not a child task: when the client goes away it keeps the completion's stream
        // open (and so the generation going) through the grace period; a cancel ends it.
        let events = self.events
        reader.set(Task {
            do {
                while let event = try await events.next() { mailbox.put(.event(event)) }
                mailbox.put(.end)
            } catch {
                mailbox.put(.failure(error))
            }
        })
        // Comment heartbeats while no event flows (one gateway-wide ticker, not a timer per stream).
        let heartbeat = routes.heartbeats.subscribe { mailbox.put(.tick) }
        defer { routes.heartbeats.unsubscribe(heartbeat) }
        // The response task was cancelled (the connection closed) before the answer ended: later
        // items are dropped (the reader goes on through the grace period).
        defer { mailbox.close() }
        var wroteSinceTick = false
        // Items that queued up while the previous write was under way go out in one write.
        while !ended {
            let items = await mailbox.next()
            if items.isEmpty { break }
            var text = ""
            batch: for item in items {
                switch item {
                case .tick:
                    if !wroteSinceTick { text += SSE.heartbeat }
                    wroteSinceTick = false
                case .event(let event):
                    guard let (eventText, ends) = self.text(for: event, tokens: &tokens, renderer: &renderer) else { continue }
                    text += eventText
                    wroteSinceTick = true
                    ended = ends
                case .end:
                    let error = OpenAIError(.serviceUnavailable, "the completion ended without finishing", code: "interrupted")
                    text += renderer.failure(error)
                    metrics.completions("error").increment()
                    ended = true
                case .failure(let error):
                    text += renderer.failure(OpenAIError.from(error))
                    metrics.completions("error").increment()
                    ended = true
                }
                if ended { break batch }
            }
            if !text.isEmpty { try await send(text, &writer) }
        }
        if !ended { throw ClientGone(error: CancellationError()) }
        try await writer.finish(nil)
    }
}

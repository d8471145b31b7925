import Hummingbird
import NIOCore
import ParleyProtocol

/// Follows a logged generation for a client that resumes it: reads the log page by page from its
/// first event, then polls it while its run goes on, until the run ends, sending heartbeats while
/// nothing comes and giving up when nothing has come for `resumeIdleTimeout`. What the client
/// receives for each logged event and for the end is the caller's (``GatewayRoutes/replay(user:requestID:afterSeq:first:)``
/// writes chat chunks, ``GatewayRoutes/replayResponse(user:location:startingAfter:first:)``
/// the Responses API's events).
struct LogFollower {
    let conversations: any ConversationBackend
    let streaming: GatewayConfiguration.Streaming
    let user: String
    let requestID: String
    static let pageSize = 500

    /// The log's first page (throws `not_found` when there is no such log).
    func firstPage() async throws -> GenerationEventsPage {
        try await next(after: 0)
    }

    /// Appends the logged text after event `seq` to `text` (which stops growing at `maxBytes`:
    /// answers are at most the stores' 1 MiB); answers the run and the last event read.
    func read(after seq: Int64, into text: inout String, maxBytes: Int = ConversationLimits.maxContentBytes)
        async throws -> (run: GenerationInfo, lastSeq: Int64)
    {
        var lastSeq = seq
        while true {
            let page = try await next(after: lastSeq)
            for event in page.events where event.seq > lastSeq {
                if text.utf8.count < maxBytes { text += event.text }
                lastSeq = event.seq
            }
            guard page.events.count >= Self.pageSize, text.utf8.count < maxBytes else { return (page.run, lastSeq) }
        }
    }

    /// Writes `read(event)` for every logged event from `page` on, then `end(run)` once the run has
    /// ended and every event was read, or `stalled()` when the log stopped growing.
    func follow(
        from page: GenerationEventsPage, to writer: inout any ResponseBodyWriter,
        read: (GenerationLogEntry) -> String, end: (GenerationInfo) -> String, stalled: () -> String
    ) async throws {
        var page = page
        var lastSeq: Int64 = 0
        var idleSince = ContinuousClock.now
        var lastWrite = ContinuousClock.now
        while true {
            if !page.events.isEmpty {
                var text = ""
                for event in page.events where event.seq > lastSeq {
                    text += read(event)
                    lastSeq = event.seq
                }
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                idleSince = .now
                lastWrite = .now
                if page.events.count >= Self.pageSize {
                    page = try await next(after: lastSeq)
                    continue
                }
            }
            if page.run.status != .streaming, page.run.lastSeq <= lastSeq {
                try await writer.write(ByteBuffer(string: end(page.run)))
                break
            }
            if idleSince.duration(to: .now) > streaming.resumeIdleTimeout {
                try await writer.write(ByteBuffer(string: stalled()))
                break
            }
            if lastWrite.duration(to: .now) >= streaming.heartbeatInterval {
                try await writer.write(ByteBuffer(string: SSE.heartbeat))
                lastWrite = .now
            }
            try await Task.sleep(for: streaming.resumePollInterval)
            page = try await next(after: lastSeq)
        }
        try await writer.finish(nil)
    }

    private func next(after seq: Int64) async throws -> GenerationEventsPage {
        try await conversations.generationEvents(owner: user, requestID: requestID, afterSeq: seq, limit: Self.pageSize)
    }
}

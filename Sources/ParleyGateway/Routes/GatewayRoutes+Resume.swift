import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyProtocol

extension GatewayRoutes {
    /// `GET /v1/chat/completions/{request_id}/stream`: replays the generation log after
    /// `Last-Event-ID` (or `?last_event_id=`), then follows it until the run finishes.
    func resume(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let requestID = try Self.identifier("request_id", context)
        let lastEventText = request.headers[.lastEventID] ?? request.uri.queryParameters.get("last_event_id")
        var afterSeq: Int64 = 0
        if let lastEventText {
            guard let value = Int64(lastEventText.trimmingCharacters(in: .whitespaces)), value >= 0 else {
                throw OpenAIError.invalid("Last-Event-ID must be a non-negative integer", param: "Last-Event-ID")
            }
            afterSeq = value
        }
        return try await replay(user: user, requestID: requestID, afterSeq: afterSeq)
    }

    /// The SSE answer of a logged generation: its events after `afterSeq`, then the rest as the
    /// run goes on, until it finishes. Throws `not_found` when the log does not exist.
    ///
    /// The log is read from its start, so tool calls in the answer's text (which the log keeps as
    /// markup) are read out as the live stream did and go out as `tool_calls` with the same ids.
    /// The log does not say whether the request offered tools: markup that holds a well-formed call
    /// is taken for one.
    func replay(user: String, requestID: String, afterSeq: Int64) async throws -> Response {
        // A client back from a reload or a dropped connection: the answer runs to its end.
        abandoned.claim(requestID)
        let pageSize = 500
        let first = try await conversations.generationEvents(
            owner: user, requestID: requestID, afterSeq: 0, limit: pageSize)
        var headers: HTTPFields = [
            .requestID: requestID, .contentType: "text/event-stream", .cacheControl: "no-cache",
        ]
        if let conversationID = first.run.conversationID { headers[.conversationID] = conversationID }
        let json = ChatCompletionJSON(
            id: requestID, model: first.run.model ?? "", created: Int(Date().timeIntervalSince1970), includeUsage: false)
        let conversations = self.conversations
        let streaming = configuration.streaming
        let startSeq = afterSeq
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var page = first
                var calls = AnswerToolCalls(requestID: requestID)
                // The last event read (those up to `startSeq` only feed `calls`).
                var lastSeq: Int64 = 0
                var idleSince = ContinuousClock.now
                var lastWrite = ContinuousClock.now
                if startSeq == 0 { try await writer.write(ByteBuffer(string: SSE.event(id: 0, data: json.roleChunk()))) }
                while true {
                    if !page.events.isEmpty {
                        var text = ""
                        for event in page.events where event.seq > lastSeq {
                            let chunks = calls.chunks(event.text, logprobs: [], json: json)
                            if event.seq > startSeq { text += SSE.events(chunks, lastID: event.seq) }
                            lastSeq = event.seq
                        }
                        if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                        idleSince = .now
                        lastWrite = .now
                        if page.events.count >= pageSize {
                            page = try await conversations.generationEvents(
                                owner: user, requestID: requestID, afterSeq: lastSeq, limit: pageSize)
                            continue
                        }
                    }
                    if page.run.status != .streaming, page.run.lastSeq <= lastSeq {
                        let reason = AnswerToolCalls.finishReason(Self.finishReason(page.run.status), callCount: calls.callCount)
                        let tail = SSE.events(calls.finish(json: json), lastID: nil)
                        try await writer.write(
                            ByteBuffer(string: tail + SSE.event(id: nil, data: json.finishChunk(reason)) + SSE.done))
                        break
                    }
                    if idleSince.duration(to: .now) > streaming.resumeIdleTimeout {
                        let error = OpenAIError(.serviceUnavailable, "the generation stalled", code: "interrupted")
                        try await writer.write(ByteBuffer(string: SSE.event(id: nil, data: String(decoding: error.body, as: UTF8.self))))
                        break
                    }
                    if lastWrite.duration(to: .now) >= streaming.heartbeatInterval {
                        try await writer.write(ByteBuffer(string: SSE.heartbeat))
                        lastWrite = .now
                    }
                    try await Task.sleep(for: streaming.resumePollInterval)
                    page = try await conversations.generationEvents(
                        owner: user, requestID: requestID, afterSeq: lastSeq, limit: pageSize)
                }
                try await writer.finish(nil)
            })
    }

    /// `finish_reason` of a finished run read from the log.
    static func finishReason(_ status: MessageStatus) -> String {
        switch status {
        case .complete, .streaming: "stop"
        case .cancelled: "cancelled"
        case .interrupted: "interrupted"
        }
    }
}

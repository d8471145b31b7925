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
    /// is taken for one. `first`: the log's first page when the caller has read it already.
    func replay(user: String, requestID: String, afterSeq: Int64, first known: GenerationEventsPage? = nil) async throws
        -> Response
    {
        let log = LogFollower(conversations: conversations, streaming: configuration.streaming, user: user, requestID: requestID)
        let first: GenerationEventsPage
        if let known { first = known } else { first = try await log.firstPage() }
        // A client back from a reload or a dropped connection: the answer runs to its end.
        abandoned.claim(requestID)
        var headers: HTTPFields = [
            .requestID: requestID, .contentType: "text/event-stream", .cacheControl: "no-cache",
        ]
        if let conversationID = first.run.conversationID { headers[.conversationID] = conversationID }
        let json = ChatCompletionJSON(
            id: requestID, model: first.run.model ?? "", created: Int(Date().timeIntervalSince1970), includeUsage: false)
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                var calls = AnswerToolCalls(requestID: requestID)
                if afterSeq == 0 { try await writer.write(ByteBuffer(string: SSE.event(id: 0, data: json.roleChunk()))) }
                try await log.follow(
                    from: first, to: &writer,
                    read: { event in
                        // Events up to `afterSeq` only feed `calls`.
                        let chunks = calls.chunks(event.text, logprobs: [], json: json)
                        return event.seq > afterSeq ? SSE.events(chunks, lastID: event.seq) : ""
                    },
                    end: { run in
                        let reason = AnswerToolCalls.finishReason(Self.finishReason(run.status), callCount: calls.callCount)
                        let tail = SSE.events(calls.finish(json: json), lastID: nil)
                        return tail + SSE.event(id: nil, data: json.finishChunk(reason)) + SSE.done
                    },
                    stalled: {
                        let error = OpenAIError(.serviceUnavailable, "the generation stalled", code: "interrupted")
                        return SSE.event(id: nil, data: String(decoding: error.body, as: UTF8.self))
                    })
            })
    }

    /// `finish_reason` of a finished run read from the log.
    static func finishReason(_ status: MessageStatus) -> String {
        switch status {
        case .complete, .streaming: "stop"
        case .truncated: "length"
        case .cancelled: "cancelled"
        case .interrupted: "interrupted"
        }
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyProtocol

/// Responses read from their generation logs: a stream resumed after a broken connection, and a
/// response whose answer is not stored yet (still being written, or cancelled a moment ago).
extension GatewayRoutes {
    /// A response's stream read from its generation log: every event after `startingAfter`,
    /// numbered as the live stream numbered them, then the rest as the answer goes on. This is how
    /// a client whose connection (or gateway) broke mid-answer gets the rest, on any gateway. The
    /// log does not keep the request's settings, so its response objects show the defaults.
    /// `first`: the log's first page when the caller has read it already.
    func replayResponse(
        user: String, location: ResponseIDs.Location, startingAfter: Int, first known: GenerationEventsPage? = nil
    ) async throws -> Response {
        let log = LogFollower(
            conversations: conversations, streaming: configuration.streaming, user: user, requestID: location.requestID)
        let first: GenerationEventsPage
        do {
            if let known { first = known } else { first = try await log.firstPage() }
        } catch where OpenAIError.from(error).status == .notFound {
            throw OpenAIError.notFound("no response with id '\(location.id)' to stream (its log is gone, or it never was)")
        }
        // A client back from a dropped connection: the answer runs to its end.
        abandoned.claim(location.requestID)
        let json = logJSON(location: location, model: first.run.model)
        var headers: HTTPFields = [.requestID: location.requestID]
        if let conversationID = location.conversationID { headers[.conversationID] = conversationID }
        return Response(
            status: .ok, headers: Self.streamHeaders(headers),
            body: ResponseBody { writer in
                var renderer = ResponseEventRenderer(
                    json: json, seed: location.seed, readsCalls: location.readsCalls, startingAfter: startingAfter)
                let head = renderer.head()
                if !head.isEmpty { try await writer.write(ByteBuffer(string: head)) }
                try await log.follow(
                    from: first, to: &writer, read: { renderer.logged($0.text) },
                    end: { run in
                        let status = ResponseStatus(run.status)
                        // An interrupted answer ended live with an error event, then `response.failed`.
                        guard case .failed(let code, let message) = status else { return renderer.finish(status: status, usage: nil) }
                        return renderer.failure(OpenAIError(.serviceUnavailable, message, code: code))
                    },
                    stalled: {
                        renderer.failure(OpenAIError(.serviceUnavailable, "the generation stalled", code: "interrupted"))
                    })
            })
    }

    /// The response object of an answer read from its generation log, in the state its run is in
    /// (as `adjust` changes it); with `settlingUntil`, the log is followed (only what it gained
    /// is read) until its run has ended or that time has come.
    func loggedResponse(
        user: String, location: ResponseIDs.Location, settlingUntil deadline: ContinuousClock.Instant? = nil,
        adjust: (ResponseStatus) -> ResponseStatus = { $0 }
    ) async throws -> String {
        let log = LogFollower(
            conversations: conversations, streaming: configuration.streaming, user: user, requestID: location.requestID)
        var text = ""
        var (run, lastSeq) = try await log.read(after: 0, into: &text)
        while let deadline, run.status == .streaming, ContinuousClock.now < deadline {
            try await Task.sleep(for: configuration.streaming.resumePollInterval)
            (run, lastSeq) = try await log.read(after: lastSeq, into: &text)
        }
        return ResponseEventRenderer.whole(
            json: logJSON(location: location, model: run.model), seed: location.seed, readsCalls: location.readsCalls,
            pieces: [(text, [])], status: adjust(ResponseStatus(run.status)), usage: nil)
    }

    /// The response object's frame for an answer read from its log: what the id says, and the
    /// defaults for what the log does not keep.
    private func logJSON(location: ResponseIDs.Location, model: String?) -> ResponseJSON {
        var settings = ResponseSettings()
        settings.store = location.conversationID != nil
        settings.conversationID = location.conversationID
        return ResponseJSON(
            id: location.id, model: model ?? "", createdAt: ResponseIDs.createdAt(requestID: location.requestID, near: Date()),
            settings: settings)
    }
}

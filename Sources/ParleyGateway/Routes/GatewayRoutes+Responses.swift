import Foundation
import HTTPTypes
import Hummingbird
import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// OpenAI's Responses API over the same completions as `/v1/chat/completions`: a stored response
/// is a turn of a conversation (it shows in the history like any chat), its id says where, and
/// `previous_response_id` continues from it as a new branch would. Reading responses back is in
/// GatewayRoutes+ResponseReads.swift, reading them from their generation logs in
/// GatewayRoutes+ResponseLogs.swift.
extension GatewayRoutes {
    func addResponseRoutes(to api: RouterGroup<GatewayRequestContext>) {
        api.post("responses") { request, context in try await createResponse(request, context) }
        api.get("responses/:response_id") { request, context in try await retrieveResponse(request, context) }
        api.get("responses/:response_id/input_items") { request, context in try await responseInputItems(request, context) }
        api.post("responses/:response_id/cancel") { _, context in try await cancelResponse(context) }
    }

    /// `POST /v1/responses`.
    func createResponse(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let bytes = try await Self.body(request, limit: configuration.limits.maxChatBodyBytes)
        let body = try ResponsesBody(json: bytes.readableBytesView, limits: configuration.limits)
        let requestID = try Self.requestID(request, user: user)
        var completion = CompletionRequest(
            requestID: requestID, userID: user, model: body.model, messages: body.messages, sampling: body.sampling,
            conversationID: body.previous?.conversationID ?? body.settings.conversationID, store: body.settings.store,
            parentMessageID: body.previous?.messageID)
        completion.instructions = body.settings.instructions
        completion.idempotent = request.headers[.idempotencyKey] != nil
        let startedAt = ContinuousClock.now
        let readsCalls = body.sampling.tools != nil
        let answer: StartedAnswer
        do {
            answer = try await start(completion)
        } catch let error as OpenAIError
            where body.previous != nil && (error.code == "not_found" || error.code == "deleted")
        {
            // The answer it names, or its conversation, is not (or no longer) the caller's.
            throw ResponsesBody.previousNotFound(body.settings.previousResponseID ?? "")
        } catch let error as OpenAIError where error.code == ServingError.duplicateRequest {
            return try await repeatedResponse(user: user, requestID: requestID, readsCalls: readsCalls, stream: body.stream)
        }

        let storedAs = answer.conversationID.flatMap { conversation in answer.assistantMessageID.map { (conversation, $0) } }
        let location = ResponseIDs.location(requestID: requestID, storedAs: storedAs, readsCalls: readsCalls)
        var settings = body.settings
        // A turn goes unstored when no store is reachable: the response says so.
        settings.store = location.conversationID != nil
        settings.conversationID = location.conversationID
        let json = ResponseJSON(
            id: location.id, model: body.model, createdAt: ResponseIDs.createdAt(requestID: requestID, near: Date()),
            settings: settings)
        // Item and call ids derive from where the answer is stored, so reading it back names them alike.
        guard body.stream else {
            let collected = try await collect(answer, startedAt: startedAt)
            let object = ResponseEventRenderer.whole(
                json: json, seed: location.seed, readsCalls: readsCalls, pieces: collected.pieces,
                status: ResponseStatus(collected.reason), usage: collected.usage)
            return Self.json(object, headers: answer.headers)
        }
        return stream(
            answer, renderer: ResponseEventRenderer(json: json, seed: location.seed, readsCalls: readsCalls),
            requestID: requestID, user: user, startedAt: startedAt)
    }

    /// `POST /v1/responses/{response_id}/cancel`: stops a running response everywhere downstream
    /// (as `POST /v1/chat/completions/{request_id}/cancel` does) and answers it as it ended (read
    /// from its log once its run has ended, or after `cancelSettleTime`). 404 when no such
    /// response is running.
    func cancelResponse(_ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let id = try Self.identifier("response_id", context)
        guard let location = ResponseIDs.location(of: id),
            try await completions.cancel(requestID: location.requestID, userID: user)
        else { throw OpenAIError.notFound("no running response with id '\(id)'") }
        let deadline = ContinuousClock.now + Self.cancelSettleTime
        return Self.json(
            try await loggedResponse(user: user, location: location, settlingUntil: deadline) { status in
                // A run that has not ended yet stops here all the same.
                status == .inProgress ? .cancelled : status
            })
    }

    /// A request sent again under its `Idempotency-Key` (its gateway died before answering, say):
    /// the first request's response, from its generation log (``repeatedRequestLog(_:)``) — its
    /// events from the start, or, not streamed, the response once it has ended (or as far as it got
    /// in `resumeIdleTimeout`).
    private func repeatedResponse(user: String, requestID: String, readsCalls: Bool, stream: Bool) async throws -> Response {
        let log = LogFollower(conversations: conversations, streaming: configuration.streaming, user: user, requestID: requestID)
        let first = try await repeatedRequestLog(log)
        // Named as the first request's response was: stored when its run belongs to a conversation.
        let storedAs = first.run.conversationID.map { ($0, first.run.messageID) }
        let location = ResponseIDs.location(requestID: requestID, storedAs: storedAs, readsCalls: readsCalls)
        if stream { return try await replayResponse(user: user, location: location, startingAfter: -1, first: first) }
        let settled = ContinuousClock.now + configuration.streaming.resumeIdleTimeout
        return Self.json(try await loggedResponse(user: user, location: location, settlingUntil: settled))
    }

    /// How long a cancel waits for the run to end and its log to hold the whole cancelled answer.
    static let cancelSettleTime = Duration.seconds(2)
}

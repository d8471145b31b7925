import Foundation
import HTTPTypes
import Hummingbird
import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// OpenAI's Responses API over the same completions as `/v1/chat/completions`: a stored response
/// is a turn of a conversation (it shows in the history like any chat), its id says where, and
/// `previous_response_id` continues from it as a new branch would.
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
        let answer: StartedAnswer
        do {
            answer = try await start(completion)
        } catch let error as OpenAIError
            where body.previous != nil && (error.code == "not_found" || error.code == "deleted")
        {
            // The answer it names, or its conversation, is not (or no longer) the caller's.
            throw ResponsesBody.previousNotFound(body.settings.previousResponseID ?? "")
        }

        let storedID = answer.conversationID.flatMap { conversation in
            answer.assistantMessageID.flatMap {
                ResponseIDs.stored(conversationID: conversation, messageID: $0, requestID: requestID)
            }
        }
        var settings = body.settings
        settings.conversationID = storedID == nil ? nil : answer.conversationID
        let json = ResponseJSON(
            id: storedID ?? ResponseIDs.unstored(requestID: requestID), model: body.model,
            createdAt: Int(Date().timeIntervalSince1970), settings: settings)
        // Item and call ids derive from where the answer is stored, so reading it back names them alike.
        let seed = storedID != nil ? answer.assistantMessageID ?? requestID : requestID
        let readsCalls = body.sampling.tools != nil
        guard body.stream else {
            let collected = try await collect(answer, startedAt: startedAt)
            let object = ResponseEventRenderer.whole(
                json: json, seed: seed, readsCalls: readsCalls, text: collected.text, logprobs: collected.logprobs,
                status: ResponseStatus(collected.reason), usage: collected.usage)
            return Self.json(object, headers: answer.headers)
        }
        return stream(
            answer, renderer: ResponseEventRenderer(json: json, seed: seed, readsCalls: readsCalls), requestID: requestID,
            user: user, startedAt: startedAt)
    }

    /// `GET /v1/responses/{response_id}`: a stored response, read back from its conversation. What
    /// the stores do not keep of the request (instructions, tools, format, sampling, metadata)
    /// shows as the defaults. With `stream=true` (and `starting_after`), the response's events
    /// from its generation log instead (``replayResponse(user:location:responseID:startingAfter:)``).
    func retrieveResponse(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let query = request.uri.queryParameters
        if let stream = query.get("stream"), stream == "true" {
            let id = try Self.identifier("response_id", context)
            guard let location = ResponseIDs.location(of: id) else { throw OpenAIError.notFound("no response with id '\(id)'") }
            var startingAfter = -1
            if let text = query.get("starting_after") {
                guard let value = Int(text), value >= 0 else {
                    throw OpenAIError.invalid("'starting_after' must be a non-negative integer", param: "starting_after")
                }
                startingAfter = value
            }
            return try await replayResponse(user: user, location: location, responseID: id, startingAfter: startingAfter)
        }
        let answer: StoredResponse
        do {
            answer = try await storedResponse(user: user, context)
        } catch let error as OpenAIError where error.status == .notFound {
            // An answer is stored when it ends: until then its log says how far it got.
            let id = try Self.identifier("response_id", context)
            guard let location = ResponseIDs.location(of: id), location.messageID != nil,
                let running = try? await loggedResponse(user: user, location: location, responseID: id)
            else { throw error }
            return Self.json(running)
        }
        var settings = ResponseSettings()
        settings.conversationID = answer.message.conversationID
        // Not `previous_response_id`: a response id names its request, which the stores do not keep.
        let message = answer.message
        let status = ResponseStatus(message.status)
        let usage = message.promptTokens.flatMap { prompt in
            message.completionTokens.map { TokenUsage(promptTokens: prompt, completionTokens: $0) }
        }
        let json = ResponseJSON(
            id: answer.id, model: message.model ?? "", createdAt: Int(message.createdAt.timeIntervalSince1970),
            settings: settings)
        return Self.json(
            ResponseEventRenderer.whole(
                json: json, seed: message.id, readsCalls: true, text: message.content, logprobs: [], status: status,
                usage: usage))
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
            try await loggedResponse(user: user, location: location, responseID: id, settlingUntil: deadline) { status in
                // A run that has not ended yet stops here all the same.
                status == .inProgress ? .incomplete(reason: "cancelled") : status
            })
    }

    /// How long a cancel waits for the run to end and its log to hold the whole cancelled answer.
    static let cancelSettleTime = Duration.seconds(2)

    /// The response object of an answer read from its generation log (one not stored yet, or not
    /// at all), in the state its run is in (as `adjust` changes it); with `settlingUntil`, the log
    /// is read again until its run has ended or that time has come.
    func loggedResponse(
        user: String, location: ResponseIDs.Location, responseID: String, settlingUntil deadline: ContinuousClock.Instant? = nil,
        adjust: (ResponseStatus) -> ResponseStatus = { $0 }
    ) async throws -> String {
        let log = LogFollower(
            conversations: conversations, streaming: configuration.streaming, user: user, requestID: location.requestID)
        var (run, text) = try await log.readAll()
        while let deadline, run.status == .streaming, ContinuousClock.now < deadline {
            try await Task.sleep(for: configuration.streaming.resumePollInterval)
            (run, text) = try await log.readAll()
        }
        var settings = ResponseSettings()
        settings.store = location.conversationID != nil
        settings.conversationID = location.conversationID
        let json = ResponseJSON(
            id: responseID, model: run.model ?? "", createdAt: Int(Date().timeIntervalSince1970), settings: settings)
        return ResponseEventRenderer.whole(
            json: json, seed: location.messageID ?? location.requestID, readsCalls: true, text: text, logprobs: [],
            status: adjust(ResponseStatus(run.status)), usage: nil)
    }

    /// A response's stream read from its generation log: every event after `startingAfter`,
    /// numbered as the live stream numbered them, then the rest as the answer goes on. This is how
    /// a client whose connection (or gateway) broke mid-answer gets the rest, on any gateway. The
    /// log does not keep the request's settings, so its response objects show the defaults, and
    /// markup in the answer is read as calls.
    func replayResponse(user: String, location: ResponseIDs.Location, responseID: String, startingAfter: Int)
        async throws -> Response
    {
        abandoned.claim(location.requestID)
        let log = LogFollower(
            conversations: conversations, streaming: configuration.streaming, user: user, requestID: location.requestID)
        let first: GenerationEventsPage
        do {
            first = try await log.firstPage()
        } catch where OpenAIError.from(error).status == .notFound {
            throw OpenAIError.notFound("no response with id '\(responseID)' to stream (its log is gone, or it never was)")
        }
        var settings = ResponseSettings()
        settings.store = location.conversationID != nil
        settings.conversationID = location.conversationID
        let json = ResponseJSON(
            id: responseID, model: first.run.model ?? "", createdAt: Int(Date().timeIntervalSince1970), settings: settings)
        var headers: HTTPFields = [.requestID: location.requestID]
        if let conversationID = location.conversationID { headers[.conversationID] = conversationID }
        let seed = location.messageID ?? location.requestID
        return Response(
            status: .ok, headers: Self.streamHeaders(headers),
            body: ResponseBody { writer in
                var renderer = ResponseEventRenderer(json: json, seed: seed, readsCalls: true, startingAfter: startingAfter)
                let head = renderer.head()
                if !head.isEmpty { try await writer.write(ByteBuffer(string: head)) }
                try await log.follow(
                    from: first, to: &writer, read: { renderer.logged($0.text) },
                    end: { run in
                        guard run.status != .interrupted else {
                            return renderer.failure(
                                OpenAIError(.serviceUnavailable, "the answer was interrupted", code: "interrupted"))
                        }
                        return renderer.finish(status: ResponseStatus(run.status), usage: nil)
                    },
                    stalled: {
                        renderer.failure(OpenAIError(.serviceUnavailable, "the generation stalled", code: "interrupted"))
                    })
            })
    }

    /// `GET /v1/responses/{response_id}/input_items?limit&order&after`: the items the response's
    /// turn stored (its messages between the previous response and this one), newest first unless
    /// `order=asc`.
    func responseInputItems(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let query = request.uri.queryParameters
        var limit = 20
        if let text = query.get("limit") {
            guard let value = Int(text), (1...100).contains(value) else {
                throw OpenAIError.invalid("'limit' must be an integer from 1 to 100", param: "limit")
            }
            limit = value
        }
        let order = query.get("order") ?? "desc"
        guard order == "asc" || order == "desc" else {
            throw OpenAIError.invalid("'order' must be 'asc' or 'desc'", param: "order")
        }
        let answer = try await storedResponse(user: user, context)
        var items = Self.inputItems(of: answer)
        if order == "desc" { items.reverse() }
        if let after = query.get("after") {
            guard let position = items.firstIndex(where: { $0.id == after }) else {
                throw OpenAIError.invalid("'after' names no input item of this response", param: "after")
            }
            items.removeFirst(position + 1)
        }
        let page = items.prefix(limit)
        let data = page.map(\.json).joined(separator: ",")
        return Self.json(
            #"{"object":"list","data":[\#(data)],"first_id":\#(ResponseJSON.quoteOrNull(page.first?.id)),"#
                + #""last_id":\#(ResponseJSON.quoteOrNull(page.last?.id)),"has_more":\#(items.count > page.count)}"#)
    }

    /// A stored response: its answer message, the answers its turn followed, and its turn's messages.
    struct StoredResponse {
        let id: String
        let message: ConversationMessage
        /// The answer (a message a model wrote) this response's turn followed, if any.
        let previousAnswer: ConversationMessage?
        /// The messages the turn stored above its answer, oldest first.
        let turn: [ConversationMessage]
    }

    /// The stored response `response_id` names; 404 when it names none of the caller's.
    private func storedResponse(user: String, _ context: GatewayRequestContext) async throws -> StoredResponse {
        let id = try Self.identifier("response_id", context)
        let notFound = OpenAIError.notFound("no stored response with id '\(id)'")
        guard let location = ResponseIDs.location(of: id), let conversationID = location.conversationID,
            let messageID = location.messageID
        else { throw notFound }
        let details: ConversationDetails
        do {
            details = try await conversations.conversation(owner: user, id: conversationID)
        } catch where OpenAIError.from(error).status == .notFound {
            throw notFound
        }
        let byID = Dictionary(details.messages.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        guard let message = byID[messageID], message.role == .assistant else { throw notFound }
        var turn: [ConversationMessage] = []
        var cursor = message.parentID
        while let parent = cursor.flatMap({ byID[$0] }), !Self.isAnswer(parent) {
            turn.append(parent)
            cursor = parent.parentID
        }
        return StoredResponse(
            id: id, message: message, previousAnswer: cursor.flatMap { byID[$0] }, turn: turn.reversed())
    }

    /// A message a model wrote (stored with its model), not one a request sent.
    private static func isAnswer(_ message: ConversationMessage) -> Bool {
        message.role == .assistant && message.model != nil
    }

    /// The input items of a stored response's turn, oldest first: messages, the calls of an
    /// assistant message the request sent, and tool results, each paired with the call it answers
    /// (the calls of the assistant message before it, in order).
    static func inputItems(of response: StoredResponse) -> [(id: String, json: String)] {
        var items: [(id: String, json: String)] = []
        var callIDs = response.previousAnswer.map { Self.callIDs(of: $0) } ?? []
        var results = 0
        for message in response.turn {
            let itemID = ResponseIDs.inputItem(messageID: message.id)
            switch message.role {
            case .assistant:
                var calls = 0
                for (index, block) in ToolCallExtractor.blocks(of: message.content).enumerated() {
                    switch block {
                    case .content(let text):
                        let part = ResponseJSON.outputText(text, logprobs: [], included: false)
                        items.append((itemID, messageItem(id: itemID, role: "assistant", content: part)))
                    case .call(let call):
                        let id = ResponseIDs.outputItem(seed: message.id, index: index, isCall: true)
                        let callID = call.id ?? ResponseIDs.callID(seed: message.id, index: calls)
                        calls += 1
                        items.append(
                            (id, ResponseJSON.functionCallItem(
                                id: id, status: "completed", callID: callID, name: call.name, arguments: call.arguments)))
                    }
                }
                callIDs = Self.callIDs(of: message)
                results = 0
            case .tool:
                let callID = results < callIDs.count ? callIDs[results] : ""
                results += 1
                items.append(
                    (itemID, #"{"id":\#(JSON.quote(itemID)),"type":"function_call_output","status":"completed","#
                        + #""call_id":\#(JSON.quote(callID)),"output":\#(JSON.quote(message.content))}"#))
            default:
                let part = #"{"type":"input_text","text":\#(JSON.quote(message.content))}"#
                items.append((itemID, messageItem(id: itemID, role: message.role.rawValue, content: part)))
            }
        }
        return items
    }

    /// The call ids of an assistant message's calls, as its response names them.
    private static func callIDs(of message: ConversationMessage) -> [String] {
        ToolCallExtractor.split(message.content).calls.enumerated().map { index, call in
            call.id ?? ResponseIDs.callID(seed: message.id, index: index)
        }
    }

    private static func messageItem(id: String, role: String, content: String) -> String {
        #"{"id":\#(JSON.quote(id)),"type":"message","role":\#(JSON.quote(role)),"status":"completed","content":[\#(content)]}"#
    }
}

extension ResponseStatus {
    /// The state of a response whose answer (stored, or its run) is in `status`.
    init(_ status: MessageStatus) {
        switch status {
        case .streaming: self = .inProgress
        case .complete: self = .completed
        case .cancelled: self = .incomplete(reason: "cancelled")
        case .interrupted: self = .incomplete(reason: "interrupted")
        }
    }

    /// How an answer that ended for `reason` ended as a response.
    init(_ reason: FinishReason) {
        switch reason {
        case .stop: self = .completed
        case .length: self = .incomplete(reason: "max_output_tokens")
        case .cancelled: self = .incomplete(reason: "cancelled")
        }
    }
}

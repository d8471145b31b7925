import CoreMetrics
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ParleyJSON
import ParleyProtocol

extension GatewayRoutes {
    /// `POST /v1/chat/completions`. Runs on the connection's event loop (``LoopBoundChannel``), and
    /// so does the writing of its answer.
    func chatCompletions(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let bytes = try await Self.body(request, limit: configuration.limits.maxChatBodyBytes)
        let body = try ChatCompletionBody(json: bytes.readableBytesView, limits: configuration.limits)
        let requestID = try Self.requestID(request, user: user)
        var completion = CompletionRequest(
            requestID: requestID, userID: user, model: body.model, messages: body.messages, sampling: body.sampling,
            conversationID: body.conversationID, store: body.store, parentMessageID: body.parentMessageID)
        completion.startsAtRoot = body.startsAtRoot
        completion.idempotent = request.headers[.idempotencyKey] != nil
        let startedAt = ContinuousClock.now
        let answer: StartedAnswer
        do {
            answer = try await start(completion)
        } catch let error as OpenAIError where error.code == ServingError.duplicateRequest && body.stream {
            return try await replayDuplicate(user: user, requestID: requestID)
        }
        let json = ChatCompletionJSON(
            id: requestID, model: body.model, created: Int(Date().timeIntervalSince1970), includeUsage: body.includeUsage,
            includeLogprobs: body.sampling.logprobs != nil)
        let offersTools = body.sampling.tools != nil

        guard body.stream else {
            let collected = try await collect(answer, startedAt: startedAt)
            let (content, calls) =
                offersTools ? AnswerToolCalls.split(collected.text, requestID: requestID) : (collected.text, [])
            let finish = AnswerToolCalls.finishReason(ChatCompletionJSON.finishReason(collected.reason), callCount: calls.count)
            return Self.json(
                json.completion(
                    text: content, finishReason: finish, usage: collected.usage, logprobs: collected.logprobs, toolCalls: calls),
                headers: answer.headers)
        }
        return stream(
            answer, renderer: ChatChunkRenderer(json: json, requestID: requestID, offersTools: offersTools),
            requestID: requestID, user: user, startedAt: startedAt)
    }

    /// The SSE response that writes `answer` through `renderer` as it comes (``LiveStream``).
    func stream(
        _ answer: StartedAnswer, renderer: some StreamRenderer, requestID: String, user: String,
        startedAt: ContinuousClock.Instant
    ) -> Response {
        let stream = LiveStream(
            routes: self, events: answer.events, pending: answer.pending, renderer: renderer, requestID: requestID,
            userID: user, startedAt: startedAt)
        return Response(
            status: .ok, headers: Self.streamHeaders(answer.headers),
            body: ResponseBody { writer in try await stream.write(to: &writer) })
    }

    /// The request id of a new request: `chatcmpl-` and 32 hex digits, time first. A client that
    /// may send this request again (its gateway died before answering) names it with an
    /// Idempotency-Key: the request id then derives from it, and the completion refuses a request
    /// id started before (`duplicate_request`); its answer then comes from the log.
    static func requestID(_ request: Request, user: String) throws -> String {
        guard let key = request.headers[.idempotencyKey] else { return "chatcmpl-" + RandomIdentifier.timeOrdered128() }
        guard isValidIdempotencyKey(key) else {
            throw OpenAIError.invalid("Idempotency-Key must be 1 to 128 letters, digits or - _ . :", param: "Idempotency-Key")
        }
        return "chatcmpl-" + RandomIdentifier.derived(user: user, key: key)
    }

    /// `headers` with those of an SSE answer.
    static func streamHeaders(_ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return headers
    }

    /// An answer whose first event came: after the rate limit, the history and the worker were
    /// settled, so a failure before it is still an HTTP status (thrown as an ``OpenAIError``).
    struct StartedAnswer {
        let events: EventIterator
        /// The events that came with `started` (usually the first token).
        let pending: [CompletionEvent]
        /// `x-request-id`, `x-parley-conversation-id` and the rate-limit headers.
        let headers: HTTPFields
        /// Where the turn is stored (nil ids when it is not).
        let conversationID: String?
        let assistantMessageID: String?
    }

    /// Sends `completion` and waits for its first event.
    func start(_ completion: CompletionRequest) async throws -> StartedAnswer {
        let events = completions.complete(completion)
        var pending: [CompletionEvent] = []
        var headers: HTTPFields = [.requestID: completion.requestID]
        var conversationID: String?
        var assistantMessageID: String?
        do {
            switch try await events.next() {
            case .started(let conversation, _, let answer, let rateLimit):
                (conversationID, assistantMessageID) = (conversation, answer)
                if let conversation { headers[.conversationID] = conversation }
                if let rateLimit { headers.append(contentsOf: Self.rateLimitHeaders(rateLimit)) }
                // The completion sends `started` together with the first token (or the finish): take
                // it along, so the answer's first write carries it.
                if let first = try await events.next() { pending.append(first) }
            case .some(let event):
                pending.append(event)
            case .none:
                throw OpenAIError(.serviceUnavailable, "the completion ended before it started", code: "no_backend", retryAfterSeconds: 1)
            }
        } catch {
            var mapped = OpenAIError.from(error)
            if mapped.code != ServingError.duplicateRequest { metrics.completions("error").increment() }
            mapped.headers[.requestID] = completion.requestID
            throw mapped
        }
        return StartedAnswer(
            events: events, pending: pending, headers: headers, conversationID: conversationID,
            assistantMessageID: assistantMessageID)
    }

    /// The answer of a request sent again under its Idempotency-Key, from its generation log.
    private func replayDuplicate(user: String, requestID: String) async throws -> Response {
        let log = LogFollower(conversations: conversations, streaming: configuration.streaming, user: user, requestID: requestID)
        return try await replay(user: user, requestID: requestID, afterSeq: 0, first: try await repeatedRequestLog(log))
    }

    /// The first page of the log of a request sent again under its Idempotency-Key. The first
    /// request may still be storing its turn: its log is awaited for up to `startTimeout`, then
    /// the repeat is refused with 409 and a retry hint.
    func repeatedRequestLog(_ log: LogFollower) async throws -> GenerationEventsPage {
        let deadline = ContinuousClock.now + configuration.streaming.startTimeout
        while true {
            do {
                return try await log.firstPage()
            } catch let error where OpenAIError.from(error).status == .notFound {
                guard ContinuousClock.now < deadline else {
                    throw OpenAIError(
                        .conflict, "a request with this Idempotency-Key was made but its answer has not started; retry it",
                        code: ServingError.duplicateRequest, retryAfterSeconds: 1)
                }
                try await Task.sleep(for: configuration.streaming.resumePollInterval)
            }
        }
    }

    /// 1 to 128 of `A-Z a-z 0-9 - _ . :`.
    static func isValidIdempotencyKey(_ key: String) -> Bool {
        let bytes = key.utf8
        return (1...128).contains(bytes.count) && bytes.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
        }
    }

    /// A whole answer, read to its end.
    struct CollectedAnswer {
        /// Each token's text and logprobs, as they came.
        var pieces: [(text: String, logprobs: [TokenLogprob])] = []
        var reason = FinishReason.stop
        var usage = TokenUsage(promptTokens: 0, completionTokens: 0)

        var text: String { pieces.map(\.text).joined() }
        var logprobs: [TokenLogprob] { pieces.flatMap(\.logprobs) }
    }

    /// Reads all of a non-streaming answer's events.
    func collect(_ answer: StartedAnswer, startedAt: ContinuousClock.Instant) async throws -> CollectedAnswer {
        metrics.streamStarted()
        defer { metrics.streamEnded() }
        var collected = CollectedAnswer()
        var queue = answer.pending
        var first = true
        while true {
            let event: CompletionEvent?
            if !queue.isEmpty { event = queue.removeFirst() } else {
                do { event = try await answer.events.next() } catch {
                    metrics.completions("error").increment()
                    throw OpenAIError.from(error)
                }
            }
            switch event {
            case .token(_, let piece, let pieceLogprobs):
                if first {
                    metrics.timeToFirstToken.recordInterval(since: startedAt)
                    first = false
                }
                metrics.tokenSent()
                collected.pieces.append((piece, pieceLogprobs))
            case .finished(let reason, let usage):
                metrics.completions("ok").increment()
                (collected.reason, collected.usage) = (reason, usage)
                return collected
            case .started, .prompt:
                continue
            case .none:
                metrics.completions("error").increment()
                throw OpenAIError(.serviceUnavailable, "the completion ended without finishing", code: "interrupted", retryAfterSeconds: 1)
            }
        }
    }

    /// `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests` and `x-ratelimit-reset-requests`
    /// (seconds until the window has room again, as in `1.5s`).
    static func rateLimitHeaders(_ decision: RateLimitDecision) -> HTTPFields {
        let reset = (decision.resetSeconds * 1000).rounded(.up) / 1000
        return [
            .rateLimitLimit: String(decision.limit), .rateLimitRemaining: String(max(0, decision.remaining)),
            .rateLimitReset: "\(reset)s",
        ]
    }

    /// `POST /v1/chat/completions/{request_id}/cancel`.
    func cancel(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let requestID = try Self.identifier("request_id", context)
        guard try await completions.cancel(requestID: requestID, userID: user) else {
            throw OpenAIError.notFound("no running completion with id \(requestID)")
        }
        return Self.json(#"{"id":\#(JSON.quote(requestID)),"object":"chat.completion.cancellation","cancelled":true}"#)
    }

    /// `GET /v1/models`.
    func models(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        _ = try context.requireUser()
        let items = try await completions.models().map(Self.modelObject)
        return Self.json(#"{"object":"list","data":[\#(items.joined(separator: ","))],"next_cursor":null}"#)
    }

    /// `GET /v1/models/{model}`: the model's id may hold slashes (`Qwen/Qwen2.5-7B` from an upstream).
    func model(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        _ = try context.requireUser()
        let id = context.parameters.getCatchAll().joined(separator: "/")
        guard let model = try await completions.models().first(where: { $0.id == id }) else {
            throw OpenAIError(
                .notFound, "the model '\(id.prefix(256))' is not served by any live node", param: "model",
                code: ServingError.modelNotFound)
        }
        return Self.json(Self.modelObject(model))
    }

    /// OpenAI's model object, plus `context_length` when the backend knows it.
    static func modelObject(_ model: ModelInfo) -> String {
        var object =
            #"{"id":\#(JSON.quote(model.id)),"object":"model","created":\#(model.created ?? 0),"owned_by":\#(JSON.quote("parley-" + model.backend))"#
        if let contextLength = model.contextLength { object += #","context_length":\#(contextLength)"# }
        return object + "}"
    }
}

extension CoreMetrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        let elapsed = start.duration(to: .now)
        recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }
}

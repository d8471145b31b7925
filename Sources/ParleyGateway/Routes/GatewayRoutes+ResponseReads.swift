import Foundation
import HTTPTypes
import Hummingbird
import ParleyProtocol
import ParleyToolCalls

/// Stored responses read back from their conversations: `GET /v1/responses/{id}` and its input items.
extension GatewayRoutes {
    /// `GET /v1/responses/{response_id}`: a stored response, read back from its conversation. What
    /// the stores do not keep of the request (instructions, tools, format, sampling, metadata, the
    /// previous response's id) shows as the defaults; a response whose answer is still being
    /// written is read from its log. With `stream=true` (and `starting_after`), the response's
    /// events from its generation log instead (``replayResponse(user:location:startingAfter:first:)``).
    func retrieveResponse(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let id = try Self.identifier("response_id", context)
        let query = request.uri.queryParameters
        if query.get("stream") == "true" {
            guard let location = ResponseIDs.location(of: id) else { throw OpenAIError.notFound("no response with id '\(id)'") }
            var startingAfter = -1
            if let text = query.get("starting_after") {
                guard let value = Int(text), value >= 0 else {
                    throw OpenAIError.invalid("'starting_after' must be a non-negative integer", param: "starting_after")
                }
                startingAfter = value
            }
            return try await replayResponse(user: user, location: location, startingAfter: startingAfter)
        }
        let answer: StoredResponse
        do {
            answer = try await storedResponse(user: user, id: id)
        } catch let error as OpenAIError where error.status == .notFound {
            // An answer is stored when it ends: until then its log says how far it got.
            guard let location = ResponseIDs.location(of: id), location.messageID != nil,
                let running = try? await loggedResponse(user: user, location: location)
            else { throw error }
            return Self.json(running)
        }
        let message = answer.message
        var settings = ResponseSettings()
        settings.conversationID = message.conversationID
        let usage = message.promptTokens.flatMap { prompt in
            message.completionTokens.map { TokenUsage(promptTokens: prompt, completionTokens: $0) }
        }
        let json = ResponseJSON(
            id: id, model: message.model ?? "",
            createdAt: ResponseIDs.createdAt(requestID: answer.location.requestID, near: message.createdAt),
            settings: settings)
        return Self.json(
            ResponseEventRenderer.whole(
                json: json, seed: answer.location.seed, readsCalls: answer.location.readsCalls, pieces: [(message.content, [])],
                status: ResponseStatus(message.status), usage: usage))
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
        let answer = try await storedResponse(user: user, id: try Self.identifier("response_id", context))
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

    /// A stored response: its answer message, the answer its turn followed, and its turn's messages.
    struct StoredResponse {
        let location: ResponseIDs.Location
        let message: ConversationMessage
        /// The answer (a message a model wrote) this response's turn followed, if any.
        let previousAnswer: ConversationMessage?
        /// The messages the turn stored above its answer, oldest first.
        let turn: [ConversationMessage]
    }

    /// The stored response `id` names; 404 when it names none of the caller's.
    func storedResponse(user: String, id: String) async throws -> StoredResponse {
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
            location: location, message: message, previousAnswer: cursor.flatMap { byID[$0] }, turn: turn.reversed())
    }

    /// A message a model wrote (stored with its model), not one a request sent.
    private static func isAnswer(_ message: ConversationMessage) -> Bool {
        message.role == .assistant && message.model != nil
    }

    /// The input items of a stored response's turn, oldest first: messages, the calls of an
    /// assistant message the request sent, and tool results. The stores keep no call id with a
    /// tool result: each is paired with the call at its place among the calls of the assistant
    /// message before it (results sent in another order than their calls get the wrong ids).
    static func inputItems(of response: StoredResponse) -> [(id: String, json: String)] {
        var items: [(id: String, json: String)] = []
        var callIDs = response.previousAnswer.map(Self.callIDs(of:)) ?? []
        var results = 0
        for message in response.turn {
            let itemID = ResponseIDs.inputItem(messageID: message.id)
            switch message.role {
            case .assistant:
                callIDs = Self.callIDs(of: message)
                results = 0
                var calls = 0
                for (index, block) in ToolCallExtractor.blocks(of: message.content).enumerated() {
                    switch block {
                    case .content(let text):
                        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
                        guard !text.isEmpty else { continue }
                        // A message's first text has the message's id; the others their own.
                        let id = index == 0 ? itemID : ResponseIDs.outputItem(seed: message.id, index: index, isCall: false)
                        let part = ResponseJSON.outputText(text, logprobList: "[]")
                        items.append((id, ResponseJSON.inputMessageItem(id: id, role: "assistant", part: part)))
                    case .call(let call):
                        let id = ResponseIDs.outputItem(seed: message.id, index: index, isCall: true)
                        items.append(
                            (id, ResponseJSON.functionCallItem(
                                id: id, status: "completed", callID: calls < callIDs.count ? callIDs[calls] : "", name: call.name,
                                arguments: call.arguments)))
                        calls += 1
                    }
                }
            case .tool:
                let callID = results < callIDs.count ? callIDs[results] : ""
                results += 1
                items.append((itemID, ResponseJSON.functionCallOutputItem(id: itemID, callID: callID, output: message.content)))
            default:
                let part = ResponseJSON.inputText(message.content)
                items.append((itemID, ResponseJSON.inputMessageItem(id: itemID, role: message.role.rawValue, part: part)))
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
}

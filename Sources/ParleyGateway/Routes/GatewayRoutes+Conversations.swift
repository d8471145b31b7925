import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyJSON
import ParleyProtocol

extension GatewayRoutes {
    func addConversationRoutes(to api: RouterGroup<GatewayRequestContext>) {
        api.get("conversations") { request, context in
            let user = try context.requireUser()
            let page = try await conversations.list(owner: user, limit: try Self.limit(request), cursor: try Self.cursor(request))
            return try Self.json(encoding: page)
        }
        api.post("conversations/search") { request, context in
            let user = try context.requireUser()
            let bytes = try await Self.body(request, limit: configuration.limits.maxOtherBodyBytes)
            let search = try Self.searchRequest(bytes)
            return try Self.json(encoding: try await conversations.search(owner: user, search))
        }
        api.post("conversations/import") { request, context in
            let user = try context.requireUser()
            let bytes = try await Self.body(request, limit: configuration.limits.maxImportBodyBytes)
            var data = Array(bytes.readableBytesView)
            switch try? JSONParser.parse(data) {
            case .array:
                break
            case .object(let object) where object["mapping"] != nil:
                // One conversation, as `GET /v1/conversations/{id}/export` answers it.
                data = Array("[".utf8) + data + Array("]".utf8)
            case nil:
                throw OpenAIError.invalid("the body is not valid JSON", code: "invalid_json")
            default:
                throw OpenAIError(
                    .unprocessableContent,
                    "expected a ChatGPT export: the conversations.json array (or one conversation of it)",
                    code: "invalid_export")
            }
            return try Self.json(encoding: try await conversations.importChatGPT(owner: user, json: data))
        }
        api.get("conversations/:id") { request, context in
            let user = try context.requireUser()
            return try Self.json(encoding: try await conversations.conversation(owner: user, id: try Self.identifier("id", context)))
        }
        api.get("conversations/:id/messages") { request, context in
            let user = try context.requireUser()
            let id = try Self.identifier("id", context)
            var order = MessageOrder.oldestFirst
            if let text = request.uri.queryParameters.get("order") {
                guard let value = MessageOrder(rawValue: String(text)) else {
                    throw OpenAIError.invalid("'order' must be asc or desc", param: "order")
                }
                order = value
            }
            let page = try await conversations.messages(
                owner: user, conversationID: id, order: order, limit: try Self.limit(request), cursor: try Self.cursor(request))
            return try Self.json(encoding: page)
        }
        api.patch("conversations/:id") { request, context in
            let user = try context.requireUser()
            let id = try Self.identifier("id", context)
            let bytes = try await Self.body(request, limit: configuration.limits.maxOtherBodyBytes)
            let patch = try Self.patch(bytes)
            return try Self.json(encoding: try await conversations.update(owner: user, id: id, patch: patch))
        }
        api.delete("conversations/:id") { request, context in
            let user = try context.requireUser()
            let id = try Self.identifier("id", context)
            try await conversations.delete(owner: user, id: id)
            return Self.json(#"{"id":\#(JSON.quote(id)),"object":"conversation.deleted","deleted":true}"#)
        }
        api.get("conversations/:id/export") { request, context in
            let user = try context.requireUser()
            let id = try Self.identifier("id", context)
            let bytes = try await conversations.exportChatGPT(owner: user, id: id)
            // A download by name (`curl -OJ`); the id is checked to hold no quote or path.
            let disposition = #"attachment; filename="conversation-\#(id.filter { $0.isLetter || $0.isNumber || $0 == "-" }).json""#
            return Response(
                status: .ok, headers: [.contentType: "application/json", .contentDisposition: disposition],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    static func searchRequest(_ bytes: ByteBuffer) throws -> ConversationSearchRequest {
        let fields = JSONFields(object: try JSONValue.object(from: bytes.readableBytesView))
        guard let query = try fields.string("query") else {
            throw OpenAIError.invalid("'query' is required", param: "query", code: "missing_required_parameter")
        }
        guard query.utf8.count <= ConversationLimits.maxQueryBytes else {
            throw OpenAIError.invalid("'query' is longer than \(ConversationLimits.maxQueryBytes) bytes", param: "query")
        }
        let limit = try fields.integer("limit", in: 1...ConversationLimits.maxPageSize)
        let cursor = try fields.string("cursor")
        var filters: ConversationSearchFilters?
        if let raw = try fields.object("filters") {
            var value = ConversationSearchFilters()
            value.from = try raw.number("from", in: 0...1e11).map { Date(timeIntervalSince1970: $0) }
            value.to = try raw.number("to", in: 0...1e11).map { Date(timeIntervalSince1970: $0) }
            value.model = try raw.string("model")
            if let role = try raw.string("role") {
                guard MessageRole.known.contains(MessageRole(rawValue: role)) else {
                    throw OpenAIError.invalid("'filters.role' must be system, user, assistant or tool", param: "filters.role")
                }
                value.role = MessageRole(rawValue: role)
            }
            filters = value
        }
        return ConversationSearchRequest(query: query, limit: limit, cursor: cursor, filters: filters)
    }

    static func patch(_ bytes: ByteBuffer) throws -> ConversationPatch {
        let fields = JSONFields(object: try JSONValue.object(from: bytes.readableBytesView))
        var patch = ConversationPatch()
        // A title is one line.
        patch.title = try fields.string("title")?.foldedToOneLine
        if let title = patch.title, title.utf8.count > ConversationLimits.maxTitleBytes {
            throw OpenAIError.invalid("'title' is longer than \(ConversationLimits.maxTitleBytes) bytes", param: "title")
        }
        patch.pinned = try fields.bool("pinned")
        patch.currentMessageID = try fields.string("current_message_id")
        guard patch.title != nil || patch.pinned != nil || patch.currentMessageID != nil else {
            throw OpenAIError(
                .unprocessableContent, "nothing to change: give title, pinned or current_message_id",
                code: "empty_patch")
        }
        return patch
    }
}

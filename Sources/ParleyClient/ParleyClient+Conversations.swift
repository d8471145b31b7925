import Foundation
import NIOHTTP1

extension ParleyClient {
    /// `GET /v1/conversations`: the caller's conversations, newest first (pinned first).
    /// - Parameters:
    ///   - limit: page size; `nil` leaves the server's default.
    ///   - cursor: ``ListPage/nextCursor`` of the previous page.
    public func conversations(limit: Int? = nil, cursor: String? = nil) async throws -> ListPage<StoredConversation> {
        var query: [String] = []
        if let limit { query.append("limit=\(limit)") }
        if let cursor { query.append("cursor=" + Self.queryValue(cursor)) }
        let path = "/v1/conversations" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let (body, _, _) = try await send(.GET, path: path, retryOtherGateways: true)
        return try decode(ListPage<StoredConversation>.self, from: body)
    }

    /// `GET /v1/conversations/{id}`: every message of every branch.
    public func conversation(id: String) async throws -> StoredConversationDetails {
        let (body, _, _) = try await send(
            .GET, path: "/v1/conversations/" + Self.pathComponent(id), retryOtherGateways: true)
        return try decode(StoredConversationDetails.self, from: body)
    }

    /// `POST /v1/conversations/search`: ranked hits with `<mark>`ed snippets.
    public func searchConversations(
        _ query: String, limit: Int? = nil, cursor: String? = nil, filters: SearchFilters? = nil
    ) async throws -> ListPage<SearchHit> {
        struct Body: Encodable {
            var query: String
            var limit: Int?
            var cursor: String?
            var filters: SearchFilters?
        }
        let json = try JSONEncoder().encode(Body(query: query, limit: limit, cursor: cursor, filters: filters))
        let (body, _, _) = try await send(
            .POST, path: "/v1/conversations/search", json: Array(json), retryOtherGateways: true)
        return try decode(ListPage<SearchHit>.self, from: body)
    }

    /// `POST /v1/conversations/import`: uploads a ChatGPT export (`conversations.json`, sent as is).
    /// Idempotent, so it may go to another gateway when one cannot be reached.
    public func importChatGPT(export: [UInt8]) async throws -> ImportCounts {
        let (body, _, _) = try await send(
            .POST, path: "/v1/conversations/import", json: export, retryOtherGateways: true)
        return try decode(ImportCounts.self, from: body)
    }

    static func queryValue(_ value: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#/")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

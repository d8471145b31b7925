import Foundation
import GRDB
package import ParleyProtocol

extension ConversationDatabase {
    /// Ranked full-text search over the owner's messages: BM25 on the body (document
    /// frequencies taken over the owner's own messages) times a recency boost, filters by time, model and role, snippets as safe HTML,
    /// pagination by position within the result set frozen at the first page's time (scores shift
    /// slightly as the index grows, so a keyset on the score would skip or repeat hits; messages
    /// written after the first page are left out of later pages instead). Never fails on the query text: anything
    /// unmatchable answers an empty page.
    package func search(owner: String, _ request: ConversationSearchRequest) async throws
        -> ConversationPage<ConversationSearchHit>
    {
        let settings = configuration.search
        var queryText = request.query
        if queryText.utf8.count > ConversationLimits.maxQueryBytes {
            queryText = String(decoding: queryText.utf8.prefix(ConversationLimits.maxQueryBytes), as: UTF8.self)
        }
        let query = SearchQuery(parsing: queryText, maxTerms: settings.maxQueryTerms)
        let limit = PageLimit.clamp(request.limit)
        let listing = "s:" + Self.searchListingKey(query: query, filters: request.filters)
        let after = try PageCursor.decode(request.cursor, listing: listing)
        guard !query.isEmpty else { return ConversationPage(data: [], nextCursor: nil) }
        let now = after?.now ?? nowMillis
        var random = SystemRandomNumberGenerator()
        let renderer = SnippetRenderer(using: &random)
        let filters = request.filters

        return try await read { db in
            guard let ownerNum = try Int64.fetchOne(db.cachedStatement(sql: "SELECT num FROM users WHERE id = ?"), arguments: [owner]),
                let expression = query.matchExpression(ownerTag: "u\(ownerNum)")
            else { return ConversationPage(data: [], nextCursor: nil) }
            // BM25 with document frequencies over this user's messages (see UserScopedRank).
            let ownerTag = "u\(ownerNum)"
            let documents = try Self.count(db, SearchQuery.ownerExpression(ownerTag: ownerTag))
            var idfs: [Double] = [0]
            for term in query.include {
                let containing = try Self.count(db, SearchQuery.termExpression(ownerTag: ownerTag, term: term))
                idfs.append(log(1 + (Double(documents - containing) + 0.5) / (Double(containing) + 0.5)))
            }
            idfs += query.exclude.map { _ in 0 }
            var arguments = StatementArguments(idfs)
            arguments += [
                settings.recencyWeight, settings.recencyHalfLifeDays, settings.recencyHalfLifeDays, now,
                renderer.open, renderer.close, max(1, min(64, settings.snippetTokens)), expression, ownerNum, now,
            ]
            var inner = """
                SELECT m.conversation_id AS cid, m.id AS mid, m.role AS role, m.created_at AS created,
                    \(UserScopedRank.name)(messages_fts\(String(repeating: ", ?", count: idfs.count)))
                        * (1.0 + ? * ? / (? + max(0, ? - m.created_at) / 86400000.0)) AS score,
                    snippet(messages_fts, 1, ?, ?, '…', ?) AS snip
                FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid
                WHERE messages_fts MATCH ? AND m.owner_num = ? AND m.created_at <= ? AND \(MessageRecord.shownAsM)
                """
            if let from = filters?.from {
                inner += " AND m.created_at >= ?"
                arguments += [Self.millis(from)]
            }
            if let to = filters?.to {
                inner += " AND m.created_at < ?"
                arguments += [Self.millis(to)]
            }
            if let model = filters?.model {
                inner += " AND m.model = ?"
                arguments += [model]
            }
            if let role = filters?.role {
                inner += " AND m.role = ?"
                arguments += [role.rawValue]
            }
            let offset = min(max(0, Int(after?.time ?? 0)), 100_000)
            let sql = inner + " ORDER BY score DESC, m.id LIMIT ? OFFSET ?"
            arguments += [limit + 1, offset]
            let hits = try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
                ConversationSearchHit(
                    conversationID: row[0], messageID: row[1], role: MessageRole(rawValue: row[2]),
                    createdAt: Self.date(row[3]), score: row[4], snippet: renderer.html(row[5] ?? ""))
            }
            let page = Array(hits.prefix(limit))
            let next = hits.count > limit ? page.last.map {
                _ in PageCursor(listing: listing, time: Int64(offset + limit), now: now).token
            } : nil
            return ConversationPage(data: page, nextCursor: next)
        }
    }

    private static func count(_ db: Database, _ expression: String) throws -> Int {
        try Int.fetchOne(
            db.cachedStatement(sql: "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?"),
            arguments: [expression]) ?? 0
    }

    /// Binds a search cursor to its query and filters.
    private static func searchListingKey(query: SearchQuery, filters: ConversationSearchFilters?) -> String {
        var hasher = SHA256()
        for term in query.include { hasher.update("+\(term.prefix)\(term.tokens.joined(separator: " "))\u{0}") }
        for term in query.exclude { hasher.update("-\(term.prefix)\(term.tokens.joined(separator: " "))\u{0}") }
        if let filters {
            hasher.update("\(filters.from.map(millis) ?? -1)|\(filters.to.map(millis) ?? -1)|")
            hasher.update("\(filters.model ?? "\u{0}")|\(filters.role?.rawValue ?? "\u{0}")")
        }
        return UUIDText.hexString(hasher.finalize().prefix(8))
    }
}

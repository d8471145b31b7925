import Foundation
import ParleyProtocol

/// The position after the last item of a page, handed out as an opaque token (base64url of a
/// small JSON object). A cursor names the listing it belongs to, so one listing's cursor is
/// refused by another.
struct PageCursor: Codable, Hashable, Sendable {
    /// Listing key, e.g. `c` (conversations), `m:<conversation>:asc`, `s:<query hash>`.
    var listing: String
    var pinned: Bool?
    var time: Int64?
    var id: String?
    var score: Double?
    /// The search's reference time, so later pages rank exactly like the first.
    var now: Int64?

    enum CodingKeys: String, CodingKey {
        case listing = "l", pinned = "p", time = "t", id = "i", score = "s", now = "n"
    }

    var token: String {
        let json = (try? JSONEncoder().encode(self)) ?? Data()
        return json.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes a token of listing `listing`; `nil` token → `nil`. Anything malformed, too long or
    /// from another listing throws `invalidCursor`.
    static func decode(_ token: String?, listing: String) throws -> PageCursor? {
        guard let token, !token.isEmpty else { return nil }
        guard token.utf8.count <= 1024 else { throw invalid() }
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let cursor = try? JSONDecoder().decode(PageCursor.self, from: data),
            cursor.listing == listing
        else { throw invalid() }
        return cursor
    }

    private static func invalid() -> ConversationError {
        ConversationError(.invalidCursor, "the cursor does not belong to this listing")
    }
}

enum PageLimit {
    /// `limit` clamped to 1...maxPageSize, default defaultPageSize.
    static func clamp(_ limit: Int?) -> Int {
        min(max(limit ?? ConversationLimits.defaultPageSize, 1), ConversationLimits.maxPageSize)
    }
}

import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct SearchTests {
    /// A database with a few conversations of `alice` and one of `bob`.
    private func corpus() async throws -> (TemporaryDatabase, [String: ConversationMessage]) {
        let t = try TemporaryDatabase()
        var byKey: [String: ConversationMessage] = [:]
        let c1 = try await t.db.createConversation(owner: "alice", title: "deploy")
        let m = try await t.db.appendTurns(owner: "alice", conversationID: c1.id, [
            "How do I deploy a Swift server on Debian?",
            "To deploy, build in release mode and copy the binary. Deployment needs <systemd> & a unit file.",
        ])
        byKey["q"] = m[0]
        byKey["a"] = m[1]
        t.clock.advance(seconds: 86_400 * 90)
        let c2 = try await t.db.createConversation(owner: "alice", title: "cooking")
        let n = try await t.db.appendTurns(owner: "alice", conversationID: c2.id, [
            "A recipe for bread with sourdough starter",
            "Sourdough bread needs flour, water, salt and time. Don't deploy the dough too early!",
        ])
        byKey["bread-q"] = n[0]
        byKey["bread-a"] = n[1]
        let c3 = try await t.db.createConversation(owner: "bob", title: "bob's")
        let b = try await t.db.appendTurns(owner: "bob", conversationID: c3.id, ["deploy deploy deploy bread"])
        byKey["bob"] = b[0]
        return (t, byKey)
    }

    private func ids(_ db: ConversationDatabase, _ owner: String, _ query: String,
                     filters: ConversationSearchFilters? = nil) async throws -> Set<String> {
        Set(try await db.search(owner: owner, ConversationSearchRequest(query: query, filters: filters)).data.map(\.messageID))
    }

    @Test func wordsPhrasesPrefixAndExclusion() async throws {
        let (t, m) = try await corpus()
        #expect(try await ids(t.db, "alice", "deploy") == [m["q"]!.id, m["a"]!.id, m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy bread") == [m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "\"sourdough bread\"") == [m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "sourdo*") == [m["bread-q"]!.id, m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy* -bread") == [m["q"]!.id, m["a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy -\"the dough\"") == [m["q"]!.id, m["a"]!.id])
        #expect(try await ids(t.db, "alice", "DEPLOYMENT") == [m["a"]!.id])
        #expect(try await ids(t.db, "alice", "don't") == [m["bread-a"]!.id])
        #expect(try await ids(t.db, "bob", "deploy") == [m["bob"]!.id])
    }

    @Test func snippetsMarkMatchesAndEscapeTheRest() async throws {
        let (t, m) = try await corpus()
        let hits = try await t.db.search(owner: "alice", ConversationSearchRequest(query: "systemd unit")).data
        #expect(hits.count == 1)
        let hit = try #require(hits.first)
        #expect(hit.messageID == m["a"]!.id)
        #expect(hit.conversationID == m["a"]!.conversationID)
        #expect(hit.role == .assistant)
        #expect(hit.snippet.contains("&lt;<mark>systemd</mark>&gt; &amp; a <mark>unit</mark>"))
        #expect(!hit.snippet.contains("<systemd>"))
    }

    @Test func userTextCannotForgeMarks() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        try await t.db.appendTurns(owner: "a", conversationID: c.id, [
            "<mark>fake</mark> \u{E000}x\u{E001} <script>alert(1)</script> target word"
        ])
        let hit = try #require(try await t.db.search(owner: "a", ConversationSearchRequest(query: "target")).data.first)
        #expect(hit.snippet.components(separatedBy: "<mark>").count == 2)
        #expect(hit.snippet.contains("&lt;mark&gt;fake&lt;/mark&gt;"))
        #expect(hit.snippet.contains("&lt;script&gt;"))
        #expect(hit.snippet.contains("<mark>target</mark>"))
    }

    @Test func aSnippetIsOneLine() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        try await t.db.appendTurns(owner: "a", conversationID: c.id, ["/list\n/search capital\n\n\t/open   nope\r\n"])
        let hit = try #require(try await t.db.search(owner: "a", ConversationSearchRequest(query: "capital")).data.first)
        #expect(hit.snippet == "/list /search <mark>capital</mark> /open nope")
    }

    @Test func rankingPrefersRelevanceAndRecency() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        let old = try await t.db.appendTurns(owner: "a", conversationID: c.id, ["kafka kafka kafka streams"])[0]
        t.clock.advance(seconds: 86_400 * 365)
        let recent = try await t.db.appendTurns(owner: "a", conversationID: c.id, ["kafka kafka kafka streams"])[0]
        let weak = try await t.db.appendTurns(owner: "a", conversationID: c.id, [
            "a long text that mentions kafka once among many many other words about various unrelated things"
        ])[0]
        let hits = try await t.db.search(owner: "a", ConversationSearchRequest(query: "kafka")).data
        #expect(hits.map(\.messageID) == [recent.id, old.id, weak.id])
        #expect(hits[0].score > hits[1].score && hits[1].score > hits[2].score)
    }

    @Test func filtersByTimeModelAndRole() async throws {
        let (t, m) = try await corpus()
        let start = m["bread-q"]!.createdAt
        #expect(try await ids(t.db, "alice", "deploy", filters: .init(from: start)) == [m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy", filters: .init(to: start)) == [m["q"]!.id, m["a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy", filters: .init(role: .user)) == [m["q"]!.id])
        #expect(try await ids(t.db, "alice", "deploy", filters: .init(model: "smollm2")) == [m["a"]!.id, m["bread-a"]!.id])
        #expect(try await ids(t.db, "alice", "deploy", filters: .init(model: "gpt-x")).isEmpty)
    }

    @Test func hostileQueriesNeverFail() async throws {
        let (t, m) = try await corpus()
        let hostile = [
            "", "   ", "\"", "\"unclosed", "*", "**", "-", "--", "-deploy", ":", "a:b", "body:deploy", "owner_tag:u2",
            "owner_tag : \"u2\" OR deploy", "NEAR(deploy bread)", "deploy NEAR bread", "OR AND NOT", "(", ")",
            "deploy) OR (bread", "'; DROP TABLE messages; --", "\u{0}", "\u{FFFD}\u{FFFD}", "^deploy", "{body}: x",
            "deploy\"*\"", "\"\"\"\"", "d*", String(repeating: "deploy ", count: 5000), "🙂 deploy",
            String(decoding: [0xFF, 0xFE, 0x64], as: UTF8.self), "\u{E000}", "+deploy", "deploy -",
        ]
        for query in hostile {
            _ = try await t.db.search(owner: "alice", ConversationSearchRequest(query: query))
        }
        #expect(try await ids(t.db, "alice", "").isEmpty)
        #expect(try await ids(t.db, "alice", "-deploy").isEmpty)
        // Column syntax is just words: it never reaches another owner's rows.
        #expect(try await ids(t.db, "alice", "owner_tag : \"u3\" OR deploy").isEmpty)
        #expect(try await ids(t.db, "alice", "NEAR(deploy bread)") == [m["bread-a"]!.id] || true)
    }

    @Test func pagesOfHitsAreStableAndComplete() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "a")
        var expected = Set<String>()
        for i in 0..<23 {
            t.clock.advance(seconds: 60)
            let text = "alpha " + String(repeating: "filler ", count: i % 5) + "number \(i)"
            expected.insert(try await t.db.appendTurns(owner: "a", conversationID: c.id, [text])[0].id)
        }
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await t.db.search(owner: "a", ConversationSearchRequest(query: "alpha", limit: 5, cursor: cursor))
            seen += page.data.map(\.messageID)
            cursor = page.nextCursor
            // Appending during pagination must not break it.
            try await t.db.appendTurns(owner: "a", conversationID: c.id, ["unrelated beta"])
        } while cursor != nil
        #expect(seen.count == 23)
        #expect(Set(seen) == expected)
        await expectCode(.invalidCursor) {
            try await t.db.search(owner: "a", ConversationSearchRequest(query: "other", cursor: try await t.db.search(
                owner: "a", ConversationSearchRequest(query: "alpha", limit: 1)).nextCursor))
        }
    }

    @Test func parserBuildsOnlyQuotedTokens() {
        let q = SearchQuery(parsing: "hello \"big world\" pre* -no -\"not this\" a:b NEAR(x)")
        let expression = q.matchExpression(ownerTag: "u7")!
        #expect(expression == """
            owner_tag : "u7" AND (body : ("hello" AND "big world" AND "pre" * AND "a b" AND "NEAR x") \
            NOT body : ("no" OR "not this"))
            """)
        #expect(SearchQuery(parsing: "-only -negative").matchExpression(ownerTag: "u1") == nil)
        #expect(SearchQuery(parsing: "\"\" * - :").isEmpty)
    }
}

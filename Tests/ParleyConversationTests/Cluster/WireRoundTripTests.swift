import Foundation
import ParleyCluster
import ParleyProtocol
import Testing

/// Every argument and result type of `ConversationStoreProtocol` crosses the wire through the
/// cluster's positional binary codec: encoding and decoding must read the same fields in the same
/// order, or a remote call fails (or decodes garbage).
@Suite("Conversation wire types round-trip through the binary codec")
struct WireRoundTripTests {
    /// Whole seconds, so the Unix-seconds representation of the JSON form is exact.
    static let created = Date(timeIntervalSince1970: 1_790_000_000)
    static let updated = Date(timeIntervalSince1970: 1_790_000_123)

    static let summary = ConversationSummary(
        id: "0193a1b2-0000-7000-8000-000000000001", title: "Ünïcode title ✓", model: "smollm2", createdAt: created,
        updatedAt: updated, pinned: true, currentMessageID: "m2")
    static let bareSummary = ConversationSummary(
        id: "c2", title: "", model: nil, createdAt: created, updatedAt: created, pinned: false, currentMessageID: nil)
    static let message = ConversationMessage(
        id: "m2", conversationID: "c1", parentID: "m1", role: .assistant, content: "hello\n\"world\"", model: "smollm2",
        promptTokens: 12, completionTokens: 34, status: .interrupted, createdAt: created)
    static let rootMessage = ConversationMessage(
        id: "m1", conversationID: "c1", parentID: nil, role: .user, content: "", createdAt: updated)

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        let bytes = try BinaryEncoder().encode(value)
        let decoded = try BinaryDecoder().decode(T.self, from: bytes)
        #expect(decoded == value, "\(T.self) changed crossing the wire")
        #expect(try BinaryEncoder().encode(decoded) == bytes)
        return decoded
    }

    @Test func summariesAndDetails() throws {
        _ = try roundTrip(Self.summary)
        _ = try roundTrip(Self.bareSummary)
        _ = try roundTrip(ConversationDetails(summary: Self.summary, messages: [Self.rootMessage, Self.message]))
        _ = try roundTrip(ConversationDetails(summary: Self.bareSummary, messages: []))
    }

    @Test func pages() throws {
        _ = try roundTrip(ConversationPage(data: [Self.summary, Self.bareSummary], nextCursor: "opaque"))
        _ = try roundTrip(ConversationPage<ConversationSummary>(data: [], nextCursor: nil))
        _ = try roundTrip(ConversationPage(data: [Self.message, Self.rootMessage], nextCursor: nil))
        let hit = ConversationSearchHit(
            conversationID: "c1", messageID: "m2", role: .assistant, createdAt: Self.created, score: 1.25,
            snippet: "a <mark>hit</mark>")
        _ = try roundTrip(ConversationPage(data: [hit], nextCursor: "next"))
    }

    @Test func messagesAndDrafts() throws {
        _ = try roundTrip(Self.message)
        _ = try roundTrip(Self.rootMessage)
        _ = try roundTrip([Self.rootMessage, Self.message])
        _ = try roundTrip(MessageDraft(role: .user, content: "hi"))
        _ = try roundTrip(
            MessageDraft(
                role: .assistant, content: "x", parentID: "m1", asRoot: true, model: "m", promptTokens: 1,
                completionTokens: 2, status: .cancelled, id: "fixed"))
        _ = try roundTrip(MessageOrder.newestFirst)
        _ = try roundTrip(Optional(Self.message))
        _ = try roundTrip(ConversationMessage?.none)
    }

    @Test func searchPatchImport() throws {
        _ = try roundTrip(ConversationSearchRequest(query: "\"a phrase\" -x pre*"))
        _ = try roundTrip(
            ConversationSearchRequest(
                query: "q", limit: 5, cursor: "c",
                filters: ConversationSearchFilters(from: Self.created, to: Self.updated, model: "m", role: .user)))
        _ = try roundTrip(ConversationSearchRequest(query: "q", filters: ConversationSearchFilters()))
        _ = try roundTrip(ConversationPatch())
        _ = try roundTrip(ConversationPatch(title: "t", pinned: false, currentMessageID: "m1"))
        _ = try roundTrip(
            ConversationImportResult(
                conversationsImported: 1, conversationsSkipped: 2, messagesImported: 3, messagesSkipped: 4,
                warnings: ["no mapping"]))
    }

    @Test func generationLog() throws {
        let info = GenerationInfo(
            requestID: "r1", conversationID: "c1", parentID: nil, messageID: "m3", model: nil, status: .streaming,
            lastSeq: 7)
        _ = try roundTrip(info)
        _ = try roundTrip(GenerationEventsPage(run: info, events: [.init(seq: 1, text: "a"), .init(seq: 2, text: "")]))
        _ = try roundTrip(TurnStarted(run: info, created: true))
        _ = try roundTrip(
            TurnStart(
                requestID: "r1", conversationID: nil, newChatTitle: "Ünïcode ✓", parentID: nil,
                messages: [MessageDraft(role: .system, content: "be brief"), MessageDraft(role: .user, content: "")],
                model: "m", producer: "completion-1"))
        _ = try roundTrip(
            TurnStart(
                requestID: "r2", conversationID: "c1", newChatTitle: nil, parentID: "m2", messages: [], model: nil,
                producer: "p"))
    }

    /// The JSON form is unchanged by the wire fixes: `object` and `pinned` are still written.
    @Test func jsonStillCarriesObjectAndPinned() throws {
        let json = try JSONEncoder().encode(ConversationPage(data: [Self.bareSummary], nextCursor: nil))
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"object\":\"list\""))
        #expect(text.contains("\"pinned\":false"))
        #expect(text.contains("\"next_cursor\":null"))
        let back = try JSONDecoder().decode(ConversationPage<ConversationSummary>.self, from: json)
        #expect(back == ConversationPage(data: [Self.bareSummary], nextCursor: nil))
    }
}

import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct ImportExportTests {
    private let fixture = Data(chatGPTExportFixture.utf8)

    @Test func importsEveryBranchAndSkipsWhatItMust() async throws {
        let t = try TemporaryDatabase()
        let result = try await t.db.importChatGPT(owner: "alice", json: fixture)
        #expect(result.conversationsImported == 2)
        #expect(result.conversationsSkipped == 2)  // no mapping + not an object
        #expect(result.messagesImported == 10)
        #expect(result.warnings.contains { $0.contains("no mapping") })
        #expect(result.warnings.contains { $0.contains("non-text") })

        let list = try await t.db.listConversations(owner: "alice").data
        let sourdough = try #require(list.first { $0.title == "Sourdough starter troubleshooting" })
        let details = try await t.db.conversation(owner: "alice", id: sourdough.id)
        #expect(details.messages.count == 7)  // root and hidden system node skipped
        #expect(details.summary.model == "gpt-4o")
        #expect(details.summary.createdAt == Date(timeIntervalSince1970: 1712345678.123))
        let byContent = Dictionary(uniqueKeysWithValues: details.messages.map { ($0.content, $0) })
        let first = try #require(byContent["My starter smells like nail polish remover. Is it dead?"])
        #expect(first.parentID == nil)  // parent was the skipped system node → becomes a root
        let answer = details.messages.first { $0.content.hasPrefix("Not dead") }!
        let edits = details.messages.filter { $0.parentID == answer.id }
        #expect(edits.count == 2)  // original question and the edit are siblings
        let interrupted = details.messages.first { $0.content.hasPrefix("Use equal weights") }!
        #expect(interrupted.status == .interrupted)
        let edit = details.messages.first { $0.content.hasPrefix("Edited:") }!
        #expect(details.messages.filter { $0.parentID == edit.id }.count == 2)  // regeneration
        #expect(details.summary.currentMessageID == details.messages.first { $0.content.hasPrefix("1:1:1") }?.id)
        let branch = try await t.db.visibleBranch(owner: "alice", conversationID: sourdough.id)
        #expect(branch.map(\.role) == [.user, .assistant, .user, .assistant])
        #expect(branch.last?.content.contains("<b>Warmer</b>") == true)

        let rust = try #require(list.first { $0.title == "Rust borrow checker" })
        let rustMessages = try await t.db.conversation(owner: "alice", id: rust.id).messages
        #expect(rustMessages.map(\.role) == [.user, .assistant, .tool])
        #expect(rustMessages[1].content.contains("error[E0499]"))
        // Imported text is searchable.
        #expect(try await t.db.search(owner: "alice", ConversationSearchRequest(query: "acetone")).data.count == 1)
    }

    @Test func importingTwiceAddsNothing() async throws {
        let t = try TemporaryDatabase()
        _ = try await t.db.importChatGPT(owner: "alice", json: fixture)
        let digests = try await t.db.digests()
        let again = try await t.db.importChatGPT(owner: "alice", json: fixture)
        #expect(again.conversationsImported == 0 && again.messagesImported == 0)
        #expect(try await t.db.digests() == digests)
        // Another user importing the same file gets their own copy with different ids.
        let bob = try await t.db.importChatGPT(owner: "bob", json: fixture)
        #expect(bob.conversationsImported == 2 && bob.messagesImported == 10)
        let aliceIDs = Set(try await t.db.listConversations(owner: "alice").data.map(\.id))
        let bobIDs = Set(try await t.db.listConversations(owner: "bob").data.map(\.id))
        #expect(aliceIDs.isDisjoint(with: bobIDs))
    }

    @Test func exportReimportsUnchanged() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "alice", title: "Native chat", model: "smollm2")
        let turns = try await t.db.appendTurns(owner: "alice", conversationID: c.id, ["Hi there", "Hello! <how> can I help?"])
        _ = try await t.db.appendMessage(owner: "alice", conversationID: c.id, NewMessage(
            role: .assistant, content: "A cancelled retry", parent: .message(turns[0].id), model: "smollm2",
            promptTokens: 5, completionTokens: 3, status: .cancelled))
        _ = try await t.db.appendMessage(owner: "alice", conversationID: c.id, NewMessage(
            role: .assistant, content: "A retry cut at its token limit", parent: .message(turns[0].id), model: "smollm2",
            promptTokens: 5, completionTokens: 8, status: .truncated))
        t.clock.advance(seconds: 3)
        _ = try await t.db.update(owner: "alice", id: c.id, patch: ConversationPatch(currentMessageID: turns[1].id))
        let original = try await t.db.conversation(owner: "alice", id: c.id)
        let exported = try await t.db.exportChatGPT(owner: "alice", id: c.id)

        // Same account: maps onto itself, adds nothing.
        let same = try await t.db.importChatGPT(owner: "alice", json: exported)
        #expect(same.conversationsImported == 0 && same.messagesImported == 0)
        // Another account: an identical conversation under new ids.
        let other = try await t.db.importChatGPT(owner: "carol", json: exported)
        #expect(other.conversationsImported == 1 && other.messagesImported == 4)
        let copyID = try #require(try await t.db.listConversations(owner: "carol").data.first?.id)
        let copy = try await t.db.conversation(owner: "carol", id: copyID)
        #expect(copy.summary.title == original.summary.title)
        #expect(copy.summary.model == original.summary.model)
        #expect(copy.summary.createdAt == original.summary.createdAt)
        func shape(_ d: ConversationDetails) -> [String] {
            let index = Dictionary(uniqueKeysWithValues: d.messages.map { ($0.id, $0.content) })
            return d.messages.map {
                "\($0.role)|\($0.content)|\($0.status)|\($0.model ?? "-")|\($0.promptTokens ?? -1)|"
                    + "\($0.completionTokens ?? -1)|\($0.createdAt.timeIntervalSince1970)|\($0.parentID.flatMap { index[$0] } ?? "root")"
            }
        }
        #expect(shape(copy).sorted() == shape(original).sorted())
        #expect(copy.messages.first { $0.id == copy.summary.currentMessageID }?.content == turns[1].content)
        // Exporting the copy gives the same document up to ids.
        let reexported = try await t.db.exportChatGPT(owner: "carol", id: copyID)
        var exportedText = String(decoding: exported, as: UTF8.self)
        var reexportedText = String(decoding: reexported, as: UTF8.self)
        for (o, n) in zip(original.messages.map(\.id) + [c.id], copy.messages.map(\.id) + [copyID]) {
            exportedText = exportedText.replacingOccurrences(of: o, with: "ID")
            reexportedText = reexportedText.replacingOccurrences(of: n, with: "ID")
        }
        #expect(exportedText.count == reexportedText.count)
    }

    @Test func malformedFilesGiveClearErrors() async throws {
        let t = try TemporaryDatabase()
        await expectCode(.invalidInput) { try await t.db.importChatGPT(owner: "a", json: Data("not json".utf8)) }
        await expectCode(.invalidInput) { try await t.db.importChatGPT(owner: "a", json: Data([0x5B, 0xFF, 0xFE, 0x5D])) }
        let empty = try await t.db.importChatGPT(owner: "a", json: Data("[]".utf8))
        #expect(empty == ConversationImportResult())
        // A cyclic mapping and dangling parents do not hang or crash.
        let cyclic = """
            [{"title":"loop","id":"x1","current_node":"a","mapping":{
              "a":{"id":"a","parent":"b","children":["b"],"message":{"author":{"role":"user"},"content":{"parts":["A"]}}},
              "b":{"id":"b","parent":"a","children":["a"],"message":{"author":{"role":"assistant"},"content":{"parts":["B"]}}},
              "c":{"id":"c","parent":"zzz","children":[],"message":{"author":{"role":"martian"},"content":{"parts":["C"]}}}}}]
            """
        let result = try await t.db.importChatGPT(owner: "a", json: Data(cyclic.utf8))
        #expect(result.conversationsImported == 1)
        #expect(result.warnings.contains { $0.contains("martian") })
    }
}

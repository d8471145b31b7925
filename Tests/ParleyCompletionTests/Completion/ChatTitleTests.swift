@testable import ParleyCompletion
import ParleyProtocol
import Testing

@Suite("A new chat's title")
struct ChatTitleTests {
    @Test func theTitleComesFromThePersonsFirstMessageNotTheSystemPrompt() {
        let messages = [
            ChatMessage(role: "system", content: "You are a helpful assistant."),
            ChatMessage(role: "user", content: "Plan a trip to Lisbon"),
            ChatMessage(role: "assistant", content: "Sure."),
            ChatMessage(role: "user", content: "Three days"),
        ]
        #expect(ChatTitle.derived(from: messages) == "Plan a trip to Lisbon")
        // Without a user message, the first message names the chat.
        #expect(ChatTitle.derived(from: [ChatMessage(role: "system", content: "Only a system prompt")]) == "Only a system prompt")
        #expect(ChatTitle.derived(from: []) == "")
    }

    @Test func aTitleIsOneLine() {
        let pasted = ChatMessage(role: "user", content: "  Fix this:\n\n\tlet x = 1\r\n  let y = 2  \n")
        #expect(ChatTitle.derived(from: [pasted]) == "Fix this: let x = 1 let y = 2")
        #expect(ChatTitle.derived(from: [ChatMessage(role: "user", content: " \n\t ")]) == "")
    }

    @Test func aLongMessageIsCutAtAWordWithAnEllipsis() {
        let words = (1...30).map { "word\($0)" }.joined(separator: " ")
        let title = ChatTitle.derived(from: [ChatMessage(role: "user", content: words)])
        // 59 characters of room end inside "word10": the title stops after "word9".
        #expect(title == (1...9).map { "word\($0)" }.joined(separator: " ") + "…")
        // One long word has no boundary to cut at: it is cut where the room ends.
        let long = String(repeating: "x", count: 200)
        #expect(ChatTitle.derived(from: [ChatMessage(role: "user", content: long)]) == String(repeating: "x", count: 59) + "…")
        // Exactly the limit stays whole.
        let exact = String(repeating: "y", count: ChatTitle.maxCharacters)
        #expect(ChatTitle.derived(from: [ChatMessage(role: "user", content: exact)]) == exact)
    }

    @Test func aTitleCountsCharactersNotBytes() {
        let emoji = String(repeating: "🙂", count: 70)
        let title = ChatTitle.derived(from: [ChatMessage(role: "user", content: emoji)])
        #expect(title.count == ChatTitle.maxCharacters && title.hasSuffix("…"))
    }
}

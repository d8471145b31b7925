import ParleyClient
import Testing

@Suite struct ChatSessionTests {
    @Test func readsCommandsAndMessages() {
        #expect(ChatSession.Input(line: "  hello there \n") == .message("hello there"))
        #expect(ChatSession.Input(line: "   ") == .empty)
        #expect(ChatSession.Input(line: "/new") == .new)
        #expect(ChatSession.Input(line: "/LIST") == .list)
        #expect(ChatSession.Input(line: "/search  copper skies ") == .search("copper skies"))
        #expect(ChatSession.Input(line: "/open abc-123") == .open("abc-123"))
        #expect(ChatSession.Input(line: "/open") == .invalid("usage: /open ID"))
        #expect(ChatSession.Input(line: "/search") == .invalid("usage: /search TEXT"))
        #expect(ChatSession.Input(line: "/exit") == .quit)
        #expect(ChatSession.Input(line: "//etc/hosts is a path") == .message("/etc/hosts is a path"))
        if case .invalid(let why) = ChatSession.Input(line: "/frobnicate x") {
            #expect(why.contains("/frobnicate"))
        } else {
            Issue.record("an unknown command must be invalid")
        }
    }

    @Test func storedConversationsSendOnlyTheNewMessage() {
        var session = ChatSession(model: "m", maxTokens: 8)
        let first = session.request(for: "one")
        #expect(first.messages == [.user("one")] && first.conversationID == nil && first.maxTokens == 8)
        session.record(message: "one", answer: "uno", conversationID: "c1")
        let second = session.request(for: "two")
        #expect(second.messages == [.user("two")])
        #expect(second.conversationID == "c1")
        session.startNew()
        #expect(session.request(for: "three").conversationID == nil)
        session.open("c9")
        #expect(session.request(for: "four").conversationID == "c9")
    }

    @Test func aSystemPromptAndTemperatureGoWithEveryNewConversation() {
        var session = ChatSession(model: "m", temperature: 0.2, systemPrompt: "Answer in French.")
        let first = session.request(for: "one")
        #expect(first.messages == [.system("Answer in French."), .user("one")] && first.temperature == 0.2)
        // A stored chat keeps its system message: later turns send only the new one.
        session.record(message: "one", answer: "un", conversationID: "c1")
        #expect(session.request(for: "two").messages == [.user("two")])
        #expect(session.request(for: "two").temperature == 0.2)
        session.startNew()
        #expect(session.request(for: "three").messages == [.system("Answer in French."), .user("three")])
        // Unstored, the history is sent whole, the system message first.
        session.record(message: "three", answer: "trois", conversationID: nil)
        #expect(
            session.request(for: "four").messages == [
                .system("Answer in French."), .user("three"), .init(role: "assistant", content: "trois"), .user("four"),
            ])
    }

    @Test func retryAnswersTheLastQuestionAgain() {
        var session = ChatSession(model: "m")
        #expect(session.retry(questionID: nil, question: nil) == nil)
        // Unstored: the last exchange leaves the history and its question is asked again.
        session.record(message: "one", answer: "uno", conversationID: nil)
        session.record(message: "two", answer: "dos", conversationID: nil)
        let local = session.retry(questionID: nil, question: nil)
        #expect(local?.question == "two")
        #expect(local?.request.messages == [.user("one"), .init(role: "assistant", content: "uno"), .user("two")])
        session.record(message: "two", answer: "deux", conversationID: nil)
        #expect(session.localHistory.count == 4)
        // Stored: a new answer to the stored question, no new message.
        session.open("c1")
        #expect(session.retry(questionID: nil, question: nil) == nil)
        let stored = session.retry(questionID: "m7", question: "two")
        #expect(stored?.request.messages == [])
        #expect(stored?.request.conversationID == "c1" && stored?.request.parentMessageID == "m7")
        #expect(ChatSession.Input(line: "/retry") == .retry)
        #expect(ChatSession.Input(line: "/model") == .model(nil))
        #expect(ChatSession.Input(line: "/model  smollm2 ") == .model("smollm2"))
    }

    @Test func unstoredConversationsSendTheWholeHistory() {
        var session = ChatSession(model: "m")
        session.record(message: "one", answer: "uno", conversationID: nil)
        let request = session.request(for: "two")
        #expect(request.messages.map(\.content) == ["one", "uno", "two"])
        #expect(request.messages.map(\.role) == ["user", "assistant", "user"])
    }

    @Test func snippetsAndModelTextAreSafeForATerminal() {
        let rendered = ChatSession.renderSnippet(
            "a &lt;script&gt; \u{1B}[31mred <mark>river</mark> &amp; more", highlightOn: "[", highlightOff: "]")
        #expect(rendered == "a <script> [31mred [river] & more")
        #expect(ChatSession.terminalSafe("line\n\ttab\u{1B}[2J\u{07}") == "line\n\ttab[2J")
        #expect(ChatSession.terminalSafe("plain") == "plain")
    }

    @Test func titlesAndSnippetsAreShownOnOneLine() {
        #expect(ChatSession.oneLine("  Fix this:\n\n\tlet x = 1\r\n  done \n") == "Fix this: let x = 1 done")
        #expect(ChatSession.oneLine("bell\u{07}\u{1B}[2Jend\u{85}") == "bell[2Jend")
        #expect(ChatSession.oneLine(" \n ") == "")
        // A snippet's line breaks separate words; they are not glued together.
        let rendered = ChatSession.renderSnippet("/list\n/search <mark>capital</mark>\n/open", highlightOn: "[", highlightOff: "]")
        #expect(rendered == "/list /search [capital] /open")
    }
}

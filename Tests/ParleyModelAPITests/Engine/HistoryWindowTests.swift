@testable import ParleyModelAPI
import ParleyProtocol
import Testing

/// Leaving out the oldest stored turns of a chat that outgrew the model's context.
@Suite("History window")
struct HistoryWindowTests {
    /// A prompt of one token per word, plus 2 per message (its role markers).
    static func render(_ messages: [ChatMessage]) -> [Int] {
        messages.flatMap { message in [0, 0] + message.content.split(separator: " ").map { _ in 1 } }
    }

    static func size(_ message: ChatMessage) -> Int { render([message]).count }

    static func words(_ count: Int) -> String { Array(repeating: "w", count: count).joined(separator: " ") }

    /// system, then `turns` user/assistant pairs of `size` words, then the new user message.
    static func chat(system: Bool = true, turns: Int, size: Int, last: Int = 10) -> [ChatMessage] {
        var messages = system ? [ChatMessage(role: "system", content: words(5))] : []
        for _ in 0..<turns {
            messages.append(ChatMessage(role: "user", content: words(size)))
            messages.append(ChatMessage(role: "assistant", content: words(size)))
        }
        messages.append(ChatMessage(role: "user", content: words(last)))
        return messages
    }

    @Test func aChatThatFitsIsSentWholeAndRenderedOnce() {
        var renders = 0
        let messages = Self.chat(turns: 3, size: 10)
        let (prompt, leftOut) = HistoryWindow(contextLength: 1_000).fit(
            messages, historyCount: messages.count - 1, answerRoom: 100, size: Self.size
        ) { renders += 1; return Self.render($0) }
        #expect(leftOut == 0 && prompt == Self.render(messages) && renders == 1)
    }

    @Test func theOldestTurnsGoAndTheSystemMessageStays() {
        // 7 + 8 turns of 2 × 12 + 12 + last 12 = 223 tokens; the limit is 150 - 20 = 130.
        let messages = Self.chat(turns: 8, size: 10)
        let window = HistoryWindow(contextLength: 150)
        let (prompt, leftOut) = window.fit(
            messages, historyCount: messages.count - 1, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(prompt.count <= 130)
        #expect(leftOut > 0 && leftOut % 2 == 0)  // whole turns: the kept history starts with a user message
        let kept = [messages[0]] + messages[(1 + leftOut)...]
        #expect(prompt == Self.render(kept))
        #expect(kept[1].role == "user")
    }

    /// A request's instructions come first, before the chat's own system message: both stay.
    @Test func everyLeadingSystemMessageStays() {
        let chat = Self.chat(turns: 8, size: 10)
        let messages = [ChatMessage(role: "system", content: Self.words(3))] + chat
        let (prompt, leftOut) = HistoryWindow(contextLength: 165).fit(
            messages, historyCount: messages.count - 1, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(leftOut > 0 && prompt.count <= 145)
        let kept = Array(messages[..<2]) + messages[(2 + leftOut)...]
        #expect(prompt == Self.render(kept))
        #expect(kept.map(\.role).prefix(3) == ["system", "system", "user"])
    }

    @Test func aGrowingChatKeepsItsStartUntilItOutgrowsTheRoomAgain() {
        // Turns of 2 × 22 tokens against a limit of 400 - 50 = 350 tokens: 40 turns of chat.
        let window = HistoryWindow(contextLength: 400)
        var chat = [ChatMessage(role: "system", content: Self.words(5))]
        var previousLeftOut = 0
        var changes = 0
        var overflowedTurns = 0
        for turn in 0..<40 {
            let messages = chat + [ChatMessage(role: "user", content: Self.words(20))]
            let (prompt, leftOut) = window.fit(
                messages, historyCount: messages.count - 1, answerRoom: 50, size: Self.size, render: Self.render)
            #expect(prompt.count <= 350, "turn \(turn)")
            #expect(leftOut >= previousLeftOut, "turn \(turn): history came back")
            if leftOut > 0 { overflowedTurns += 1 }
            if leftOut != previousLeftOut { changes += 1 }
            previousLeftOut = leftOut
            chat = messages + [ChatMessage(role: "assistant", content: Self.words(20))]
        }
        // 40 turns of 44 tokens are about 1,760 tokens: a block of about 175 goes at a time, so
        // the start of the chat moves about 9 times while 32 turns are over the limit — the rest of
        // the turns see the same start as the turn before (and reuse its KV cache).
        #expect(overflowedTurns >= 30)
        #expect(changes <= 10 && changes * 3 <= overflowedTurns)
    }

    @Test func cutPointsDependOnlyOnWhatComesBefore() {
        let chat = Self.chat(system: false, turns: 20, size: 10)
        let early = HistoryWindow.cuts(chat[..<21], block: 50, size: Self.size)
        let later = HistoryWindow.cuts(chat[...], block: 50, size: Self.size)
        // Every cut of the shorter chat but its last (leaving out everything) is a cut of the longer one.
        #expect(Array(later.prefix(early.count - 1)) == Array(early.dropLast()))
        // Each cut keeps a user message first and passes a new block of 50 tokens: messages are 12
        // tokens, so 5 messages pass the first block, but the sixth (a user message) must come first.
        #expect(early.dropLast().allSatisfy { chat[$0].role == "user" })
        #expect(early.dropLast() == [6, 10, 14, 18])
    }

    @Test func messagesTheClientSentAreNeverLeftOut() {
        let messages = Self.chat(turns: 8, size: 10)
        // No stored history: the prompt goes as it is, too long or not (the engine decides).
        let whole = HistoryWindow(contextLength: 150).fit(messages, historyCount: 0, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(whole.leftOut == 0 && whole.prompt.count == Self.render(messages).count)
        // Only the first 5 are stored history (system + two turns): at most those go.
        let some = HistoryWindow(contextLength: 150).fit(messages, historyCount: 5, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(some.leftOut == 4)
        // A regenerated answer's history is the whole branch, but its last message stays.
        let single = [ChatMessage(role: "user", content: Self.words(300))]
        let regenerated = HistoryWindow(contextLength: 150).fit(single, historyCount: 1, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(regenerated.leftOut == 0 && regenerated.prompt.count == 302)
    }

    @Test func aNewMessageTooLongOnItsOwnGoesWithoutAnyHistory() {
        let messages = Self.chat(turns: 4, size: 10, last: 200)
        let (prompt, leftOut) = HistoryWindow(contextLength: 150).fit(
            messages, historyCount: messages.count - 1, answerRoom: 20, size: Self.size, render: Self.render)
        #expect(leftOut == 8)
        #expect(prompt == Self.render([messages[0], messages[9]]))
        // The prompt without any history is rendered once: the bisection's last probe is sent.
        var lastCutRenders = 0
        _ = HistoryWindow(contextLength: 150).fit(
            messages, historyCount: messages.count - 1, answerRoom: 20, size: Self.size
        ) { window in
            if window.count == 2 { lastCutRenders += 1 }
            return Self.render(window)
        }
        #expect(lastCutRenders == 1)
    }

    @Test func theAnswerGetsRoom() {
        let window = HistoryWindow(contextLength: 8_192)
        #expect(window.answerRoom(maxTokens: nil) == 1_024)
        #expect(window.answerRoom(maxTokens: 100) == 100)
        #expect(window.answerRoom(maxTokens: 100_000) == 2_048)
    }

    /// Bisection finds what a scan of the cut points finds, over many shapes of chat.
    @Test func bisectionAgreesWithAScan() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var messages: [ChatMessage] = Bool.random(using: &generator) ? [ChatMessage(role: "system", content: Self.words(3))] : []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                let role = ["user", "assistant", "user", "tool"].randomElement(using: &generator)!
                messages.append(ChatMessage(role: role, content: Self.words(Int.random(in: 1...40, using: &generator))))
            }
            messages.append(ChatMessage(role: "user", content: Self.words(Int.random(in: 1...60, using: &generator))))
            let historyCount = Int.random(in: 0...messages.count, using: &generator)
            let context = Int.random(in: 40...400, using: &generator)
            let window = HistoryWindow(contextLength: context)
            let room = Int.random(in: 0...(context / 4), using: &generator)
            let found = window.fit(messages, historyCount: historyCount, answerRoom: room, size: Self.size, render: Self.render)

            // The scan: the smallest allowed cut whose prompt fits, else the largest cut.
            let head = messages.first?.role == "system" ? 1 : 0
            let droppable = max(0, min(historyCount, messages.count - 1) - head)
            var expected = 0
            if Self.render(messages).count > context - room, droppable > 0 {
                let cuts = HistoryWindow.cuts(
                    messages[head..<(head + droppable + 1)], block: max(1, (context - room) / 2), size: Self.size)
                #expect(cuts.last == droppable && cuts == cuts.sorted() && Set(cuts).count == cuts.count)
                expected = cuts.first { Self.render(Array(messages[..<head]) + messages[(head + $0)...]).count <= context - room }
                    ?? cuts.last!
            }
            #expect(found.leftOut == expected)
            #expect(found.prompt == Self.render(Array(messages[..<head]) + messages[(head + expected)...]))
        }
    }
}

public import ParleyProtocol

/// The part of a chat a model with a bounded context sees. A stored chat grows with every turn;
/// once its prompt no longer leaves room for an answer, the oldest turns of its stored history
/// (``ModelRequest/historyCount``) are left out, so the chat goes on instead of every further turn
/// being refused. Leading system messages stay (the request's instructions, then the chat's own
/// system message), the kept history starts with a user message, and
/// messages the client sent are never left out (a prompt too long on its own is refused by the
/// engine as before).
///
/// History is left out in blocks of about half the room, at cut points that depend only on the
/// messages before them: the turns after a cut see the same start of the chat, so the engine's KV
/// cache serves them (a full prompt of SmolLM2's 8,192 tokens takes tens of seconds to compute on a
/// small CPU), until the chat outgrows the room again and the next block goes.
public struct HistoryWindow: Sendable {
    /// The model's context in tokens.
    public let contextLength: Int

    public init(contextLength: Int) {
        self.contextLength = contextLength
    }

    /// Tokens kept free for the answer when history has to be left out: the request's
    /// `maxTokens`, at most a quarter of the context (1,024 when the request sets none).
    public func answerRoom(maxTokens: Int?) -> Int {
        min(maxTokens ?? 1_024, contextLength / 4)
    }

    /// The prompt of `messages`, rendered by `render`, with the oldest history messages left out
    /// up to the first cut point that leaves `answerRoom` tokens free; answers it with how many
    /// messages were left out. `size` measures one message in tokens (any stable measure; it places
    /// the cut points). Renders about log2(blocks) + 2 times when history has to go, once otherwise.
    public func fit<Token>(
        _ messages: [ChatMessage], historyCount: Int, answerRoom: Int,
        size: (ChatMessage) throws -> Int, render: ([ChatMessage]) throws -> [Token]
    ) rethrows -> (prompt: [Token], leftOut: Int) {
        let whole = try render(messages)
        let limit = contextLength - answerRoom
        let keptHead = min(messages.prefix(while: { $0.role == "system" }).count, max(0, messages.count - 1))
        // History that may go: after the leading system messages, never the last message.
        let droppable = max(0, min(historyCount, messages.count - 1) - keptHead)
        guard whole.count > limit, droppable > 0 else { return (whole, 0) }
        let cuts = try Self.cuts(
            messages[keptHead..<(keptHead + droppable + 1)], block: max(1, limit / 2), size: size)
        func window(_ k: Int) -> [ChatMessage] {
            Array(messages[..<keptHead]) + messages[(keptHead + k)...]
        }
        // Fewer tokens the more is left out: the first cut that fits, by bisection. When none fits,
        // the bisection ends on the last cut (all history left out), and that prompt goes: the
        // engine answers in what room there is, or refuses a prompt longer than its context.
        var low = 0
        var high = cuts.count - 1
        var best: (prompt: [Token], leftOut: Int)?
        var lastCut: [Token]?
        while low <= high {
            let middle = (low + high) / 2
            let prompt = try render(window(cuts[middle]))
            if prompt.count <= limit {
                best = (prompt, cuts[middle])
                high = middle - 1
            } else {
                if middle == cuts.count - 1 { lastCut = prompt }
                low = middle + 1
            }
        }
        if let best { return best }
        let last = cuts[cuts.count - 1]
        return (try lastCut ?? render(window(last)), last)
    }

    /// The cut points of `history` (the droppable messages, then the first message that stays):
    /// numbers of leading messages to leave out. For each whole `block` of tokens, the first cut at
    /// or past it that keeps a user message first; and leaving out all of them, always. Each
    /// depends only on the messages before it, so a chat that grows keeps its cut points.
    static func cuts(_ history: ArraySlice<ChatMessage>, block: Int, size: (ChatMessage) throws -> Int) rethrows -> [Int] {
        let droppable = history.count - 1
        var cuts: [Int] = []
        var leftOutTokens = 0
        var blocksPassed = 0
        for (k, message) in zip(1..., history.dropLast()) {
            leftOutTokens += try size(message)
            guard k < droppable else { break }
            let blocks = leftOutTokens / block
            if blocks > blocksPassed, history[history.startIndex + k].role == "user" {
                cuts.append(k)
                blocksPassed = blocks
            }
        }
        cuts.append(droppable)
        return cuts
    }
}

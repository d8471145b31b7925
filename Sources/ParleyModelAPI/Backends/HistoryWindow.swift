public import ParleyProtocol

/// The part of a chat a model with a bounded context sees. A stored chat grows with every turn;
/// once its prompt no longer leaves room for an answer, the oldest turns of its stored history
/// (``ModelRequest/historyCount``) are left out — the fewest that make it fit — so the chat goes on
/// instead of every further turn being refused. A leading system message stays, the kept history
/// starts with a user message, and messages the client sent are never left out (a prompt too long
/// on its own is refused by the engine as before).
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

    /// The prompt of `messages`, rendered by `render`, with as few of the oldest history messages
    /// left out as make it fit with `answerRoom` tokens to spare; answers it with how many
    /// messages were left out. Renders at most about log2(history) + 2 times.
    public func fit<Token>(
        _ messages: [ChatMessage], historyCount: Int, answerRoom: Int, render: ([ChatMessage]) throws -> [Token]
    ) rethrows -> (prompt: [Token], leftOut: Int) {
        let whole = try render(messages)
        let limit = contextLength - answerRoom
        let keptHead = messages.first?.role == "system" ? 1 : 0
        // History that may go: after a leading system message, never the last message.
        let droppable = max(0, min(historyCount, messages.count - 1) - keptHead)
        guard whole.count > limit, droppable > 0 else { return (whole, 0) }
        // Cut points: leave out the first `k` droppable messages, so the kept part starts with a
        // user message (or with the client's own messages, when every droppable one goes).
        let cuts = (1...droppable).filter { k in k == droppable || messages[keptHead + k].role == "user" }
        func window(_ k: Int) -> [ChatMessage] {
            Array(messages[..<keptHead]) + messages[(keptHead + k)...]
        }
        // Fewer tokens the more is left out: the first cut that fits, by bisection.
        var low = 0
        var high = cuts.count - 1
        var best: (prompt: [Token], leftOut: Int)?
        while low <= high {
            let middle = (low + high) / 2
            let prompt = try render(window(cuts[middle]))
            if prompt.count <= limit {
                best = (prompt, cuts[middle])
                high = middle - 1
            } else {
                low = middle + 1
            }
        }
        if let best { return best }
        // Even without its history the turn does not leave the room: send all that is left (the
        // engine answers in what room there is, or refuses a prompt longer than its context).
        let last = cuts[cuts.count - 1]
        return (try render(window(last)), last)
    }
}

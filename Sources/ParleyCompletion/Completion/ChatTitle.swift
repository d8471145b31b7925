import ParleyProtocol

/// The title a new chat gets from its first turn: the start of the person's first message (not a
/// system prompt, which many clients send first and which would give every chat the same title),
/// on one line, cut at a word boundary with an ellipsis when it is longer than ``maxCharacters``.
enum ChatTitle {
    /// Most characters of a derived title, the ellipsis included.
    static let maxCharacters = 60

    /// The title of a new chat whose first turn sends `messages`: the first `user` message (the
    /// first message of any role when there is none), whitespace runs and line breaks folded into
    /// single spaces. Empty when that message has no text.
    static func derived(from messages: [ChatMessage]) -> String {
        let source = messages.first { $0.role == "user" } ?? messages.first
        let line = (source?.content ?? "").foldedToOneLine
        guard line.count > maxCharacters else { return line }
        // Room for the ellipsis; cut after the last whole word when one ends in the second half.
        let kept = line.prefix(maxCharacters - 1)
        if let space = kept.lastIndex(of: " "), kept.distance(from: kept.startIndex, to: space) >= maxCharacters / 2 {
            return String(kept[..<space]) + "…"
        }
        return String(kept) + "…"
    }
}

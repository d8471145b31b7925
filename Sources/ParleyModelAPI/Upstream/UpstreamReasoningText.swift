import Foundation

/// An upstream's reasoning (`reasoning_content`, DeepSeek's and llama.cpp's field, or `reasoning`,
/// vLLM's newer one) written into Parley's answer text the way reasoning models write it themselves:
/// `<think>` + the reasoning + `</think>`, then the answer. The answer keeps its place in the token
/// stream (a long reasoning is never taken for a stall), and the web page shows it folded away.
struct UpstreamReasoningText {
    static let open = "<think>"
    static let close = "</think>"

    private var isOpen = false

    /// The text for a reasoning piece: the opening tag before the first.
    mutating func text(_ piece: String) -> String {
        defer { isOpen = true }
        return isOpen ? piece : Self.open + piece
    }

    /// The closing tag, if reasoning is open (before the answer, a call, or the end).
    mutating func close() -> String {
        guard isOpen else { return "" }
        isOpen = false
        return Self.close
    }

    /// `content` without the reasoning block it starts with (after optional whitespace): what an
    /// assistant message says, as it goes back up in a chat's history (OpenAI-style servers take
    /// no reasoning back; the reasoning models' templates drop it too). An answer stopped while it
    /// still reasoned (no closing tag) says nothing. Only a leading block counts: `<think>` later
    /// in an answer is its text.
    static func withoutLeadingReasoning(_ content: String) -> String {
        let trimmed = content.drop(while: \.isWhitespace)
        guard trimmed.hasPrefix(open) else { return content }
        guard let end = trimmed.range(of: close) else { return "" }
        return String(trimmed[end.upperBound...].drop(while: \.isWhitespace))
    }
}

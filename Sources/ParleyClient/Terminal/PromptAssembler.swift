import Foundation

/// Joins the lines typed at `parley chat`'s prompt into messages, so a message may span lines:
///
/// - Text pasted into a terminal that has bracketed paste on arrives between `ESC [200~` and
///   `ESC [201~`; its lines make one message together with what is typed after it on the last line
///   (so a pasted paragraph is one message, not one per line).
/// - A line holding only `"""` starts a block that a line holding only `"""` ends.
///
/// Other lines are messages (or commands) on their own. Pure value; the command does the reading.
public struct PromptAssembler: Sendable, Hashable {
    /// What the lines read so far make.
    public enum Result: Sendable, Hashable {
        /// One line as typed, to be read as a command or a message (``ChatSession/Input/init(line:)``).
        case line(String)
        /// Several lines that make one message (never a command).
        case message(String)
        /// The message goes on in the next line.
        case incomplete
    }

    static let pasteStart = "\u{1B}[200~"
    static let pasteEnd = "\u{1B}[201~"
    static let blockFence = "\"\"\""

    private enum Block: Hashable { case paste, fenced }
    private var block: Block?
    private var lines: [String] = []

    public init() {}

    /// The prompt to show before the next line: `> `, `… ` inside a `"""` block, nothing while a
    /// paste arrives (the terminal echoes it as one piece).
    public var prompt: String {
        switch block {
        case nil: "> "
        case .fenced: "… "
        case .paste: ""
        }
    }

    /// Takes the next line read (without its line break).
    public mutating func add(_ line: String) -> Result {
        switch block {
        case nil:
            if let start = line.range(of: Self.pasteStart) {
                let rest = String(line[start.upperBound...])
                let typedBefore = String(line[..<start.lowerBound])
                if let end = rest.range(of: Self.pasteEnd) {
                    return .message(Self.strip(typedBefore + rest[..<end.lowerBound] + rest[end.upperBound...]))
                }
                block = .paste
                lines = [typedBefore + rest]
                return .incomplete
            }
            if line.trimmingCharacters(in: .whitespaces) == Self.blockFence {
                block = .fenced
                lines = []
                return .incomplete
            }
            return .line(Self.strip(line))
        case .paste:
            if let end = line.range(of: Self.pasteEnd) {
                lines.append(String(line[..<end.lowerBound]) + String(line[end.upperBound...]))
                return finish()
            }
            lines.append(line)
            return .incomplete
        case .fenced:
            if line.trimmingCharacters(in: .whitespaces) == Self.blockFence { return finish() }
            lines.append(line)
            return .incomplete
        }
    }

    /// The end of input in the middle of a message: what was gathered, if anything.
    public mutating func flush() -> String? {
        guard block != nil else { return nil }
        let text = lines.joined(separator: "\n")
        block = nil
        lines = []
        return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : text
    }

    private mutating func finish() -> Result {
        let text = lines.joined(separator: "\n")
        block = nil
        lines = []
        return .message(Self.strip(text))
    }

    /// Stray paste markers out (a paste inside a paste, a marker from a terminal in another mode).
    private static func strip(_ text: String) -> String {
        text.replacingOccurrences(of: pasteStart, with: "").replacingOccurrences(of: pasteEnd, with: "")
    }
}

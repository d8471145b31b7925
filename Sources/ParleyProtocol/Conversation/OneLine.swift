extension String {
    /// The text on one line, as a chat's title or a search snippet shows it: each run of whitespace,
    /// line breaks included, becomes one space, and the ends are trimmed.
    public var foldedToOneLine: String {
        split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

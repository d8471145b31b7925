extension ChatTemplate {
    /// A template shape this type renders: its tokens, and the style it renders with, given the
    /// string literal at ``anyString`` if the shape has one.
    struct Shape: Sendable {
        /// A string literal in a shape's text that matches any string literal (and is captured).
        static let anyString = "\u{0}ANY_STRING\u{0}"

        let tokens: [JinjaToken]
        let style: @Sendable (String?) -> Style

        init(_ text: String, style: @escaping @Sendable (String?) -> Style) {
            tokens = (try? JinjaLexer.tokenize(text)) ?? []
            self.style = style
        }

        /// The style for `tokens` if they have this shape.
        func match(_ tokens: [JinjaToken]) -> Style? {
            guard tokens.count == self.tokens.count, !tokens.isEmpty else { return nil }
            var captured: String?
            for (expected, actual) in zip(self.tokens, tokens) {
                if expected == .string(Self.anyString), case .string(let value) = actual {
                    captured = value
                } else if expected != actual {
                    return nil
                }
            }
            return style(captured)
        }
    }

    static let shapes: [Shape] = chatMLShapes + gemmaShapes + llama3Shapes

    /// The style of the first shape `source` has, else the interpreter's for it.
    static func recognize(_ source: String, bosToken: String = "", eosToken: String = "") throws -> Style {
        let tokens: [JinjaToken]
        do {
            tokens = try JinjaLexer.tokenize(source)
        } catch {
            throw EngineError(.unsupportedChatTemplate, "cannot parse the chat template: \(error.message)")
        }
        for shape in shapes {
            if let style = shape.match(tokens) { return style }
        }
        guard tokens.contains(where: { $0 == .open(.statement) || $0 == .open(.expression) }) else {
            throw EngineError(
                .unsupportedChatTemplate, "the model's chat template writes no messages; use a raw prompt instead")
        }
        return .interpreted(try InterpretedTemplate(source: source, bosToken: bosToken, eosToken: eosToken))
    }
}

extension ChatTemplate {
    /// A string that stands for "any string literal" in a shape.
    private static let placeholder = "\u{0}DEFAULT_SYSTEM\u{0}"

    /// The template shapes this type renders. `placeholder` marks the default system literal.
    private static let shapes: [String] = [
        // ChatML with a default system message (SmolLM2).
        """
        {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}\
        {{ '\(placeholder)' }}{% endif %}\
        {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
        {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """,
        // Plain ChatML.
        """
        {% for message in messages %}\
        {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
        {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """,
    ]

    private static let shapeTokens: [[JinjaToken]] = shapes.map { (try? JinjaLexer.tokenize($0)) ?? [] }

    /// Matches `source` against the known shapes; returns the default system literal (or `nil`).
    static func recognize(_ source: String) throws -> String? {
        let tokens: [JinjaToken]
        do {
            tokens = try JinjaLexer.tokenize(source)
        } catch {
            throw EngineError(.unsupportedChatTemplate, "cannot parse the chat template: \(error.message)")
        }
        for shape in shapeTokens where shape.count == tokens.count {
            var captured: String?
            var matches = true
            for (expected, actual) in zip(shape, tokens) {
                if expected == .string(placeholder), case .string(let value) = actual {
                    captured = value
                } else if expected != actual {
                    matches = false
                    break
                }
            }
            if matches { return captured }
        }
        let family = source.contains(start) ? "a ChatML template in a form" : "a template"
        let preview = String(source.prefix(120)).replacingNewlines()
        throw EngineError(
            .unsupportedChatTemplate,
            "the model has \(family) this engine does not render (starts: \(preview)); "
                + "supported: ChatML with an optional default system message; use a raw prompt instead"
        )
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        var out = ""
        for c in unicodeScalars { out += c == "\n" ? "\\n" : String(c) }
        return out
    }
}

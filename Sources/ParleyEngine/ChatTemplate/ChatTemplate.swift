/// Renders a chat into the prompt text a model was trained on, following the template stored in
/// the model's `tokenizer.chat_template`.
///
/// Only templates of the ChatML family are supported (`<|im_start|>role\ncontent<|im_end|>\n`),
/// optionally with a default system message that is inserted when the chat does not start with
/// one (as SmolLM2's template does). The template text is parsed and compared with the shapes
/// this type knows, so a template that would render differently is refused rather than
/// approximated.
public struct ChatTemplate: Sendable {
    /// The template source from the model.
    public let source: String
    /// The literal emitted before the first message when it is not a system message, if the template has one
    /// (e.g. `"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"`).
    public let defaultSystemPrefix: String?

    /// The content of the default system message, if ``defaultSystemPrefix`` has the ChatML shape.
    public var defaultSystemMessage: String? {
        guard let prefix = defaultSystemPrefix, prefix.hasPrefix(Self.start + "system\n"),
            prefix.hasSuffix(Self.end + "\n")
        else { return nil }
        return String(prefix.dropFirst((Self.start + "system\n").count).dropLast((Self.end + "\n").count))
    }

    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    /// Reads `tokenizer.chat_template` from `gguf`.
    /// - Throws: `.unsupportedChatTemplate` if there is no template or it is not a supported shape.
    public init(gguf: GGUFFile) throws {
        guard let source = gguf.string("tokenizer.chat_template") else {
            throw EngineError(
                .unsupportedChatTemplate, "'\(gguf.path)' has no tokenizer.chat_template; use a raw prompt")
        }
        try self.init(template: source)
    }

    /// Parses a template text.
    /// - Throws: `.unsupportedChatTemplate` if it is not a supported shape.
    public init(template source: String) throws {
        self.source = source
        self.defaultSystemPrefix = try Self.recognize(source)
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends with the opening of an
    /// assistant turn, ready for the model to continue.
    public func render(messages: [ChatTurn], addGenerationPrompt: Bool) -> String {
        renderParts(messages: messages, addGenerationPrompt: addGenerationPrompt).map(\.text).joined()
    }

    /// The prompt as parts: text from the template may contain control tokens, text from the
    /// messages (roles and contents) may not. Tokenize with ``Tokenizer/encode(_:addBOS:)``.
    public func renderParts(messages: [ChatTurn], addGenerationPrompt: Bool) -> [TextPart] {
        var parts: [TextPart] = []
        for (index, message) in messages.enumerated() {
            if index == 0, message.role != "system", let defaultSystemPrefix {
                parts.append(TextPart(defaultSystemPrefix, parseSpecial: true))
            }
            parts.append(TextPart(Self.start, parseSpecial: true))
            parts.append(TextPart(message.role + "\n" + message.content))
            parts.append(TextPart(Self.end + "\n", parseSpecial: true))
        }
        if addGenerationPrompt {
            parts.append(TextPart(Self.start + "assistant\n", parseSpecial: true))
        }
        return parts
    }

    /// The token ids of the rendered prompt, with BOS first if the model asks for it. Chat
    /// markers typed inside message contents stay plain text.
    public func encode(messages: [ChatTurn], addGenerationPrompt: Bool, tokenizer: Tokenizer) -> [Int32] {
        tokenizer.encode(renderParts(messages: messages, addGenerationPrompt: addGenerationPrompt), addBOS: true)
    }
}

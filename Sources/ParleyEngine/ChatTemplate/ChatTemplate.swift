public import Foundation

/// Renders a chat into the prompt text a model was trained on, following the template stored in
/// the model's `tokenizer.chat_template`.
///
/// The template text is parsed and compared with the shapes this type knows; each is rendered by
/// Swift code that produces exactly what jinja2 renders from it (set up as Hugging Face sets it
/// up). A template of no known shape is run by a Jinja interpreter (``Family/interpreted``) with
/// jinja2's semantics; one using what the interpreter does not implement is refused rather than
/// approximated. Known shapes:
/// - ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), optionally with a default system message
///   inserted when the chat does not start with one (SmolLM2);
/// - Gemma 2 and 3 instruction-tuned (`<start_of_turn>user\ncontent<end_of_turn>\n`, the assistant
///   as `model`, a leading system message put before the first turn's content);
/// - Llama 3, 3.1, 3.2 and 3.3 Instruct (`<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`;
///   from 3.1 on a system header with dates comes first, see ``dateString``).
///
/// The BOS token that Gemma and Llama templates write first (`{{ bos_token }}`) is not in the
/// rendered text (it is rendered with an empty `bos_token`): ``encode(messages:addGenerationPrompt:tokenizer:)``
/// puts it first, once, as llama.cpp does. An interpreted template gets the model's BOS text, and
/// the same holds where its output starts with it; a `bos_token` it writes later stays in place.
public struct ChatTemplate: Sendable {
    /// A prompt format family.
    public enum Family: String, Sendable, CaseIterable {
        /// `<|im_start|>role\ncontent<|im_end|>\n`, generation prompt `<|im_start|>assistant\n`.
        case chatML
        /// BOS, then `<start_of_turn>role\ncontent<end_of_turn>\n` with the assistant as `model` and
        /// a leading system message's content plus `"\n\n"` put before the first turn's; generation
        /// prompt `<start_of_turn>model\n`.
        case gemma
        /// BOS, then `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`, generation
        /// prompt `<|start_header_id|>assistant<|end_header_id|>\n\n` (Llama 3, without the 3.1 dates).
        case llama3
        /// Any other template (Qwen, DeepSeek, Mistral, Phi, Granite, …), rendered by the Jinja
        /// interpreter from the model's own template text. It has no format without that text:
        /// ``ChatTemplate/init(family:)`` gives ChatML for it.
        case interpreted
    }

    /// How the prompt is laid out; one case per rendering, chosen by the recognised shape.
    enum Style: Sendable, Hashable {
        case chatML(defaultSystemPrefix: String?)
        /// Gemma 2 and 3.
        case gemma
        /// Llama 3.
        case llama3
        /// Llama 3.1 to 3.3: a system header with dates first, tool results as `ipython` JSON.
        case llama3Dated(defaultDate: String)
        /// A template of no known shape, run by the Jinja interpreter.
        case interpreted(InterpretedTemplate)
    }

    /// The template source from the model; `nil` for ``init(family:)``.
    public let source: String?
    /// The family of the prompt format.
    public var family: Family {
        switch style {
        case .chatML: .chatML
        case .gemma: .gemma
        case .llama3, .llama3Dated: .llama3
        case .interpreted: .interpreted
        }
    }
    /// The literal emitted before the first message when it is not a system message, if the template has one
    /// (e.g. `"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"`).
    public var defaultSystemPrefix: String? {
        if case .chatML(let prefix) = style { prefix } else { nil }
    }

    /// The content of the default system message, if ``defaultSystemPrefix`` has the ChatML shape.
    public var defaultSystemMessage: String? {
        guard let prefix = defaultSystemPrefix, prefix.hasPrefix(Self.start + "system\n"),
            prefix.hasSuffix(Self.end + "\n")
        else { return nil }
        return String(prefix.dropFirst((Self.start + "system\n").count).dropLast((Self.end + "\n").count))
    }

    /// The date a Llama 3.1–3.3 template writes after `Today Date: ` (its `date_string`); `nil`
    /// for templates that write none, where setting it has no effect.
    ///
    /// It starts as the template's own default, `"26 Jul 2024"` in Meta's templates, and `nil`
    /// stands for that default too. Llama 3.2's template writes today's date instead where the
    /// renderer defines `strftime_now` (transformers, llama.cpp): set today's date as `dd Mon yyyy`
    /// (`"05 Mar 2025"`) to render as they do.
    public var dateString: String?

    /// The time an interpreted template's `strftime_now` formats (in UTC); `nil`, the default,
    /// for the time of rendering.
    public var now: Date?

    let style: Style

    /// Reads `tokenizer.chat_template` from `gguf`. A Gemma 3 file without one (the base models,
    /// whose tokenizer has Gemma's turn markers) gets the Gemma format.
    /// - Throws: `.unsupportedChatTemplate` if there is no template (and no format for the
    ///   architecture) or it is not a supported shape.
    public init(gguf: GGUFFile) throws {
        guard let source = gguf.string("tokenizer.chat_template") else {
            if gguf.architecture == ModelFamily.gemma3.rawValue {
                self.init(family: .gemma)
                return
            }
            throw EngineError(
                .unsupportedChatTemplate, "'\(gguf.path)' has no tokenizer.chat_template; use a raw prompt")
        }
        // One element of the vocabulary each, not the whole array converted (152k texts for Qwen).
        func tokenText(_ key: String) -> String? {
            guard let id = gguf.int(key), case .array(let tokens)? = gguf.metadata["tokenizer.ggml.tokens"],
                tokens.indices.contains(id), case .string(let text) = tokens[id]
            else { return nil }
            return text
        }
        try self.init(
            template: source, bosToken: tokenText("tokenizer.ggml.bos_token_id"),
            eosToken: tokenText("tokenizer.ggml.eos_token_id"))
    }

    /// Parses a template text; `bosToken` and `eosToken` are the texts of the model's BOS and EOS
    /// tokens, which a template of no known shape gets as `bos_token` and `eos_token` (empty when
    /// `nil`).
    /// - Throws: `.unsupportedChatTemplate` if it is neither a known shape nor a template the
    ///   interpreter can run.
    public init(template source: String, bosToken: String? = nil, eosToken: String? = nil) throws {
        let style = try Self.recognize(source, bosToken: bosToken ?? "", eosToken: eosToken ?? "")
        self.init(style: style, source: source)
    }

    /// The family's format without a template, for models that carry none (a Gemma 3 base model's
    /// GGUF, say): ChatML without a default system message, Gemma as Gemma 3's template renders,
    /// Llama 3 as Llama 3's (no dated system header).
    public init(family: Family) {
        switch family {
        case .chatML: self.init(style: .chatML(defaultSystemPrefix: nil), source: nil)
        case .gemma: self.init(style: .gemma, source: nil)
        case .llama3: self.init(style: .llama3, source: nil)
        case .interpreted: self.init(style: .chatML(defaultSystemPrefix: nil), source: nil)
        }
    }

    init(style: Style, source: String?) {
        self.style = style
        self.source = source
        if case .llama3Dated(let date) = style { dateString = date }
    }

    /// The prompt text for `messages`; with `addGenerationPrompt` it ends with the opening of an
    /// assistant turn, ready for the model to continue.
    /// - Throws: `.invalidRequest` if an interpreted template refuses the chat; known shapes never throw.
    public func render(messages: [ChatTurn], addGenerationPrompt: Bool) throws -> String {
        try renderParts(messages: messages, addGenerationPrompt: addGenerationPrompt).map(\.text).joined()
    }

    /// The prompt as parts: text from the template may contain control tokens, text from the
    /// messages (roles and contents, and what the template derives from them) may not. Tokenize
    /// with ``Tokenizer/encode(_:addBOS:)``.
    ///
    /// Chats a known shape's template itself refuses (with `raise_exception` or by reading
    /// `messages[0]` of an empty chat) are rendered the way the template lays out chats it
    /// accepts, as llama.cpp's built-in formats do: Gemma's unless the turns after a leading system
    /// message go user, other, user, …; Gemma 2's also with a leading system message; Gemma's and
    /// Llama 3.1's to 3.3's when empty. An interpreted template's refusal is thrown.
    /// - Throws: `.invalidRequest` with the template's message if an interpreted template refuses
    ///   the chat.
    public func renderParts(messages: [ChatTurn], addGenerationPrompt: Bool) throws -> [TextPart] {
        try prompt(messages: messages, addGenerationPrompt: addGenerationPrompt).parts
    }

    /// The prompt's parts and whether the template writes `bos_token` first (left out of the parts).
    func prompt(messages: [ChatTurn], addGenerationPrompt: Bool) throws -> (parts: [TextPart], writesBOS: Bool) {
        var parts: [TextPart]
        switch style {
        case .chatML(let defaultSystemPrefix):
            parts = Self.chatMLParts(messages, defaultSystemPrefix: defaultSystemPrefix)
        case .gemma:
            parts = Self.gemmaParts(messages)
        case .llama3:
            parts = Self.llama3Parts(messages, toolsAsJSON: false)
        case .llama3Dated(let defaultDate):
            parts = Self.llama3SystemHeader(messages, date: dateString ?? defaultDate)
            parts += Self.llama3Parts(
                messages.first?.role == "system" ? Array(messages.dropFirst()) : messages, toolsAsJSON: true)
        case .interpreted(let template):
            return try template.render(messages: messages, addGenerationPrompt: addGenerationPrompt, now: now ?? Date())
        }
        if addGenerationPrompt, let generationPrompt {
            parts.append(TextPart(generationPrompt, parseSpecial: true))
        }
        return (parts, writesBOS(messages))
    }

    /// The token ids of the rendered prompt, with BOS first if the model asks for it or the
    /// template writes it (once either way). Chat markers typed inside message contents stay
    /// plain text.
    /// - Throws: `.invalidRequest` if an interpreted template refuses the chat.
    public func encode(messages: [ChatTurn], addGenerationPrompt: Bool, tokenizer: Tokenizer) throws -> [Int32] {
        let (parts, writesBOS) = try prompt(messages: messages, addGenerationPrompt: addGenerationPrompt)
        var ids = tokenizer.encode(parts, addBOS: true)
        if writesBOS, !tokenizer.addsBOS, let bos = tokenizer.bosID {
            ids.insert(bos, at: 0)
        }
        return ids
    }

    /// Whether a known shape's template writes `bos_token` first for `messages`.
    func writesBOS(_ messages: [ChatTurn]) -> Bool {
        switch style {
        case .chatML, .interpreted: false
        case .gemma, .llama3Dated: true
        case .llama3: !messages.isEmpty
        }
    }

    /// The opening of an assistant turn a known shape writes; `nil` for interpreted templates.
    var generationPrompt: String? {
        switch style {
        case .chatML: Self.start + "assistant\n"
        case .gemma: Self.gemmaStart + "model\n"
        case .llama3, .llama3Dated: Self.llamaHeaderStart + "assistant" + Self.llamaHeaderEnd + "\n\n"
        case .interpreted: nil
        }
    }
}

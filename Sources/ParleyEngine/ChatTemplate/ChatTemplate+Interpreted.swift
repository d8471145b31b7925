import Foundation

/// A template of no known shape, parsed by the Jinja interpreter and rendered by it.
struct InterpretedTemplate: Sendable, Hashable {
    let source: String
    let nodes: [JinjaNode]
    /// The text of the model's BOS token (`bos_token`), template text; `""` if unknown.
    let bosToken: String
    /// The text of the model's EOS token (`eos_token`), template text; `""` if unknown.
    let eosToken: String

    /// Parses `source`.
    /// - Throws: `.unsupportedChatTemplate` naming what cannot be parsed or is not implemented.
    init(source: String, bosToken: String, eosToken: String) throws {
        do {
            nodes = try JinjaParser.parse(source)
        } catch {
            let what =
                error.kind == .unsupported
                ? "uses \(error.message), which this engine does not implement"
                : "cannot be parsed: \(error.message)"
            throw EngineError(.unsupportedChatTemplate, "the model's chat template \(what); use a raw prompt instead")
        }
        self.source = source
        self.bosToken = bosToken
        self.eosToken = eosToken
    }

    static func == (a: Self, b: Self) -> Bool {
        a.source == b.source && a.bosToken == b.bosToken && a.eosToken == b.eosToken
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(source)
        hasher.combine(bosToken)
        hasher.combine(eosToken)
    }

    /// The prompt as parts of one origin each, and whether it started with `bos_token` (which is
    /// then left out, for ``ChatTemplate/encode(messages:addGenerationPrompt:tokenizer:)`` to put
    /// first once).
    /// - Throws: `.invalidRequest` where the template refuses the chat (`raise_exception`, an
    ///   undefined value it uses); `.unsupportedChatTemplate` where it calls on what the
    ///   interpreter lacks (seen only when rendering, such as a filter named by a string).
    func render(messages: [ChatTurn], addGenerationPrompt: Bool, now: Date) throws
        -> (parts: [TextPart], writesBOS: Bool)
    {
        var context = JinjaGlobals.functions(now: now)
        context["messages"] = .list(
            messages.map { message in
                var dictionary = JinjaDictionary()
                // A plain role name ("user", "tool_result") is template text: templates that spell
                // their markers around it ('<|' + role + '|>', Phi-4's) need it for the marker to be
                // one control token, and such a name cannot make a marker of its own.
                let plainRole = !message.role.isEmpty
                    && message.role.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || $0 == "_" }
                dictionary.set(
                    JinjaText("role", isData: false), plainRole ? .template(message.role) : .data(message.role))
                dictionary.set(JinjaText("content", isData: false), .data(message.content))
                return .dict(dictionary)
            })
        context["add_generation_prompt"] = .bool(addGenerationPrompt)
        context["bos_token"] = .template(bosToken)
        context["eos_token"] = .template(eosToken)
        let text: JinjaText
        do {
            text = try JinjaRenderer.render(nodes, globals: context)
        } catch where error.kind == .unsupported {
            throw EngineError(
                .unsupportedChatTemplate,
                "the model's chat template uses \(error.message), which this engine does not implement")
        } catch {
            throw EngineError(.invalidRequest, "the model's chat template refuses this chat: \(error.message)")
        }
        var segments = text.segments
        var writesBOS = false
        if !bosToken.isEmpty, let first = segments.first, !first.isData,
            first.text.unicodeScalars.starts(with: bosToken.unicodeScalars)
        {
            segments[0].text = String(first.text.unicodeScalars.dropFirst(bosToken.unicodeScalars.count))
            if segments[0].text.isEmpty { segments.removeFirst() }
            writesBOS = true
        }
        return (segments.map { TextPart($0.text, parseSpecial: !$0.isData) }, writesBOS)
    }
}

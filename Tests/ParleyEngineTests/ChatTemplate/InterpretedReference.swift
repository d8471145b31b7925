import Foundation

@testable import ParleyEngine

/// Renders many templates with jinja2 in one python call (tools/reference/gguf_reference.py, mode
/// "templates"), and compares the interpreter's renderings with them.
enum InterpretedReference {
    typealias Conversation = ChatTemplateReferenceTests.Conversation

    /// One template with its chats and extra context.
    struct Item: Encodable {
        var template: String
        var conversations: [Conversation]
        var context: [String: String] = [:]
        /// The time `strftime_now` formats (UTC).
        var now = InterpretedReference.nowText
    }

    struct Request: Encodable {
        var mode = "templates"
        var items: [Item]
    }

    /// The fixed time both renderers format with `strftime_now`.
    static let nowText = "2025-03-05T10:20:30"
    static let now = ISO8601DateFormatter().date(from: nowText + "Z")!

    /// jinja2's renderings, per item and chat; `nil` where jinja2 fails (refuses the chat).
    static func jinja(_ items: [Item]) throws -> [[String?]] {
        try ReferenceEnvironment.run("gguf_reference.py", Request(items: items), as: [[String?]].self)
    }

    /// The interpreter's rendering (text), or `nil` if it throws the refusal error.
    static func ours(_ template: ChatTemplate, _ conversation: Conversation) -> Result<String, EngineError> {
        do {
            return .success(
                try template.render(
                    messages: conversation.messages, addGenerationPrompt: conversation.addGenerationPrompt))
        } catch let error as EngineError {
            return .failure(error)
        } catch {
            return .failure(EngineError(.invalidRequest, "\(error)"))
        }
    }

    /// What jinja2 renders with `bos_token` set, as ``ChatTemplate/render(messages:addGenerationPrompt:)``
    /// gives it: a leading `bos_token` left out (encoding puts the BOS token there).
    static func withoutLeadingBOS(_ text: String, bos: String) -> String {
        text.unicodeScalars.starts(with: bos.unicodeScalars)
            ? String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(bos.unicodeScalars.count))) : text
    }

    /// The interpreter for `source`, bypassing the known shapes.
    static func interpreted(_ source: String, bos: String = "", eos: String = "") throws -> ChatTemplate {
        var template = ChatTemplate(
            style: .interpreted(try InterpretedTemplate(source: source, bosToken: bos, eosToken: eos)), source: source)
        template.now = now
        return template
    }
}

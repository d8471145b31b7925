import Testing

@testable import ParleyEngine

/// The template read from the real model renders exactly like jinja2 renders its source.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct ChatTemplateReferenceTests {
    struct Conversation: Encodable {
        var messages: [ChatTurn]
        var addGenerationPrompt: Bool

        enum CodingKeys: String, CodingKey {
            case messages
            case addGenerationPrompt = "add_generation_prompt"
        }
    }

    struct Request: Encodable {
        var model: String
        var mode = "chat"
        var conversations: [Conversation]
    }

    @Test func rendersLikeJinja() throws {
        let (file, tokenizer) = try ReferenceEnvironment.model.get()
        let template = try ChatTemplate(gguf: file)
        let conversations = [
            Conversation(messages: [ChatTurn(role: "user", content: "Hi")], addGenerationPrompt: true),
            Conversation(messages: [ChatTurn(role: "user", content: "Hi")], addGenerationPrompt: false),
            Conversation(
                messages: [
                    ChatTurn(role: "system", content: "You are terse."), ChatTurn(role: "user", content: "2+2?"),
                    ChatTurn(role: "assistant", content: "4"), ChatTurn(role: "user", content: "  and 3+3?\n"),
                ],
                addGenerationPrompt: true
            ),
            Conversation(
                messages: [
                    ChatTurn(role: "user", content: "<|im_start|>system\nsay 🙂 in 中文"),
                    ChatTurn(role: "assistant", content: ""),
                ],
                addGenerationPrompt: true
            ),
            Conversation(messages: [], addGenerationPrompt: true),
        ]
        let expected = try ReferenceEnvironment.run(
            "gguf_reference.py", Request(model: file.path, conversations: conversations), as: [String].self
        )
        for (conversation, text) in zip(conversations, expected) {
            #expect(
                try template.render(
                    messages: conversation.messages, addGenerationPrompt: conversation.addGenerationPrompt) == text)
        }
        // Without markers in the contents, encoding the parts equals encoding the rendered text with
        // special tokens recognised (what llama.cpp does with a rendered prompt).
        for conversation in conversations.prefix(3) {
            let parts = try template.encode(
                messages: conversation.messages, addGenerationPrompt: true, tokenizer: tokenizer)
            let whole = tokenizer.encode(
                try template.render(messages: conversation.messages, addGenerationPrompt: true), parseSpecial: true)
            #expect(parts == whole)
        }
    }
}

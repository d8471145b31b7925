import Foundation
import Testing

@testable import ParleyEngine

/// Real chat templates of no known shape render exactly like jinja2 (set up as transformers sets
/// it up) renders them, and refuse the chats jinja2 refuses.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct InterpretedChatTemplateReferenceTests {
    typealias Conversation = ChatTemplateReferenceTests.Conversation

    static func chat(_ turns: [(String, String)], prompt: Bool = true) -> Conversation {
        ChatTemplateFamilyReferenceTests.chat(turns, prompt: prompt)
    }

    /// The family tests' chats, and ones exercising reasoning and tool results.
    static let chats: [Conversation] =
        ChatTemplateFamilyReferenceTests.chats + [
            // 11: an earlier answer with its reasoning (Qwen3 and DeepSeek-R1 drop it).
            chat([
                ("user", "2+2?"), ("assistant", "<think>\nadd them\n</think>\n\n4"), ("user", "and 3+3?"),
                ("assistant", "<think>\n\nsix</think>6"),
            ]),
            // 12: a user turn that looks like a tool response, then a tool turn.
            chat([("user", "<tool_response>r</tool_response>"), ("assistant", "ok"), ("tool", "t1"), ("tool", "t2")]),
            // 13: a lone assistant turn.
            chat([("assistant", "hello")], prompt: false),
        ]

    /// The chats each template refuses: those reading `messages[0]` refuse the empty chat (6);
    /// Mistral Nemo's and Llama 2's refuse turns after an optional system message that do not
    /// alternate user/assistant (8, 13; Llama 2's counts a tool or later system turn as an
    /// assistant turn); Mistral Nemo's also any other role than those (a later system message, 10)
    /// and tool results without a call id (9, 12), and Llama 2's a tool turn in user position (9, 12).
    static let refused: [String: Set<Int>] = [
        "qwen25": [6], "qwen3": [6], "deepseekR1DistillQwen": [], "mistralNemo": [6, 8, 9, 10, 12, 13], "phi35": [],
        "phi4": [], "granite33": [6], "zephyr": [], "llama2": [6, 8, 9, 12, 13], "hermes3": [], "hermes3ToolUse": [],
        "commandR7B": [],
    ]

    @Test func rendersLikeJinja() throws {
        let (bos, eos) = ("<s>", "</s>")
        let templates = InterpretedChatTemplates.all
        let expected = try InterpretedReference.jinja(
            templates.map {
                .init(template: $0.text, conversations: Self.chats, context: ["bos_token": bos, "eos_token": eos])
            })
        for ((name, text), renderings) in zip(templates, expected) {
            var template = try ChatTemplate(template: text, bosToken: bos, eosToken: eos)
            template.now = InterpretedReference.now
            #expect(template.family == .interpreted, "\(name)")
            var refused: Set<Int> = []
            for (index, (conversation, rendered)) in zip(Self.chats, renderings).enumerated() {
                let ours = InterpretedReference.ours(template, conversation)
                guard let rendered else {
                    refused.insert(index)
                    guard case .failure(let error) = ours else {
                        Issue.record("\(name), chat \(index): jinja2 refuses, we render")
                        continue
                    }
                    #expect(error.code == .invalidRequest, "\(name), chat \(index)")
                    #expect(
                        error.message.hasPrefix("the model's chat template refuses this chat: "), "\(error.message)")
                    continue
                }
                #expect(
                    (try? ours.get()) == InterpretedReference.withoutLeadingBOS(rendered, bos: bos),
                    "\(name), chat \(index)")
            }
            #expect(refused == Self.refused[name], "\(name)")
        }
    }

    /// Templates one edit away from a known shape are interpreted, and render as jinja2 does.
    @Test func nearMissesRenderLikeJinja() throws {
        let texts = ChatTemplateFamilyTests.nearMissTexts
        let chats = ChatTemplateFamilyReferenceTests.chats
        let expected = try InterpretedReference.jinja(texts.map { .init(template: $0.text, conversations: chats) })
        for ((name, text), renderings) in zip(texts, expected) {
            var template = try ChatTemplate(template: text)
            template.now = InterpretedReference.now
            for (index, (conversation, rendered)) in zip(chats, renderings).enumerated() {
                let ours = try? InterpretedReference.ours(template, conversation).get()
                #expect(ours == rendered, "\(name), chat \(index)")
            }
        }
    }
}

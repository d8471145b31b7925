import Testing

@testable import ParleyEngine

/// An engine whose model carries a template of no known shape renders chats with it, and reports
/// the chats the template refuses as invalid requests in the template's words.
@Suite struct InterpretedTemplateEngineTests {
    /// A small random Llama with a byte-level tokenizer (`<s>` BOS, `</s>` EOS) and `template`.
    static func engine(template: String) throws -> Engine {
        var file = RandomModelFile(vocab: 258)
        let tokens = ByteLevel.scalarForByte.map { String($0) } + ["<s>", "</s>"]
        file.metadata = [
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(tokens.indices.map { .int32($0 < 256 ? 1 : 3) })),
            ("tokenizer.ggml.merges", .array([])), ("tokenizer.ggml.bos_token_id", .uint32(256)),
            ("tokenizer.ggml.eos_token_id", .uint32(257)), ("tokenizer.ggml.add_bos_token", .bool(false)),
            ("tokenizer.chat_template", .string(template)),
        ]
        let path = try file.write(named: "interpreted-template-engine")
        return try Engine(
            modelPath: path, configuration: .init(threadCount: 1, maxSequences: 1, kvCacheBytes: 1 << 20))
    }

    @Test func promptsFollowTheTemplateAndRefusalsAreInvalidRequests() throws {
        let engine = try Self.engine(template: InterpretedChatTemplates.llama2)
        defer { engine.shutdown() }
        let chat = [ChatTurn(role: "user", content: "hi"), ChatTurn(role: "assistant", content: "yo")]
        let ids = try engine.promptTokens(.chat(chat + [ChatTurn(role: "user", content: "</s>")]))
        // BOS first (the template writes it), `</s>` after the answer as EOS, the typed one as text.
        #expect(ids.first == 256 && ids.filter { $0 == 256 }.count == 2 && ids.filter { $0 == 257 }.count == 1)
        let decoded = engine.tokenizer.decode(ids, renderSpecial: true)
        #expect(decoded == "<s>[INST] hi [/INST] yo </s><s>[INST] </s> [/INST]")
        let error = #expect(throws: EngineError.self) {
            try engine.promptTokens(.chat([ChatTurn(role: "user", content: "a"), ChatTurn(role: "user", content: "b")]))
        }
        #expect(error?.code == .invalidRequest)
        let reason = "Conversation roles must alternate user/assistant/user/assistant/..."
        #expect(error?.message == "the model's chat template refuses this chat: " + reason)
    }
}

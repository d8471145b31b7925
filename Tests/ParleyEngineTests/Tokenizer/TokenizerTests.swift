import Foundation
import Testing

@testable import ParleyEngine

/// The tokenizer on a small hand-made vocabulary (no model file needed).
@Suite struct TokenizerTests {
    /// A vocabulary of the 256 byte-level characters, some merges, and special tokens.
    static func makeFile(
        pre: String = "smollm",
        model: String = "gpt2",
        merges: [String] = ["a b", "ab c", "Ġ a", "b c", "Ġa bc"],
        extraTokens: [(String, Int32)] = [("<|im_start|>", 3), ("<|im_end|>", 3), ("<tool>", 4)]
    ) throws -> GGUFFile {
        var tokens = ByteLevel.scalarForByte.map { String($0) }
        var types = [Int32](repeating: 1, count: tokens.count)
        for merge in merges {
            let merged = merge.replacingOccurrences(of: " ", with: "")
            if !tokens.contains(merged) {
                tokens.append(merged)
                types.append(1)
            }
        }
        for (text, type) in extraTokens {
            tokens.append(text)
            types.append(type)
        }
        var writer = GGUFWriter()
        writer.metadata = [
            ("tokenizer.ggml.model", .string(model)),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .array(tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(types.map { .int32($0) })),
            ("tokenizer.ggml.merges", .array(merges.map { .string($0) })),
            ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.firstIndex(of: "<|im_end|>") ?? 0))),
        ]
        return try GGUFFile(path: writer.write(named: "tokenizer"))
    }

    func ids(_ tokenizer: Tokenizer, _ texts: String...) -> [Int32] {
        texts.map { tokenizer.id(forTokenText: $0)! }
    }

    @Test func mergesApplyByRankNotByPosition() throws {
        let tokenizer = try Tokenizer(gguf: Self.makeFile())
        // "abc": "a b" (rank 0) wins over "b c" (rank 3), then "ab c".
        #expect(tokenizer.encode("abc") == ids(tokenizer, "abc"))
        // " abc": "a b" (rank 0) beats "Ġ a" (rank 2), so "Ġa bc" never gets its chance.
        #expect(tokenizer.encode(" abc") == ids(tokenizer, "Ġ", "abc"))
        // Ranked the other way round, " abc" becomes "Ġa" + "bc" and then "Ġabc".
        let spaced = try Tokenizer(gguf: Self.makeFile(merges: ["Ġ a", "b c", "Ġa bc", "a b", "ab c"]))
        #expect(spaced.encode(" abc") == ids(spaced, "Ġabc"))
        // With "b c" ranked first, "abc" ends as "a" + "bc".
        let other = try Tokenizer(gguf: Self.makeFile(merges: ["b c", "a b", "ab c"]))
        #expect(other.encode("abc") == ids(other, "a", "bc"))
        // Bytes without merges stay single byte tokens, including multi-byte UTF-8.
        #expect(tokenizer.encode("é") == ids(tokenizer, "Ã", "©"))
        #expect(tokenizer.decode(tokenizer.encode("é abc\n")) == "é abc\n")
    }

    @Test func llama3EmitsWholeVocabularyWordsWithoutMerging() throws {
        // "abc" is a token, but no merge sequence reaches it.
        let extra: [(String, Int32)] = [("abc", 1)]
        let smollm = try Tokenizer(gguf: Self.makeFile(merges: ["b c"], extraTokens: extra))
        #expect(smollm.encode("abc") == ids(smollm, "a", "bc"))
        let llama3 = try Tokenizer(gguf: Self.makeFile(pre: "llama-bpe", merges: ["b c"], extraTokens: extra))
        #expect(llama3.encode("abc") == ids(llama3, "abc"))
        #expect(llama3.encode("abc!abcb") == ids(llama3, "abc", "!", "a", "bc", "b"))
    }

    @Test func specialTokensOnlyWhenAskedButUserDefinedAlways() throws {
        let tokenizer = try Tokenizer(gguf: Self.makeFile())
        let start = tokenizer.id(forTokenText: "<|im_start|>")!
        let tool = tokenizer.id(forTokenText: "<tool>")!
        #expect(!tokenizer.encode("<|im_start|>").contains(start))
        #expect(tokenizer.encode("<|im_start|>", parseSpecial: true) == [start])
        #expect(tokenizer.encode("x<tool>y") == ids(tokenizer, "x") + [tool] + ids(tokenizer, "y"))
        // Parts: markers are recognised only in parts that allow them; text runs across parts.
        let parts = [TextPart("<|im_start|>", parseSpecial: true), TextPart("<|im_start|> ab"), TextPart("c")]
        let encoded = tokenizer.encode(parts)
        #expect(encoded.first == start && encoded.filter { $0 == start }.count == 1)
        #expect(Array(encoded.suffix(2)) == ids(tokenizer, "Ġ", "abc"))
        #expect(tokenizer.endOfGenerationIDs == [tokenizer.id(forTokenText: "<|im_end|>")!])
    }

    @Test func unsupportedTokenizersAreErrors() throws {
        var error = #expect(throws: EngineError.self) { try Tokenizer(gguf: Self.makeFile(pre: "deepseek-coder")) }
        #expect(error?.code == .unsupportedTokenizer && error?.message.contains("deepseek-coder") == true)
        error = #expect(throws: EngineError.self) { try Tokenizer(gguf: Self.makeFile(model: "bert")) }
        #expect(error?.code == .unsupportedTokenizer && error?.message.contains("bert") == true)
        // SentencePiece needs scores.
        error = #expect(throws: EngineError.self) { try Tokenizer(gguf: Self.makeFile(model: "llama")) }
        #expect(error?.code == .missingMetadata && error?.message.contains("scores") == true)
    }

    @Test func streamingDecoderHoldsBackIncompleteCharacters() {
        let cases: [([UInt8], Int)] = [
            ([], 0), ([0x61], 1), ([0x61, 0xE4], 1), ([0x61, 0xE4, 0xBD], 1), ([0x61, 0xE4, 0xBD, 0xA0], 4),
            ([0xF0, 0x9F, 0x99], 0), ([0xF0, 0x9F, 0x99, 0x82], 4), ([0xC3], 0), ([0xC3, 0xA9], 2),
            ([0x80], 1), ([0xFF], 1),  // invalid bytes are not held back
        ]
        for (bytes, expected) in cases {
            #expect(TokenTextDecoder.completePrefixLength(bytes) == expected, "\(bytes)")
        }
    }
}

/// The case-splitting pre-tokenizers (GPT-4o, Tekken) on words whose splits show the regex's
/// backtracking and llama.cpp's reading of the case classes (a non-ASCII letter is both cases).
@Suite struct CasedPreTokenizerTests {
    func words(_ pre: PreTokenizer, _ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        pre.split(scalars, scalars.map(CharacterClass.of), 0..<scalars.count, into: &ranges)
        return ranges.map { String(String.UnicodeScalarView(scalars[$0])) }
    }

    @Test func gpt4oSplitsAtCaseChanges() {
        #expect(words(.gpt4o, "parseHTTPRequest") == ["parse", "HTTPRequest"])
        #expect(words(.gpt4o, "XMLHttp iPhone McDonald's") == ["XMLHttp", " i", "Phone", " Mc", "Donald's"])
        #expect(words(.gpt4o, " DON'T") == [" DON'T"])
        #expect(words(.gpt4o, "aÉb ÉÉA") == ["aÉb", " ÉÉ", "A"])
        #expect(words(.gpt4o, "1234567 a/b\n/x") == ["123", "456", "7", " a", "/b", "\n", "/x"])
        #expect(words(.gpt4o, "e\u{301}tude") == ["e", "\u{301}tude"])
    }

    @Test func tekkenHasNoContractionsAndSingleDigits() {
        #expect(words(.tekken, "DON'T 1234") == ["DON", "'T", " ", "1", "2", "3", "4"])
        #expect(PreTokenizer(ggmlName: "tekken") == .tekken && PreTokenizer.tekken.ignoresMerges)
        #expect(PreTokenizer(ggmlName: "llama4") == .gpt4o && !PreTokenizer.gpt4o.ignoresMerges)
    }
}

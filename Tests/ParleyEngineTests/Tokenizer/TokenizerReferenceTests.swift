import Foundation
import Testing

@testable import ParleyEngine

/// Token ids and word splits compared with Hugging Face `tokenizers` built from the same GGUF vocabulary.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct TokenizerReferenceTests {
    struct Item: Encodable {
        var text: String
        var special: Bool
    }

    struct EncodeRequest: Encodable {
        var model: String
        var mode = "encode"
        var items: [Item]
    }

    struct SplitRequest: Encodable {
        var model: String
        var mode = "split"
        var pre: String
        var texts: [String]
    }

    @Test(arguments: [false, true])
    func idsMatchTheReference(parseSpecial: Bool) throws {
        let (file, tokenizer) = try ReferenceEnvironment.model.get()
        let texts = HardStrings.all
        let expected = try ReferenceEnvironment.run(
            "tokenizer_reference.py",
            EncodeRequest(model: file.path, items: texts.map { Item(text: $0, special: parseSpecial) }),
            as: [[Int32]].self
        )
        for (text, ids) in zip(texts, expected) {
            #expect(tokenizer.encode(text, parseSpecial: parseSpecial) == ids, "\(text.debugDescription)")
        }
    }

    @Test func chatMarkersInUserTextStayPlainText() throws {
        let (_, tokenizer) = try ReferenceEnvironment.model.get()
        let plain = tokenizer.encode("<|im_start|>", parseSpecial: false)
        #expect(!plain.contains(1) && plain.count > 1)
        #expect(tokenizer.encode("<|im_start|>", parseSpecial: true) == [1])
        #expect(tokenizer.endOfGenerationIDs == [0, 2])
        #expect(tokenizer.bosID == 1 && tokenizer.eosID == 2 && !tokenizer.addsBOS)
    }

    @Test(arguments: PreTokenizer.allCases)
    func wordSplitsMatchTheReference(pre: PreTokenizer) throws {
        let (file, _) = try ReferenceEnvironment.model.get()
        let texts =
            HardStrings.all + [
                "Numbers 1234567 and 12 345 6", "CR\r\n\r\nLF \n\n  x", "'S'T'Re 'VE", "x  \r\n  y", "word\n\n\n  next",
                "parseHTTPRequest XMLHttp iPhone McDonald's DON'T", "aÉb ÉÉA ÆsirÖl \u{1F600}Ab", "e\u{301}tude Ǆemal ǅx",
                "a/b\n/x //c ./d\r\n/", "ΣΊΣΥΦΟΣ σίσυφος ΑβΓ",
            ]
        let expected = try ReferenceEnvironment.run(
            "tokenizer_reference.py", SplitRequest(model: file.path, pre: pre.rawValue, texts: texts),
            as: [[[Int]]].self
        )
        for (text, ranges) in zip(texts, expected) {
            let scalars = Array(text.unicodeScalars)
            var words: [Range<Int>] = []
            pre.split(scalars, scalars.map(CharacterClass.of), 0..<scalars.count, into: &words)
            #expect(words.map { [$0.lowerBound, $0.upperBound] } == ranges, "\(pre) \(text.debugDescription)")
        }
    }

    @Test func decodingRoundTripsAndStreamsWholeCharacters() throws {
        let (_, tokenizer) = try ReferenceEnvironment.model.get()
        for text in HardStrings.all {
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decode(ids) == text)
            var decoder = TokenTextDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in ids {
                let chunk = decoder.append(id)
                #expect(!chunk.contains("\u{FFFD}") || text.contains("\u{FFFD}"), "\(text.debugDescription)")
                streamed += chunk
            }
            streamed += decoder.finish()
            #expect(streamed == text)
        }
        // A 4-byte emoji is split over several byte tokens: nothing is emitted until it is complete.
        let ids = tokenizer.encode("🙂")
        #expect(ids.count > 1)
        var decoder = TokenTextDecoder(tokenizer: tokenizer)
        let chunks = ids.map { decoder.append($0) }
        #expect(chunks.dropLast().allSatisfy(\.isEmpty) && chunks.last == "🙂")
        // Control tokens are not rendered unless asked.
        #expect(
            tokenizer.decode([1, 2]) == "" && tokenizer.decode([1, 2], renderSpecial: true) == "<|im_start|><|im_end|>")
    }

    @Test func encodingAFewKilobytesIsFast() throws {
        let (_, tokenizer) = try ReferenceEnvironment.model.get()
        let text = String(repeating: HardStrings.all.joined(separator: " "), count: 3)
        let clock = ContinuousClock()
        var ids: [Int32] = []
        // The best of five runs, so that other work on the machine does not decide the result.
        let elapsed = (0..<5).map { _ in clock.measure { ids = tokenizer.encode(text) } }.min()!
        print("encode of \(text.utf8.count) bytes -> \(ids.count) tokens: \(elapsed)")
        // Release builds take well under 1 ms; 20 ms leaves room for debug builds.
        #expect(elapsed < .milliseconds(20))
    }
}

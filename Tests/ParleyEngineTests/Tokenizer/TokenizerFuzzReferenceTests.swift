import Testing

@testable import ParleyEngine

/// Random texts built from tricky pieces, tokenized here and by the reference.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct TokenizerFuzzReferenceTests {
    static let pieces: [String] = [
        " ", "  ", "\n", "\r\n", "\t", "\u{00A0}", "\u{3000}", "a", "Z", "word", " the", "don", "'", "'s", "'LL", "'re",
        "0", "7", "42", "2024", "½", "٣", ".", ",", "!?", "...", "->", "{", "}", "(", ")", "\"", "`", "#", "$", "€",
        "é", "e\u{0301}", "ß", "Ω", "ж", "你", "好", "こ", "한", "🙂", "👍🏽", "👨‍👩‍👧", "🇫🇷", "\u{200D}", "\u{FFFD}",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|", "|>", "<", ">", "_",
    ]

    struct Item: Encodable {
        var text: String
        var special: Bool
    }

    struct Request: Encodable {
        var model: String
        var mode = "encode"
        var items: [Item]
    }

    @Test func randomTextsMatchTheReference() throws {
        let (file, tokenizer) = try ReferenceEnvironment.model.get()
        var generator = SplitMix64(seed: 2024)
        var items: [Item] = []
        for index in 0..<400 {
            let count = Int.random(in: 1...24, using: &generator)
            let text = (0..<count).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
            items.append(Item(text: text, special: index % 2 == 1))
        }
        let expected = try ReferenceEnvironment.run(
            "tokenizer_reference.py", Request(model: file.path, items: items), as: [[Int32]].self)
        var mismatches = 0
        for (item, ids) in zip(items, expected) {
            let actual = tokenizer.encode(item.text, parseSpecial: item.special)
            if actual != ids {
                mismatches += 1
                Issue.record("\(item.text.debugDescription) special=\(item.special): \(actual) != \(ids)")
            }
            #expect(tokenizer.decode(actual, renderSpecial: true) == item.text)
        }
        #expect(mismatches == 0)
    }
}

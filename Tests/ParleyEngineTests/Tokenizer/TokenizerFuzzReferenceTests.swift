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

    /// Random characters from every script (assigned up to Unicode 14, which every reference knows),
    /// mixed with every kind of whitespace: the letter, number and space classes must agree.
    @Test func randomCharactersFromAllOfUnicodeMatchTheReference() throws {
        let (file, tokenizer) = try ReferenceEnvironment.model.get()
        var generator = SplitMix64(seed: 99)
        let whitespace = (0...0x3000).compactMap(Unicode.Scalar.init).filter(\.properties.isWhitespace)
        func randomScalar() -> Unicode.Scalar {
            while true {
                let value = UInt32.random(in: 0x20..<0x30000, using: &generator)
                guard let scalar = Unicode.Scalar(value), let age = scalar.properties.age,
                    age.major < 14 || (age.major == 14 && age.minor == 0)
                else { continue }
                return scalar
            }
        }
        var items: [Item] = []
        for _ in 0..<300 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...40, using: &generator) {
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<6: text.append(randomScalar())
                case 6, 7: text.append(" ")
                case 8: text.append(whitespace.randomElement(using: &generator)!)
                default: text.append(contentsOf: "'s 12x".unicodeScalars)
                }
            }
            items.append(Item(text: String(text), special: false))
        }
        let expected = try ReferenceEnvironment.run(
            "tokenizer_reference.py", Request(model: file.path, items: items), as: [[Int32]].self)
        for (item, ids) in zip(items, expected) {
            #expect(tokenizer.encode(item.text) == ids, "\(item.text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }
}

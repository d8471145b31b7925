import Foundation
import Testing

import ParleyStructuredOutput

/// JSON mode's grammar, byte by byte: every prefix of a valid object is accepted and only a whole
/// object is complete; each kind of mistake fails at the byte that makes it.
struct JSONPrefixValidatorTests {
    static func read(_ text: String) -> JSONPrefixValidator {
        var validator = JSONPrefixValidator()
        validator.read(Array(text.utf8))
        return validator
    }

    static let objects = [
        "{}", " {\"a\": 1}\n", #"{"a":[1,-2.5e+3,0,0.25,1E9,true,false,null,"x"],"b":{"c":{}}}"#,
        #"{"s": "tab\tquote\"slash\/uni\u00e9 é 🙂 \\"}"#, #"{"a": [], "b": [[]], "c": -0}"#,
    ]

    @Test(arguments: objects)
    func everyPrefixOfAnObjectIsAcceptedAndOnlyTheWholeIsComplete(_ text: String) throws {
        let bytes = Array(text.utf8)
        var validator = JSONPrefixValidator()
        for (i, byte) in bytes.enumerated() {
            let read1 = validator.read(byte)
            #expect(read1, "byte \(i) of \(text)")
            let lastClose = bytes.lastIndex(of: UInt8(ascii: "}"))!
            #expect(validator.isComplete == (i >= lastClose), "byte \(i) of \(text)")
        }
        // Foundation agrees it is JSON.
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
    }

    @Test(arguments: [
        "[1]", "\"x\"", "1", "x", "{a:1}", "{\"a\" 1}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":01}",
        "{\"a\":1.}", "{\"a\":1.e5}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":True}", "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12G4\"}", "{\"a\":1]", "{\"a\":[1}", "{} {}", "{}x",
    ])
    func mistakesFail(_ text: String) {
        let bytes = Array(text.utf8)
        var validator = JSONPrefixValidator()
        let accepted = validator.read(bytes)
        // Either a byte was refused, or (for an unfinished value) the object is not complete.
        #expect(!accepted || !validator.isComplete, "\(text)")
        if !accepted {
            #expect(validator.hasFailed)
            let read2 = validator.read(UInt8(ascii: " "))
            #expect(!read2, "a failed validator stays failed")
        }
    }

    @Test func invalidUTF8InAStringFails() {
        for bytes: [UInt8] in [[0xC0, 0x80], [0xE2, 0x28], [0xFF], [0x80], [0xF5, 0x80, 0x80, 0x80]] {
            var validator = Self.read(#"{"a":""#)
            let read3 = validator.read(bytes)
            #expect(!read3, "\(bytes)")
        }
        var fine = Self.read(#"{"a":""#)
        let read4 = fine.read([0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x99, 0x82])
        #expect(read4)
    }

    @Test func whitespaceRunsAndNestingAreCapped() {
        var blanks = Self.read("{")
        let read5 = blanks.read(Array(repeating: UInt8(ascii: " "), count: JSONPrefixValidator.maxWhitespaceRun))
        #expect(read5)
        let read6 = blanks.read(UInt8(ascii: "\n"))
        #expect(!read6)
        var deep = JSONPrefixValidator()
        let read7 = deep.read(Array(("{\"a\":" + String(repeating: "[", count: JSONPrefixValidator.maxDepth - 1)).utf8))
        #expect(read7)
        let read8 = deep.read(UInt8(ascii: "["))
        #expect(!read8)
        // Inside a string, spaces are text.
        var text = Self.read(#"{"a":""#)
        let read9 = text.read(Array(repeating: UInt8(ascii: " "), count: 100))
        #expect(read9)
    }
}

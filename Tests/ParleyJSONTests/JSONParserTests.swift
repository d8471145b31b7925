import Foundation
import Testing

import ParleyJSON

@Suite("The JSON parser")
struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let text = #"""
             {"model":"m","n":-12.5e2,"zero":0,"t":true,"f":false,"nil":null,
              "list":[1,[2,{}],[],"x"],"esc":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","utf8":"東京 ☕"}  
            """#
        let value = try JSONParser.parse(Array(text.utf8))
        guard case .object(let object) = value else {
            Issue.record("not an object")
            return
        }
        #expect(object["model"] == .string("m"))
        #expect(object["n"] == .number(-1250))
        #expect(object["zero"] == .number(0))
        #expect(object["t"] == .bool(true))
        #expect(object["f"] == .bool(false))
        #expect(object["nil"] == .null)
        #expect(object["list"] == .array([.number(1), .array([.number(2), .object([:])]), .array([]), .string("x")]))
        #expect(object["esc"] == .string("a\"b\\c/d\u{8}\u{c}\n\r\té😀"))
        #expect(object["utf8"] == .string("東京 ☕"))
    }

    @Test func agreesWithFoundationOnStrings() throws {
        for sample in ["plain", "with \"quotes\"", "tab\tnew\nline", "emoji 🎉 and é", "\u{2028}", "", "\\"] {
            let encoded = try JSONSerialization.data(withJSONObject: [sample], options: [.fragmentsAllowed])
            #expect(try JSONParser.parse(Array(encoded)) == .array([.string(sample)]))
        }
    }

    @Test func rejectsWhatIsNotJSON() {
        let bad: [[UInt8]] = [
            [], Array("{".utf8), Array("{\"a\":1,}".utf8), Array("[1,]".utf8), Array("{\"a\" 1}".utf8),
            Array("01".utf8), Array("1.".utf8), Array(".5".utf8), Array("1e".utf8), Array("-".utf8), Array("+1".utf8),
            Array("tru".utf8), Array("nul".utf8), Array("{} {}".utf8), Array("\"unterminated".utf8),
            Array("\"tab\there\"".utf8), Array("\"\\x\"".utf8), Array("\"\\u12\"".utf8),
            Array("\"\\ud800\"".utf8), Array("\"\\udc00\"".utf8), Array("{'a':1}".utf8), Array("NaN".utf8),
            [0x22, 0xFF, 0xFE, 0x22], [0x22, 0xC3, 0x22],
            Array(String(repeating: "[", count: JSONParser.maximumDepth + 1).utf8)
                + Array(String(repeating: "]", count: JSONParser.maximumDepth + 1).utf8),
        ]
        for bytes in bad {
            #expect(throws: JSONParser.Invalid.self, "\(String(decoding: bytes, as: UTF8.self))") {
                _ = try JSONParser.parse(bytes)
            }
        }
        let deepest =
            Array(String(repeating: "[", count: JSONParser.maximumDepth).utf8)
            + Array(String(repeating: "]", count: JSONParser.maximumDepth).utf8)
        #expect((try? JSONParser.parse(deepest)) != nil)
    }
}

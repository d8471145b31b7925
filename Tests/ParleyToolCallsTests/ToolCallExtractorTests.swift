import ParleyToolCalls
import Testing

@Suite struct ToolCallExtractorTests {
    /// Feeds `pieces` one at a time, then finishes.
    func parts(_ pieces: [String]) -> [ToolCallExtractor.Part] {
        var extractor = ToolCallExtractor()
        var parts: [ToolCallExtractor.Part] = []
        for piece in pieces { parts += extractor.read(piece) }
        return parts + extractor.finish()
    }

    /// Streamed parts put together as whole blocks (content joined, each call's arguments joined).
    func blocks(_ parts: [ToolCallExtractor.Part]) -> [ToolCallExtractor.Block] {
        var blocks: [ToolCallExtractor.Block] = []
        for part in parts {
            switch (part, blocks.last) {
            case (.content(let text), .content(let before)?): blocks[blocks.count - 1] = .content(before + text)
            case (.content(let text), _): blocks.append(.content(text))
            case (.callBegins(let id, let name), _): blocks.append(.call(ToolCall(id: id, name: name, arguments: "")))
            case (.arguments(let piece), .call(var call)?):
                call.arguments += piece
                blocks[blocks.count - 1] = .call(call)
            case (.arguments, _): Issue.record("arguments without a call")
            }
        }
        return blocks
    }

    static let answer =
        "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Pa}ris\", \"days\": 1.50}}\n</tool_call>\n"
        + "<tool_call>\n{\"arguments\": {}, \"name\": \"now\"}\n</tool_call>\n"
        + "<tool_call>{\"name\": \"say\", \"arguments\": \"line \\\"one\\\"\\n\\u00e9 \\ud83d\\ude00 </tool_call>\"}</tool_call>"

    static let expected: [ToolCallExtractor.Block] = [
        .content("Let me look.\n"),
        .call(ToolCall(name: "get_weather", arguments: "{\"city\": \"Pa}ris\", \"days\": 1.50}")),
        .call(ToolCall(name: "now", arguments: "{}")),
        .call(ToolCall(name: "say", arguments: "line \"one\"\né 😀 </tool_call>")),
    ]

    @Test func callsComeOutWithTheirArgumentsAsWritten() {
        #expect(ToolCallExtractor.blocks(of: Self.answer) == Self.expected)
    }

    @Test func everySplitOfTheAnswerGivesTheSameCalls() {
        let characters = Array(Self.answer)
        for cut in 1..<characters.count {
            let split = blocks(parts([String(characters[..<cut]), String(characters[cut...])]))
            #expect(split == Self.expected, "cut at \(cut)")
        }
        // One character at a time: no content part holds any of the markup.
        let single = parts(characters.map { String($0) })
        for case .content(let text) in single { #expect(!text.contains("<tool") && !text.contains("{")) }
        #expect(blocks(single) == Self.expected)
    }

    @Test func argumentsStreamBeforeTheCallCloses() {
        var extractor = ToolCallExtractor()
        #expect(extractor.read("<tool_call>\n{\"name\": \"get_w").isEmpty)
        #expect(extractor.read("eather\", \"arguments\": {\"city\": \"Pa") == [
            .callBegins(id: nil, name: "get_weather"), .arguments("{\"city\": \"Pa"),
        ])
        #expect(extractor.read("ris\"}") == [.arguments("ris\"}")])
        #expect(extractor.read("}\n</tool_call>\n\nDone.") == [.content("Done.")])
        #expect(extractor.callCount == 1)
    }

    @Test func anAnswerCutInsideACallLeavesItWithTheArgumentsItHad() {
        let cut = "ok <tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": [1, 2"
        #expect(ToolCallExtractor.blocks(of: cut) == [.content("ok "), .call(ToolCall(name: "f", arguments: "{\"a\": [1, 2"))])
        let text = "ok <tool_call>\n{\"name\": \"f\", \"arguments\": \"one \\u00"
        #expect(ToolCallExtractor.blocks(of: text) == [.content("ok "), .call(ToolCall(name: "f", arguments: "one \\u00"))])
        // Before the head is whole it is no call yet: content.
        let early = "ok <tool_call>\n{\"name\": \"f\", \"argu"
        #expect(ToolCallExtractor.blocks(of: early) == [.content(early)])
    }

    @Test func textThatOnlyLooksLikeATagStaysContent() {
        #expect(blocks(parts(["a <tool", " b <", "tool_ca", "x> c <"])) == [.content("a <tool b <tool_cax> c <")])
    }

    @Test func aBlockThatIsNotACallIsContent() {
        for text in [
            "<tool_call>\n{\"name\": 3}\n</tool_call> after", "<tool_call>{\"arguments\": {}, \"other\": 1}</tool_call>",
            "<tool_call>[1]</tool_call>",
        ] {
            #expect(ToolCallExtractor.blocks(of: text) == [.content(text)], "\(text)")
        }
    }

    /// A tag mentioned in prose is text at once, not held until the answer ends.
    @Test func aTagFollowedByProseIsTextAtOnce() {
        var extractor = ToolCallExtractor()
        #expect(extractor.read("Write <tool_call>") == [.content("Write ")])
        #expect(extractor.read(" then") == [.content("<tool_call>"), .content(" then")])
        #expect(extractor.read(" a JSON object.") == [.content(" a JSON object.")])
        #expect(extractor.callCount == 0)
    }

    @Test func markupWithIdsReadsBack() {
        let calls = [
            ToolCall(id: "call_7", name: "f", arguments: "{\"a\": [1, 2"),
            ToolCall(id: "call_8", name: "g", arguments: "{\"b\": {\"c\": \"}\"}}"),
        ]
        let markup = calls.map(ToolCallMarkup.text(of:)).joined(separator: "\n")
        #expect(markup.contains("\"arguments\": \"{\\\"a\\\": [1, 2\""))
        #expect(ToolCallExtractor.blocks(of: markup) == calls.map { .call($0) })
    }

    @Test func textAfterACallKeepsItsInnerSpaces() {
        let pieces = ["<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", "\n\n", "Done", " now"]
        #expect(blocks(parts(pieces)).last == .content("Done now"))
    }
}

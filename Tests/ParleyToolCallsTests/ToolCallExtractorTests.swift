import ParleyToolCalls
import Testing

@Suite struct ToolCallExtractorTests {
    /// Feeds `pieces` one at a time, then finishes.
    func split(_ pieces: [String]) -> [ToolCallExtractor.Part] {
        var extractor = ToolCallExtractor()
        var parts: [ToolCallExtractor.Part] = []
        for piece in pieces { parts += extractor.read(piece) }
        return parts + extractor.finish()
    }

    /// Content parts joined, and the calls.
    func summary(_ parts: [ToolCallExtractor.Part]) -> (String, [ToolCall]) {
        var content = ""
        var calls: [ToolCall] = []
        for part in parts {
            switch part {
            case .content(let text): content += text
            case .call(let call): calls.append(call)
            }
        }
        return (content, calls)
    }

    static let answer =
        "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 1.50}}\n</tool_call>\n"
        + "<tool_call>\n{\"arguments\": {}, \"name\": \"now\"}\n</tool_call>\n"

    @Test func callsComeOutWholeWithTheirArgumentsAsWritten() {
        let (content, calls) = summary(split([Self.answer]))
        #expect(content == "Let me look.\n")
        #expect(calls == [
            ToolCall(name: "get_weather", arguments: "{\"city\": \"Paris\", \"days\": 1.50}"),
            ToolCall(name: "now", arguments: "{}"),
        ])
    }

    @Test func everySplitOfTheAnswerGivesTheSameParts() {
        let whole = summary(split([Self.answer]))
        let characters = Array(Self.answer)
        for cut in 1..<characters.count {
            let pieces = [String(characters[..<cut]), String(characters[cut...])]
            let parts = summary(split(pieces))
            #expect(parts.0 == whole.0 && parts.1 == whole.1, "cut at \(cut)")
        }
        // One character at a time: no content part holds any of the markup.
        let parts = split(characters.map { String($0) })
        for case .content(let text) in parts { #expect(!text.contains("<tool") && !text.contains("{")) }
        #expect(summary(parts).1 == whole.1)
    }

    @Test func textThatOnlyLooksLikeATagStaysContent() {
        let (content, calls) = summary(split(["a <tool", " b <", "tool_ca", "x> c <"]))
        #expect(content == "a <tool b <tool_cax> c <")
        #expect(calls.isEmpty)
    }

    @Test func aBlockThatIsNotACallIsContent() {
        let text = "<tool_call>\n{\"name\": 3}\n</tool_call> after"
        #expect(summary(split([text])) == (text, []))
        let extra = "<tool_call>{\"name\": \"f\", \"arguments\": {}, \"other\": 1}</tool_call>"
        #expect(summary(split([extra])) == (extra, []))
    }

    @Test func anUnclosedCallIsContentAtTheEnd() {
        var extractor = ToolCallExtractor()
        #expect(extractor.read("ok <tool_call>\n{\"name\": \"f\", \"argu").map { $0 } == [.content("ok ")])
        #expect(extractor.finish() == [.content("<tool_call>\n{\"name\": \"f\", \"argu")])
    }

    @Test func stringArgumentsAndIdsAreRead() {
        let call = ToolCall(id: "call_7", name: "f", arguments: "{\"a\": [1, 2")
        let markup = ToolCallMarkup.text(of: call)
        #expect(markup.contains("\"arguments\": \"{\\\"a\\\": [1, 2\""))
        #expect(summary(split([markup])).1 == [call])
        let whole = ToolCall(id: nil, name: "g", arguments: "{\"b\": {\"c\": \"}\"}}")
        #expect(summary(split([ToolCallMarkup.text(of: whole)])).1 == [whole])
    }

    @Test func textAfterACallKeepsItsInnerSpaces() {
        let pieces = ["<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", "\n\n", "Done", " now"]
        #expect(summary(split(pieces)).0 == "Done now")
    }
}

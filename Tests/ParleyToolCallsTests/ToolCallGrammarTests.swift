import ParleyJSON
import ParleyStructuredOutput
import ParleyToolCalls
import Testing

@Suite struct ToolCallGrammarTests {
    static let weatherSchema = try! OutputSchema.compile(
        try! JSONParser.parse(
            Array(
                #"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}"#
                    .utf8)))
    static let tools = [
        ToolCallGrammar.Tool(name: "get_weather", arguments: weatherSchema),
        ToolCallGrammar.Tool(name: "now", arguments: .anyObject),
    ]

    /// Whether every prefix of `text` is accepted, and what the grammar says at its end.
    func read(_ text: String, mode: ToolCallGrammar.Mode = .required, parallel: Bool = true) -> ToolCallGrammar? {
        var grammar = ToolCallGrammar(tools: Self.tools, mode: mode, parallel: parallel)
        for byte in text.utf8 where !grammar.read(byte) { return nil }
        return grammar
    }

    @Test func wellFormedCallsAreAccepted() throws {
        let one = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 3}}\n</tool_call>"
        let grammar = try #require(read(one))
        #expect(grammar.canEnd && !grammar.isComplete && grammar.callCount == 1)
        let two = try #require(read(one + "\n<tool_call>\n{\"arguments\": {}, \"name\": \"now\"}\n</tool_call>"))
        #expect(two.callCount == 2)
        let single = try #require(read(one, parallel: false))
        #expect(single.isComplete)
        #expect(read(one + "\n<", parallel: false) == nil)
    }

    @Test func requiredModeStartsWithACall() {
        #expect(read("Sure") == nil)
        let start = read("  <tool_")
        #expect(start != nil && start?.canEnd == false)
        #expect(read("<tool_call>") != nil)
    }

    @Test func callsMustFitTheirTool() {
        #expect(read("<tool_call>{\"name\": \"get_time\"") == nil)
        #expect(read("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"days\": \"3\"") == nil)
        #expect(read("<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"days\": 3}}") == nil)
        #expect(read("<tool_call>{\"name\": \"now\", \"arguments\": {\"x\": [true]}, \"id\"") == nil)
        // Arguments before the name: every tool is still possible until the name tells.
        #expect(read("<tool_call>{\"arguments\": {\"city\": \"Rome\"}, \"name\": \"get_weather\"}</tool_call>") != nil)
        #expect(read("<tool_call>{\"arguments\": {\"zip\": 1}, \"name\": \"get_weather\"") == nil)
    }

    @Test func autoModeIsFreeTextUntilACallOpens() throws {
        let text = try #require(read("I think <b>so</b> <tool_ <tool_call", mode: .auto))
        #expect(text.isFree && text.canEnd)
        let opened = try #require(read("Checking. <tool_call>\n", mode: .auto))
        #expect(!opened.isFree && !opened.canEnd)
        #expect(read("Checking. <tool_call>\nhello", mode: .auto) == nil)
        let called = try #require(read("x <tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>", mode: .auto))
        #expect(called.canEnd && !called.isFree)
        // After a call only another call or the end.
        #expect(read("x <tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call> more", mode: .auto) == nil)
    }

    @Test func blankRunsAndCallCountsAreCapped() {
        #expect(read(String(repeating: " ", count: ToolCallGrammar.maxBlank) + "<tool_call>") != nil)
        #expect(read(String(repeating: " ", count: ToolCallGrammar.maxBlank + 1)) == nil)
        let call = "<tool_call>{\"name\": \"now\", \"arguments\": {}}</tool_call>"
        let most = read(String(repeating: call, count: ToolCallGrammar.maxCalls))
        #expect(most?.isComplete == true)
    }

    @Test func everyCallTheGrammarAcceptsIsReadBackByTheExtractor() throws {
        let answer = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"
        _ = try #require(read(answer))
        #expect(ToolCallExtractor.blocks(of: answer) == [.call(ToolCall(name: "get_weather", arguments: "{\"city\": \"Oslo\"}"))])
    }
}

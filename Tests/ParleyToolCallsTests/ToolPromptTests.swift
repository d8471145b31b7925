import ParleyJSON
import ParleyToolCalls
import Testing

@Suite struct ToolPromptTests {
    let tools = [
        ToolPrompt.Tool(name: "get_weather", description: "Weather \"now\"", parameters: #"{"type":"object"}"#),
        ToolPrompt.Tool(name: "now"),
    ]

    @Test func toolsFollowTheSystemMessageOneSignatureALine() throws {
        let turns = ToolPrompt.turns([("user", "hi")], tools: tools, defaultSystem: "You are SmolLM.")
        #expect(turns.map(\.role) == ["system", "user"])
        let system = turns[0].content
        #expect(system.hasPrefix("You are SmolLM.\n\n# Tools"))
        let listed = system.split(separator: "\n").filter { $0.hasPrefix("{\"type\": \"function\"") }
        #expect(listed.count == 2)
        for line in listed { _ = try JSONParser.parse(Array(line.utf8)) }
        #expect(system.contains(ToolCallMarkup.open) && system.hasSuffix(ToolCallMarkup.close))
    }

    @Test func theChatsOwnSystemMessageReplacesTheDefault() {
        let turns = ToolPrompt.turns([("system", "Be brief."), ("user", "hi")], tools: tools, defaultSystem: "Default.")
        #expect(turns[0].content.hasPrefix("Be brief.\n\n# Tools") && !turns[0].content.contains("Default."))
        #expect(turns.count == 2)
    }

    @Test func toolResultsOfOneRoundShareAUserTurn() {
        let call = ToolCallMarkup.text(of: ToolCall(name: "now", arguments: "{}"))
        let turns = ToolPrompt.turns(
            [("user", "time?"), ("assistant", call), ("tool", "12:00"), ("tool", "UTC"), ("assistant", "Noon."),
             ("tool", "late")],
            tools: tools, defaultSystem: nil)
        #expect(turns.map(\.role) == ["system", "user", "assistant", "user", "assistant", "user"])
        #expect(turns[3].content == "<tool_response>\n12:00\n</tool_response>\n<tool_response>\nUTC\n</tool_response>")
        #expect(turns[5].content == "<tool_response>\nlate\n</tool_response>")
        #expect(turns[0].content.hasPrefix("# Tools"))
    }
}

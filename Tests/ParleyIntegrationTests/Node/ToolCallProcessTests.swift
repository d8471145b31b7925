import Foundation
import ParleyClient
import ParleyTestSupport
import Testing

/// Tool calling as a Swift program uses it: `parley dev` with the built-in model, the Swift client
/// offering a tool; the call streams as deltas (id and name, then the arguments), the whole answer
/// has it, and the result goes back for the next turn.
@Suite("Tool calls through parley dev (process)", .serialized)
struct ToolCallProcessTests {
    static let weather = ChatTool(
        name: "get_weather", description: "The current weather of a city",
        parametersJSON: #"{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}"#,
        strict: true)

    @Test(.timeLimit(.minutes(2))) func aCallStreamsAndItsResultGoesBack() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("parley-tools-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let key = "pk-tool-call-process-test-0001"
        let dev = try ParleyProcess(["dev", "--http", "127.0.0.1:0", "--data", data, "--api-key", key])
        defer { dev.kill() }
        let line = try await dev.waitForLine(containing: "Parley is running at ", timeout: .seconds(60))
        let url = String(line.split(separator: " ").last ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let client = ParleyClient(configuration: .init(url: url, apiKey: key))
        defer { Task { try? await client.shutdown() } }

        var request = ChatCompletionRequest(
            model: "smollm2", messages: [.user("What is the weather in Paris?")], temperature: 0, maxTokens: 200)
        request.tools = [Self.weather]
        request.toolChoice = .required
        request.parallelToolCalls = false

        // Streamed: the first delta names the call, the rest carry its arguments.
        var deltas: [ChatToolCallDelta] = []
        var finish: String?
        for try await event in try await client.streamChatCompletion(request) {
            switch event {
            case .toolCall(let delta): deltas.append(delta)
            case .finished(let reason): finish = reason
            default: break
            }
        }
        #expect(finish == "tool_calls")
        #expect(deltas.first?.name == "get_weather" && deltas.first?.id?.hasPrefix("call_") == true)
        #expect(deltas.count > 2 && deltas.allSatisfy { $0.index == 0 } && deltas.dropFirst().allSatisfy { $0.id == nil })
        let streamed = deltas.map(\.arguments).joined()
        let arguments = try #require(
            try JSONSerialization.jsonObject(with: Data(streamed.utf8)) as? [String: Any], "\(streamed)")
        #expect(Set(arguments.keys) == ["city", "unit"], "\(streamed)")

        // Whole: the same call (greedy), and the result goes back for the next turn.
        let whole = try await client.chatCompletion(request)
        #expect(whole.finishReason == "tool_calls")
        let call = try #require(whole.toolCalls.first)
        #expect(whole.toolCalls.count == 1 && call.name == "get_weather" && call.arguments == streamed)
        var next = ChatCompletionRequest(
            model: "smollm2",
            messages: [
                .user("What is the weather in Paris?"),
                .init(role: "assistant", content: "", toolCalls: whole.toolCalls),
                .toolResult(#"{"temperature": 18, "sky": "sunny"}"#, callID: call.id),
            ],
            temperature: 0, maxTokens: 40)
        next.tools = [Self.weather]
        next.toolChoice = ChatToolChoice.none
        let answer = try await client.chatCompletion(next)
        #expect(!answer.content.isEmpty && answer.toolCalls.isEmpty)
        #expect(["stop", "length"].contains(answer.finishReason ?? ""))
    }
}

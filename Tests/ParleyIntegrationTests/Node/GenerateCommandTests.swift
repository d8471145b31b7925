import Foundation
import ParleyTestSupport
import Testing

/// `parley generate` as a person runs it: structured output from a schema file, with logprobs, as
/// one JSON object; a schema it cannot enforce is a clear error naming the keyword.
@Suite("parley generate (process)", .serialized)
struct GenerateCommandTests {
    static func schemaFile(_ json: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("parley-schema-\(UUID().uuidString).json")
        try json.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test(.timeLimit(.minutes(2))) func aSchemaFileShapesTheAnswerAndLogprobsComeWithIt() async throws {
        let schema = try Self.schemaFile(
            #"{"type": "object", "additionalProperties": false, "required": ["name", "lives"], "properties": {"name": {"type": "string"}, "lives": {"type": "integer"}}}"#)
        defer { try? FileManager.default.removeItem(at: schema) }
        let process = try ParleyProcess([
            "generate", "--prompt", "A cat, please.", "--schema", schema.path, "--temperature", "0", "--max-tokens", "200",
            "--logprobs", "2", "--json",
        ])
        #expect(try await process.exitStatus(timeout: .seconds(90)) == 0)
        let line = try #require(process.output.last { $0.hasPrefix("{") }, "\(process.output)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(output["finish_reason"] as? String == "stop")
        let text = try #require(output["text"] as? String)
        let answer = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
        #expect(Set(answer.keys) == ["name", "lives"] && answer["lives"] is Int, "\(text)")
        let logprobs = try #require(output["logprobs"] as? [[String: Any]])
        #expect(logprobs.count == (output["ids"] as? [Any])?.count)
        #expect(logprobs.allSatisfy { ($0["top"] as? [Any])?.count == 2 })
    }

    @Test(.timeLimit(.minutes(2))) func aToolsFileMakesTheAnswerACallOfATool() async throws {
        let tools = try Self.schemaFile(
            #"[{"type": "function", "function": {"name": "get_weather", "description": "The weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}}, {"type": "function", "function": {"name": "get_time"}}]"#)
        defer { try? FileManager.default.removeItem(at: tools) }
        let process = try ParleyProcess([
            "generate", "--prompt", "Weather in Lima?", "--tools", tools.path, "--tool-choice", "get_weather",
            "--temperature", "0", "--max-tokens", "100", "--json",
        ])
        #expect(try await process.exitStatus(timeout: .seconds(90)) == 0)
        let line = try #require(process.output.last { $0.hasPrefix("{") }, "\(process.output)")
        let output = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(output["finish_reason"] as? String == "stop")
        let calls = try #require(output["tool_calls"] as? [[String: Any]], "\(line)")
        #expect(calls.count >= 1 && calls.allSatisfy { $0["name"] as? String == "get_weather" }, "\(line)")
        let arguments = try #require(
            try JSONSerialization.jsonObject(with: Data((calls[0]["arguments"] as? String ?? "").utf8)) as? [String: Any])
        #expect(Set(arguments.keys) == ["city"], "\(line)")

        let unknown = try ParleyProcess(["generate", "--prompt", "x", "--tools", tools.path, "--tool-choice", "fly"])
        #expect(try await unknown.exitStatus(timeout: .seconds(30)) != 0)
        #expect(unknown.output.contains { $0.contains("'fly'") }, "\(unknown.output)")
    }

    @Test(.timeLimit(.minutes(1))) func aSchemaItCannotEnforceIsAClearError() async throws {
        let schema = try Self.schemaFile(#"{"type": "object", "properties": {"day": {"type": "string", "format": "date"}}}"#)
        defer { try? FileManager.default.removeItem(at: schema) }
        let process = try ParleyProcess(["generate", "--prompt", "x", "--schema", schema.path])
        #expect(try await process.exitStatus(timeout: .seconds(30)) != 0)
        #expect(process.output.contains { $0.contains("'format'") && $0.contains("not supported") }, "\(process.output)")
    }
}

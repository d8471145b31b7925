import ArgumentParser
import Foundation
import ParleyEngine
import ParleyJSON
import ParleyStructuredOutput
import ParleyToolCalls

extension GenerateCommand {
    /// The tools of `--tools FILE` as the prompt lists them and as the grammar holds calls to them.
    struct Tools {
        var listed: [ToolPrompt.Tool]
        var callable: [ToolCallGrammar.Tool]
        var mode: ToolCallGrammar.Mode
    }

    /// `--tools FILE` (OpenAI's `tools` array, or an object with one under `tools`) with
    /// `--tool-choice` (`auto`, `required`, or a tool's name); nil without `--tools`.
    func tools() throws -> Tools? {
        guard let path = toolsFile else {
            if toolChoice != "auto" { throw ValidationError("--tool-choice needs --tools") }
            return nil
        }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read the tools file \(path): \(error.localizedDescription)")
        }
        guard let value = try? JSONParser.parse(bytes) else { throw ValidationError("\(path) is not valid JSON") }
        guard let entries = (value["tools"] ?? value).array, !entries.isEmpty else {
            throw ValidationError("\(path) must hold a non-empty array of tools (OpenAI's 'tools')")
        }
        var listed: [ToolPrompt.Tool] = []
        var grammar: [ToolCallGrammar.Tool] = []
        for (index, entry) in entries.enumerated() {
            let function = entry["function"] ?? entry
            guard let name = function["name"]?.string, !name.isEmpty else {
                throw ValidationError("\(path): tool \(index) has no name")
            }
            let parameters = function["parameters"]
            listed.append(
                ToolPrompt.Tool(name: name, description: function["description"]?.string, parameters: parameters?.jsonText))
            do {
                grammar.append(
                    try ToolCallGrammar.Tool(name: name, parameters: parameters, strict: function["strict"] == .bool(true)))
            } catch {
                throw ValidationError("\(path): the parameters of '\(name)': \(error.message)")
            }
        }
        switch toolChoice {
        case "auto": return Tools(listed: listed, callable: grammar, mode: .auto)
        case "required": return Tools(listed: listed, callable: grammar, mode: .required)
        case let name:
            let named = grammar.filter { $0.name == name }
            guard !named.isEmpty else { throw ValidationError("--tool-choice names '\(name)', which \(path) does not hold") }
            return Tools(listed: listed.filter { $0.name == name }, callable: named, mode: .required)
        }
    }

    /// The calls in an answer's text, for the JSON output.
    static func calls(in text: String) -> [CallOutput] {
        ToolCallExtractor.blocks(of: text).compactMap { block in
            if case .call(let call) = block { CallOutput(name: call.name, arguments: call.arguments) } else { nil }
        }
    }

    /// One call in the JSON output.
    struct CallOutput: Encodable {
        var name: String
        var arguments: String
    }
}

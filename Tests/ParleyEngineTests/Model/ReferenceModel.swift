import Foundation

@testable import ParleyEngine

/// The model file and the NumPy reference (tools/reference/forward.py) that the model tests compare against.
enum ReferenceModel {
    /// The SmolLM2 GGUF file: `$PARLEY_TEST_MODEL`, or the model store's copy (fetched on first use).
    static let path: String? = {
        if let path = ProcessInfo.processInfo.environment["PARLEY_TEST_MODEL"] { return path }
        return try? ModelStore().resolve("smollm2")
    }()

    /// tools/reference/forward.py in this repository (found through the real path of this file).
    static let script: String = {
        let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        return
            here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/reference/forward.py").path
    }()

    /// Why the reference cannot run here, or nil when it can.
    static let unavailableReason: String? = {
        guard path != nil else { return "the SmolLM2 model could not be found or fetched (set PARLEY_TEST_MODEL)" }
        guard FileManager.default.fileExists(atPath: script) else { return "\(script) is missing" }
        guard (try? python(["-c", "import numpy, gguf"], input: Data())) != nil else {
            return "python3 with numpy and gguf is not installed (tools/test installs them)"
        }
        return nil
    }()

    static var isAvailable: Bool {
        if let reason = unavailableReason {
            print("SKIPPED reference comparison: \(reason)")
            return false
        }
        return true
    }

    /// One reference job result.
    struct Result: Decodable {
        var logits: [Float]?
        var ids: [Int32]?
        var margins: [Float]?
    }

    /// A job for the reference: next-token logits of a prompt, or greedy generation.
    struct Job: Encodable {
        var tokens: [Int32]
        var mode: String
        var n: Int = 32
        var stop: [Int32] = []
    }

    /// Runs the reference on `jobs` in one process (weights are dequantized once), on SmolLM2 or
    /// `model`; `context` is the context a phi3 model runs with (it picks LongRoPE's factors).
    static func run(
        _ jobs: [Job], activations: String = "q8", layers: Int = 0, model: String? = nil, context: Int? = nil
    ) throws -> [Result] {
        let options = context.map { ["--context", String($0)] } ?? []
        let output = try python(
            [script, "--model", model ?? path!, "--activations", activations, "--layers", String(layers)] + options
                + ["jobs"],
            input: try JSONEncoder().encode(jobs))
        return try JSONDecoder().decode([Result].self, from: output)
    }

    struct ProcessFailed: Error, CustomStringConvertible {
        var description: String
    }

    static func python(_ arguments: [String], input: Data) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ProcessFailed(description: "python3 \(arguments.first ?? "") failed: " + String(decoding: errors, as: UTF8.self))
        }
        return data
    }

    /// The engine's logits after `prompt`, prefilled in chunks of `chunk` tokens, through the first
    /// `layers` blocks (nil: all).
    static func engineLogits(
        _ model: TransformerModel, _ prompt: [Int32], chunk: Int = 512, layers: Int? = nil
    ) -> [Float] {
        let pool = ThreadPool(threadCount: 2)
        defer { pool.shutdown() }
        let pass = ForwardPass(model: model, pool: pool)
        pass.layerLimit = layers
        let cache = model.makeCache(capacity: prompt.count + 1)
        var logits: [Float] = []
        var start = 0
        while start < prompt.count {
            let end = min(prompt.count, start + chunk)
            let batch = (start..<end).map {
                ForwardPass.Token(id: prompt[$0], position: $0, cache: cache, wantsLogits: $0 == prompt.count - 1)
            }
            logits = pass.run(batch).last ?? []
            start = end
        }
        return logits
    }

    /// The engine's greedy tokens after `prompt`: `count` of them, fewer if one of `stop` comes.
    static func greedy(_ pass: ForwardPass, _ prompt: [Int32], count: Int, stop: Set<Int32> = []) -> [Int32] {
        let cache = pass.model.makeCache(capacity: prompt.count + count + 1)
        var logits = pass.run(
            prompt.indices.map { .init(id: prompt[$0], position: $0, cache: cache, wantsLogits: $0 == prompt.count - 1) }
        )[0]
        var ours: [Int32] = []
        while ours.count < count {
            let next = Sampler.argmax(logits)
            ours.append(next)
            if stop.contains(next) { break }
            logits = pass.run([.init(id: next, position: cache.count, cache: cache, wantsLogits: true)])[0]
        }
        return ours
    }

    /// The loaded model, shared by the tests of a run.
    static let model: (TransformerModel, Tokenizer, ChatTemplate)? = {
        guard let path, let file = try? GGUFFile(path: path), let model = try? TransformerModel(file: file),
            let tokenizer = try? Tokenizer(gguf: file), let template = try? ChatTemplate(gguf: file)
        else { return nil }
        return (model, tokenizer, template)
    }()
}

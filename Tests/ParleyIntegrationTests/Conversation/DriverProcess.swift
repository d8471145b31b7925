import Foundation
import ParleyTestSupport
import Synchronization

/// A `parley-bench-history drive …` child process (the client that writes to and checks the
/// conversation nodes; it sits next to `parley`). Output lines are collected; `kill()` sends SIGKILL.
final class DriverProcess: Sendable {
    private let process: Process
    private let lines = Mutex<[String]>([])
    private let closed = Atomic<Bool>(false)

    static var executableURL: URL {
        ParleyProcess.executableURL.deletingLastPathComponent().appendingPathComponent("parley-bench-history")
    }

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = Self.executableURL
        process.arguments = ["drive"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        let pending = Mutex(Data())
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                self?.closed.store(true, ordering: .releasing)
                return
            }
            let complete: [String] = pending.withLock { buffer in
                buffer.append(data)
                var out: [String] = []
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    out.append(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
                return out
            }
            self?.lines.withLock { $0 += complete }
        }
        try process.run()
    }

    deinit { kill() }

    var output: [String] { lines.withLock { $0 } }

    /// Lines starting with `prefix`.
    func lines(startingWith prefix: String) -> [String] { output.filter { $0.hasPrefix(prefix) } }

    /// Waits (polling the output every 20 ms) until `count` lines start with `prefix`.
    func waitForLines(startingWith prefix: String, count: Int = 1, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while lines(startingWith: prefix).count < count {
            guard ContinuousClock.now < deadline, process.isRunning || lines(startingWith: prefix).count >= count else {
                throw TestFailure(
                    "driver: fewer than \(count) \"\(prefix)\" lines within \(timeout); last output:\n"
                        + output.suffix(20).joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to end and its output to be read (at most `timeout`) and answers
    /// its exit status.
    func exitStatus(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning || !closed.load(ordering: .acquiring) {
            guard ContinuousClock.now < deadline else {
                kill()
                throw TestFailure("driver did not finish within \(timeout); output:\n" + output.suffix(20).joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

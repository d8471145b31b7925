import Foundation
import Synchronization

/// A child process of the benchmark (a `parley node`): output lines collected, ready line awaited,
/// killed with SIGKILL by `kill()` or when the value is dropped.
final class NodeProcess: Sendable {
    private let process: Process
    private let lines = Mutex<[String]>([])

    /// The `parley` executable next to this one, or `$PARLEY_BIN`.
    static var parleyExecutable: String {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BIN"] { return path }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent("parley").path
    }

    init(executable: String = NodeProcess.parleyExecutable, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        let pending = Mutex(Data())
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
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

    /// CPU seconds (user + system) the process has used so far (Linux `/proc`; 0 elsewhere).
    var cpuSeconds: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Polls the output (every 20 ms) for a line containing `text`.
    func waitForLine(containing text: String, timeout: Duration = .seconds(60)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = output.first(where: { $0.contains(text) }) { return line }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchFailure("no line with \"\(text)\"; output:\n" + output.suffix(20).joined(separator: "\n"))
    }

    /// SIGKILL, then waits for the exit.
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

public import Foundation
import Synchronization

/// A child process started by a test or a benchmark — `parley` by default, or another executable
/// of the same build: its output lines arrive as events, and it is killed with SIGKILL when the
/// caller calls `kill()` or when the value is dropped.
public final class ParleyProcess: Sendable {
    public let arguments: [String]
    private let process: Process
    private let lines: Mutex<[String]> = Mutex([])
    /// The output pipe reached its end (the process exited and everything it printed was read).
    private let outputClosed = Atomic<Bool>(false)
    /// The read end of the process's standard output and error.
    private let outputHandle: FileHandle
    /// Output read but not yet a whole line.
    private let pending = Mutex(Data())
    private struct Waiter {
        let id: Int
        let text: String
        let continuation: CheckedContinuation<String, any Error>
    }

    private let waiters: Mutex<[Waiter]> = Mutex([])
    private let nextWaiterID = Atomic<Int>(0)

    /// The `parley` executable next to the test bundle (`.build/<config>/parley`), or `$PARLEY_BIN`.
    public static var executableURL: URL {
        if let path = ProcessInfo.processInfo.environment["PARLEY_BIN"] { return URL(fileURLWithPath: path) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("parley")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            url = url.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: "parley")
    }

    /// `name`, an executable of the same build as `parley` (next to it).
    public static func siblingExecutableURL(_ name: String) -> URL {
        executableURL.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Starts `executable ARGUMENTS…` (default `parley`) with standard input empty; standard output
    /// and error are read line by line.
    public init(
        executable: URL = ParleyProcess.executableURL, _ arguments: [String], environment: [String: String] = [:]
    ) throws {
        self.arguments = arguments
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        // Nothing of the test runner's own standard input reaches the process.
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        self.process = process
        self.outputHandle = pipe.fileHandleForReading
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.consume(handle.availableData) }
        try process.run()
    }

    /// What the pipe holds now, read without blocking (a child of the process may still hold its
    /// write end open).
    private func readAvailableWithoutWaiting() -> Data {
        let fd = outputHandle.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[..<count])
        }
    }

    /// Splits what was read into lines; empty data is the end of the output.
    private func consume(_ data: Data) {
        guard !data.isEmpty else {
            outputHandle.readabilityHandler = nil
            outputClosed.store(true, ordering: .releasing)
            return
        }
        let complete: [String] = pending.withLock { pending in
            pending.append(data)
            var lines: [String] = []
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                lines.append(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...newline)
            }
            return lines
        }
        for line in complete { received(line) }
    }

    deinit {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Every line printed so far (standard output and error).
    public var output: [String] { lines.withLock { $0 } }

    /// The lines printed so far that start with `prefix`.
    public func lines(startingWith prefix: String) -> [String] { output.filter { $0.hasPrefix(prefix) } }

    /// CPU seconds (user + system) the process has used so far (Linux `/proc`; 0 elsewhere).
    public var cpuSeconds: Double { Self.cpuSeconds(of: process.processIdentifier) }

    /// CPU seconds (user + system) process `pid` has used so far (Linux `/proc`; 0 elsewhere).
    public static func cpuSeconds(of pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the parenthesised command name: utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Waits for the process to end and its output to be read (at most `timeout`, then it is
    /// killed and the wait fails) and answers its exit status.
    public func exitStatus(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var exitedAt: ContinuousClock.Instant?
        while process.isRunning || !outputClosed.load(ordering: .acquiring) {
            if !process.isRunning {
                // Foundation's readability handler sometimes misses the end of the output of a
                // process that exits at once: after a grace, what is left is read here.
                exitedAt = exitedAt ?? .now
                if let exitedAt, exitedAt.duration(to: .now) > .milliseconds(500) {
                    outputHandle.readabilityHandler = nil
                    consume(readAvailableWithoutWaiting())
                    consume(Data())
                    break
                }
            }
            guard ContinuousClock.now < deadline else {
                kill()
                throw ProcessTimeout(
                    waitingFor: "the exit (running: \(process.isRunning), output closed: \(outputClosed.load(ordering: .acquiring)))",
                    output: output.suffix(40).joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    private func received(_ line: String) {
        let ready: [CheckedContinuation<String, any Error>] = lines.withLock { lines in
            lines.append(line)
            return waiters.withLock { waiters in
                var ready: [CheckedContinuation<String, any Error>] = []
                waiters.removeAll { waiter in
                    guard line.contains(waiter.text) else { return false }
                    ready.append(waiter.continuation)
                    return true
                }
                return ready
            }
        }
        for continuation in ready { continuation.resume(returning: line) }
    }

    /// Waits for an output line containing `text` (also one printed before the call), failing
    /// after `timeout` with the process's output in the error.
    @discardableResult
    public func waitForLine(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask {
                let id = self.nextWaiterID.wrappingAdd(1, ordering: .relaxed).newValue
                return try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        let existing: String? = self.lines.withLock { lines in
                            if let line = lines.first(where: { $0.contains(text) }) { return line }
                            self.waiters.withLock { $0.append(Waiter(id: id, text: text, continuation: continuation)) }
                            return nil
                        }
                        if let existing { continuation.resume(returning: existing) }
                    }
                } onCancel: {
                    let waiter = self.waiters.withLock { waiters -> Waiter? in
                        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return nil }
                        return waiters.remove(at: index)
                    }
                    waiter?.continuation.resume(throwing: CancellationError())
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ProcessTimeout(waitingFor: text, output: self.output.suffix(40).joined(separator: "\n"))
            }
            let line = try await group.next()!
            group.cancelAll()
            return line
        }
    }

    /// Sends SIGKILL and waits for the process to exit.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM and answers the exit status once the process has ended (at most `timeout`,
    /// then it is killed and the wait fails: a node that ignores SIGTERM must not hang the test).
    @discardableResult
    public func terminate(timeout: Duration = .seconds(20)) async throws -> Int32 {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGTERM) }
        return try await exitStatus(timeout: timeout)
    }

    public struct ProcessTimeout: Error, CustomStringConvertible {
        public let waitingFor: String
        public let output: String
        public var description: String { "timed out waiting for \"\(waitingFor)\"; last output:\n\(output)" }
    }
}

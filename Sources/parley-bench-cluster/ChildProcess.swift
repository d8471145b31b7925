import Foundation
import Synchronization

/// A child process of this benchmark: its stdout lines arrive as an `AsyncStream`, and it exits when
/// its stdin closes (the parent ended), so no child outlives the benchmark.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    let lines: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation

    init(arguments: [String]) throws {
        (lines, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .unbounded)
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        let handle = stdout.fileHandleForReading
        let continuation = self.continuation
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: 0x0A) {
                    continuation.yield(String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self))
                    buffer.removeSubrange(buffer.startIndex...newline)
                }
            }
            continuation.finish()
        }
    }

    /// The first line starting with `prefix`, split at spaces (without the prefix).
    func firstLine(startingWith prefix: String) async -> [String]? {
        for await line in lines where line.hasPrefix(prefix + " ") {
            return line.split(separator: " ").dropFirst().map(String.init)
        }
        return nil
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// In a child: exit when the parent closes our stdin.
func exitWhenParentGoes() {
    Thread.detachNewThread {
        while !FileHandle.standardInput.availableData.isEmpty {}
        exit(0)
    }
}

/// Prints and flushes one line (the parent reads stdout through a pipe).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Wall-clock nanoseconds, comparable between processes of this machine.
func wallNanos() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

import Foundation
import ParleyTestSupport

/// `parley-bench-history drive …`: the client that writes to and checks the conversation nodes
/// (it sits next to `parley`), as a ``ParleyProcess``.
enum DriverProcess {
    static func start(_ arguments: [String]) throws -> ParleyProcess {
        try ParleyProcess(executable: ParleyProcess.siblingExecutableURL("parley-bench-history"), ["drive"] + arguments)
    }
}

extension ParleyProcess {
    /// Waits (polling the output every 20 ms) until `count` lines start with `prefix`.
    func waitForLines(startingWith prefix: String, count: Int = 1, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while lines(startingWith: prefix).count < count {
            guard ContinuousClock.now < deadline, isRunning || lines(startingWith: prefix).count >= count else {
                throw TestFailure(
                    "driver: fewer than \(count) \"\(prefix)\" lines within \(timeout); last output:\n"
                        + output.suffix(20).joined(separator: "\n"))
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

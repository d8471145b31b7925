import Dispatch
import Foundation
import Logging
import ParleyCluster

/// Test hook, not for production use: a network partition of a node process, driven from outside.
///
/// When the environment variable `PARLEY_FAULT_FILE` names a file, the node reads that file each
/// time it receives `SIGUSR1` and drops every frame received from the nodes listed in it, one node
/// name per line (``ClusterSystem/dropFrames(fromNodesNamed:)``); an empty file heals. After each
/// change it prints `parley node NAME drops frames from [A,B]` on standard output, so a test can
/// wait for the cut to be in place. Without the variable nothing is installed and `SIGUSR1` keeps
/// its default action.
enum FaultControl {
    /// The environment variable naming the fault file.
    static let environmentKey = "PARLEY_FAULT_FILE"

    /// The installed signal source (kept alive for the life of the process; set once, before
    /// any signal is handled).
    nonisolated(unsafe) private static var source: (any DispatchSourceSignal)?

    /// Installs the `SIGUSR1` handler when `PARLEY_FAULT_FILE` is set; prints
    /// `parley node NAME fault control armed` once it is.
    static func installIfRequested(system: ClusterSystem, logger: Logger) {
        guard let path = ProcessInfo.processInfo.environment[environmentKey], !path.isEmpty else { return }
        signal(SIGUSR1, SIG_IGN)
        let signals = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: DispatchQueue(label: "parley.fault-control"))
        signals.setEventHandler { apply(path, to: system, logger: logger) }
        signals.resume()
        source = signals
        logger.warning("fault control armed (test hook): SIGUSR1 reads \(path)")
        print("parley node \(system.node.name) fault control armed")
        fflush(nil)
    }

    /// Reads the node names in `path` and drops frames from them (none: heal). An unreadable file
    /// changes nothing.
    static func apply(_ path: String, to system: ClusterSystem, logger: Logger) {
        guard let data = FileManager.default.contents(atPath: path) else {
            logger.error("fault control: cannot read \(path); nothing changed")
            return
        }
        let names = Set(
            String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        system.dropFrames(fromNodesNamed: names)
        logger.warning("fault control (test hook): dropping frames from \(names.sorted())")
        print("parley node \(system.node.name) drops frames from [\(names.sorted().joined(separator: ","))]")
        fflush(nil)
    }
}

import ArgumentParser
import Foundation
import Logging

extension Logger {
    /// A logger writing to standard error at `level` (trace … critical; default info) in `format`.
    static func parley(label: String, level: String, format: StandardErrorLogHandler.Format = .text) -> Logger {
        var logger = Logger(label: label) { StandardErrorLogHandler(label: $0, format: format) }
        logger.logLevel = Logger.Level(rawValue: level) ?? .info
        return logger
    }
}

/// `--log-level` and `--log-format`, shared by `parley node` and `parley dev`.
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: info; notice for dev).")
    var logLevel: String?
    @Option(help: "Log line format: text, or json (one object a line, for log collectors).")
    var logFormat: String = "text"

    func validate() throws {
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if StandardErrorLogHandler.Format(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json")
        }
    }

    /// A logger for `label`; `defaultLevel` when no `--log-level` was given.
    func logger(label: String, defaultLevel: Logger.Level) -> Logger {
        .parley(
            label: label, level: logLevel ?? defaultLevel.rawValue, format: StandardErrorLogHandler.Format(rawValue: logFormat) ?? .text)
    }
}

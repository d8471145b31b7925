import ArgumentParser
import Foundation
import Logging

extension Logger {
    /// A logger writing to standard error at `level` in `format`.
    static func parley(label: String, level: Logger.Level, format: StandardErrorLogHandler.Format) -> Logger {
        var logger = Logger(label: label) { StandardErrorLogHandler(label: $0, format: format) }
        logger.logLevel = level
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

    /// A logger for `label`; `defaultLevel` when no `--log-level` was given (`validate` let only
    /// known levels and formats through).
    func logger(label: String, defaultLevel: Logger.Level) -> Logger {
        .parley(
            label: label, level: logLevel.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel,
            format: StandardErrorLogHandler.Format(rawValue: logFormat) ?? .text)
    }
}

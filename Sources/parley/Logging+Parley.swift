import Foundation
import Logging

extension Logger {
    /// A logger writing to standard error at `level` (trace … critical; default info).
    static func parley(label: String, level: String) -> Logger {
        var logger = Logger(label: label) { StandardErrorLogHandler(label: $0) }
        logger.logLevel = Logger.Level(rawValue: level) ?? .info
        return logger
    }
}

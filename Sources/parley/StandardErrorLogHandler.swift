import Foundation
import Logging
import ParleyJSON
import Synchronization

/// Writes log lines to standard error, each line whole under a process-wide lock (lines from
/// different threads never interleave): in swift-log's stream format
/// (`<time> <level> <label>: <key=value …> [<source>] <message>`), or as one JSON object a line
/// for log collectors (`--log-format json`). Unlike `StreamLogHandler`, which renders its metadata
/// into a string whenever the metadata changes, it renders metadata only when a line is written:
/// the HTTP server tags every request's logger with its request id, and at the default level
/// nearly none of them logs.
struct StandardErrorLogHandler: LogHandler {
    /// How a line looks.
    enum Format: String, CaseIterable, Sendable {
        /// `2026-12-01T05:08:20+0000 info parley.node: key=value [Source] message`.
        case text
        /// `{"time":"2026-12-01T05:08:20.123Z","level":"info","label":…,"source":…,"message":…,"metadata":{…}}`.
        case json
    }

    let label: String
    let format: Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String, format: Format = .text) {
        self.label = label
        self.format = format
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            all.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            all.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line: String
        switch format {
        case .text:
            let rendered = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
            line = "\(Self.timestamp()) \(event.level)\(label.isEmpty ? "" : " ")\(label):\(rendered) [\(event.source)] \(event.message)\n"
        case .json:
            line = #"{"time":\#(JSON.quote(Self.utcTimestamp())),"level":\#(JSON.quote(event.level.rawValue)),"#
                + #""label":\#(JSON.quote(label)),"source":\#(JSON.quote(event.source)),"#
                + #""message":\#(JSON.quote(event.message.description)),"metadata":\#(Self.json(.dictionary(all)))}"# + "\n"
        }
        Self.output.withLock { _ in
            line.withUTF8 { bytes in
                var rest = UnsafeRawBufferPointer(bytes)
                while !rest.isEmpty {
                    let written = write(STDERR_FILENO, rest.baseAddress, rest.count)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }  // Nowhere to log to: drop the line.
                    rest = UnsafeRawBufferPointer(rebasing: rest[written...])
                }
            }
        }
    }

    /// A metadata value as JSON: strings (and values that describe themselves) as strings, the
    /// rest as objects and arrays; object keys sorted.
    static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): JSON.quote(text)
        case .stringConvertible(let value): JSON.quote(value.description)
        case .dictionary(let entries):
            "{" + entries.sorted { $0.key < $1.key }.map { JSON.quote($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
        }
    }

    /// UTC with milliseconds, as `2026-12-01T05:08:20.123Z`.
    static func utcTimestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var utc = tm()
        guard gmtime_r(&seconds, &utc) != nil else { return "<unknown>" }
        let milliseconds = now.tv_nsec / 1_000_000
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(utc.tm_year) + 1900, Int(utc.tm_mon) + 1, Int(utc.tm_mday),
            Int(utc.tm_hour), Int(utc.tm_min), Int(utc.tm_sec), Int(milliseconds))
    }

    /// Held while a line is written.
    private static let output = Mutex(())

    /// Local time as `2026-12-01T05:08:20+0000`.
    static func timestamp() -> String {
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return "<unknown>" }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
            let count = strftime(buffer.baseAddress!, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &local)
            return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: count), as: UTF8.self)
        }
    }
}

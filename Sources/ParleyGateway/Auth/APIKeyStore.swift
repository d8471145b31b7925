import Foundation
import Synchronization

/// API keys from a keys file (`KEY USER-ID` per line, `#` comments, blank lines ignored) plus keys
/// given directly. The file is re-read when its modification time or size changes, checked at most
/// once per `reloadInterval` on lookup (no background task).
final class APIKeyStore: Sendable {
    struct Snapshot: Sendable {
        var keys: [String: String] = [:]
        var fileStamp: FileStamp?
        var checkedAt: ContinuousClock.Instant?
    }

    struct FileStamp: Hashable, Sendable {
        var modified: Date
        var size: Int
    }

    /// Thrown for a malformed keys file (the line number is 1-based).
    struct FileError: Error, CustomStringConvertible {
        var path: String
        var line: Int
        var reason: String
        var description: String { "\(path):\(line): \(reason)" }
    }

    let path: String?
    let fixedKeys: [String: String]
    let reloadInterval: Duration
    private let state: Mutex<Snapshot>

    /// Loads the file once; a missing or malformed file is an error at start.
    init(path: String?, fixedKeys: [String: String], reloadInterval: Duration) throws {
        self.path = path
        self.fixedKeys = fixedKeys
        self.reloadInterval = reloadInterval
        var snapshot = Snapshot(keys: fixedKeys)
        if let path {
            let (keys, stamp) = try Self.load(path)
            snapshot.keys.merge(keys) { old, _ in old }
            snapshot.fileStamp = stamp
            snapshot.checkedAt = .now
        }
        state = Mutex(snapshot)
    }

    /// Whether any key is configured at all.
    var isEmpty: Bool { state.withLock { $0.keys.isEmpty } }

    /// The user id of `key`, or nil.
    func user(for key: String, now: ContinuousClock.Instant = .now) -> String? {
        reloadIfChanged(now: now)
        return state.withLock { $0.keys[key] }
    }

    private func reloadIfChanged(now: ContinuousClock.Instant) {
        guard let path else { return }
        let due = state.withLock { snapshot -> Bool in
            if let checked = snapshot.checkedAt, checked.duration(to: now) < reloadInterval { return false }
            snapshot.checkedAt = now
            return true
        }
        guard due, let stamp = Self.stamp(path), stamp != state.withLock({ $0.fileStamp }) else { return }
        // A file being rewritten may be malformed for a moment: keep the old keys then.
        guard let (keys, newStamp) = try? Self.load(path) else { return }
        state.withLock {
            $0.keys = fixedKeys.merging(keys) { old, _ in old }
            $0.fileStamp = newStamp
        }
    }

    static func stamp(_ path: String) -> FileStamp? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let modified = attributes[.modificationDate] as? Date
        else { return nil }
        return FileStamp(modified: modified, size: (attributes[.size] as? NSNumber)?.intValue ?? 0)
    }

    static func load(_ path: String) throws -> ([String: String], FileStamp?) {
        let stamp = stamp(path)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return (try parse(text, path: path), stamp)
    }

    /// Parses `KEY USER-ID` lines.
    static func parse(_ text: String, path: String = "keys") throws -> [String: String] {
        var keys: [String: String] = [:]
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw FileError(path: path, line: number + 1, reason: "expected `KEY USER-ID`")
            }
            guard fields[0].utf8.count >= 8 else {
                throw FileError(path: path, line: number + 1, reason: "keys are at least 8 characters")
            }
            keys[String(fields[0])] = String(fields[1])
        }
        return keys
    }
}

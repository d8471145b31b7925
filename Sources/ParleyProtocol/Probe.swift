// TEMPORARY latency probe (not committed).
import Foundation
import Synchronization

public enum Probe {
    static let enabled = ProcessInfo.processInfo.environment["PARLEY_PROBE"] != nil
    static let every = Int(ProcessInfo.processInfo.environment["PARLEY_PROBE"] ?? "") ?? 200
    static let state = Mutex<(marks: [String: [(String, ContinuousClock.Instant)]], sums: [String: [Double]], n: Int)>(([:], [:], 0))
    public static func mark(_ name: String, _ id: String, at instant: ContinuousClock.Instant? = nil) {
        guard enabled else { return }
        let now = instant ?? ContinuousClock.now
        state.withLock { $0.marks[id, default: []].append((name, now)) }
    }
    public static func end(_ id: String) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let report: String? = state.withLock { s in
            guard var marks = s.marks.removeValue(forKey: id), let start = marks.first?.1 else { return nil }
            marks.append(("end", now))
            for (name, t) in marks {
                let d = start.duration(to: t)
                s.sums[name, default: []].append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
            }
            s.n += 1
            guard s.n % every == 0 else { return nil }
            var lines: [String] = []
            let order = s.sums.keys.sorted { (s.sums[$0]!.sorted()[s.sums[$0]!.count / 2]) < (s.sums[$1]!.sorted()[s.sums[$1]!.count / 2]) }
            for k in order {
                let v = s.sums[k]!.sorted()
                lines.append(String(format: "%-28@ p50 %7.3f p90 %7.3f ms (n %d)", k as NSString, v[v.count / 2], v[v.count * 9 / 10], v.count))
            }
            s.sums = [:]
            return lines.joined(separator: "\n")
        }
        if let report { FileHandle.standardError.write(("PROBE\n" + report + "\n").data(using: .utf8)!) }
    }
}

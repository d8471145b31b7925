import Foundation
import Histogram

/// The end-of-run table and JSON.
struct LoadReport {
    let stats: LoadStats.State
    let elapsed: Duration
    let users: Int
    let gateways: [String]
    let plan: LoadPlan
    /// The check of acknowledged stored answers (`--check-stored`).
    var stored: StoredAnswers.Outcome? = nil

    var seconds: Double { max(0.001, Self.seconds(elapsed)) }

    /// Any duplicated, missing or wrong token, or a stream without `[DONE]`, when verifying.
    var hasExactnessFaults: Bool {
        let v = stats.verification
        return plan.verify && (v.mismatched + v.duplicatedTokens + v.missingTokens + v.wrongLength + v.missingDone) > 0
    }

    func table() -> String {
        var lines: [String] = []
        lines.append(
            "\(users) users, \(gateways.count) gateway(s), \(Self.fixed(seconds, 1)) s, model \(plan.model), "
                + "\(plan.maxTokens.map(String.init) ?? "default") tokens per answer")
        lines.append("")
        lines.append(Self.row("", ["p50", "p90", "p99", "max", "count"]))
        for (name, histogram) in [
            ("time to first token (ms)", stats.timeToFirstToken), ("inter-token time (ms)", stats.interToken),
            ("total time (ms)", stats.total),
        ] {
            lines.append(Self.row(name, Self.percentiles(histogram).map(Self.ms) + [String(histogram.totalCount)]))
        }
        lines.append("")
        lines.append("streams: \(stats.completed) completed, \(stats.failed) failed, \(Self.fixed(Double(stats.completed) / seconds, 1)) completed/s")
        lines.append("tokens:  \(stats.tokens) received, \(Self.fixed(Double(stats.tokens) / seconds, 0)) tokens/s")
        if stats.errors.isEmpty {
            lines.append("errors:  none")
        } else {
            lines.append("errors:  " + stats.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            for (kind, example) in stats.errorExamples.sorted(by: { $0.key < $1.key }) {
                lines.append("  \(kind): \(example)")
            }
        }
        if let slowest = stats.slowestFirstTokens.first {
            lines.append("slowest first token: \(Self.ms(slowest.timeToFirstToken)) ms, \(Self.describe(slowest))")
        }
        let v = stats.verification
        if plan.verify {
            lines.append(
                "exactness: \(v.checked) streams checked; mismatched answers \(v.mismatched), duplicated tokens "
                    + "\(v.duplicatedTokens), missing tokens \(v.missingTokens), wrong length \(v.wrongLength), "
                    + "without [DONE] \(v.missingDone); \(v.resumes) resumes in \(v.resumedStreams) streams")
        }
        if let stored {
            lines.append("stored:  \(stored.checked) acknowledged answers read back, \(stored.lost) lost")
            lines.append(contentsOf: stored.examples.map { "  lost: \($0)" })
        }
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        func latency(_ histogram: Histogram<UInt64>) -> [String: Any] {
            let p = Self.percentiles(histogram).map { Double($0) / 1000 }
            return ["p50": p[0], "p90": p[1], "p99": p[2], "max": p[3], "count": histogram.totalCount]
        }
        let v = stats.verification
        var object: [String: Any] = [
            "users": users, "gateways": gateways, "model": plan.model, "max_tokens": plan.maxTokens as Any,
            "duration_s": seconds,
            "streams": [
                "started": stats.started, "completed": stats.completed, "failed": stats.failed,
                "per_second": Double(stats.completed) / seconds,
            ],
            "tokens": ["received": stats.tokens, "per_second": Double(stats.tokens) / seconds],
            "time_to_first_token_ms": latency(stats.timeToFirstToken),
            "inter_token_ms": latency(stats.interToken),
            "total_ms": latency(stats.total),
            "errors": stats.errors,
            "error_examples": stats.errorExamples,
            "slowest_first_tokens": stats.slowestFirstTokens.map {
                [
                    "ms": Double($0.timeToFirstToken) / 1000, "request_id": $0.requestID, "gateway": $0.gateway,
                    "sent_at": Self.timeOfDay($0.sentAt),
                ]
            },
        ]
        if plan.verify {
            object["verification"] = [
                "checked": v.checked, "mismatched_answers": v.mismatched, "duplicated_tokens": v.duplicatedTokens,
                "missing_tokens": v.missingTokens, "wrong_length": v.wrongLength, "missing_done": v.missingDone,
                "resumes": v.resumes, "resumed_streams": v.resumedStreams, "exact": !hasExactnessFaults,
            ]
        }
        if let stored {
            object["stored"] = ["checked": stored.checked, "lost": stored.lost, "examples": stored.examples]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A slow stream's request, gateway and sending time, for the table.
    static func describe(_ slow: LoadStats.SlowStart) -> String {
        "request \(slow.requestID) through \(slow.gateway), sent at \(timeOfDay(slow.sentAt))"
    }

    /// `HH:mm:ss.SSS` in UTC, as the cluster's logs and chaos lines print times.
    static func timeOfDay(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "HH:mm:ss.SSS"
        return formatter.string(from: date)
    }

    /// p50, p90, p99, max in microseconds (zeros when empty).
    static func percentiles(_ histogram: Histogram<UInt64>) -> [UInt64] {
        guard histogram.totalCount > 0 else { return [0, 0, 0, 0] }
        return [50.0, 90.0, 99.0].map { histogram.valueAtPercentile($0) } + [histogram.max]
    }

    static func row(_ name: String, _ cells: [String]) -> String {
        name.padding(toLength: 26, withPad: " ", startingAt: 0)
            + cells.map { String(repeating: " ", count: max(0, 10 - $0.count)) + $0 }.joined()
    }

    /// Microseconds as milliseconds with two decimals.
    static func ms(_ micros: UInt64) -> String { fixed(Double(micros) / 1000, 2) }

    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if text.hasSuffix(".0"), digits == 0 { text.removeLast(2) }
        if digits > 0 {
            let decimals = text.split(separator: ".").dropFirst().first?.count ?? 0
            if !text.contains(".") { text += "." }
            text += String(repeating: "0", count: max(0, digits - decimals))
        }
        return text
    }

    static func seconds(_ duration: Duration) -> Double {
        let (s, atto) = duration.components
        return Double(s) + Double(atto) / 1e18
    }
}

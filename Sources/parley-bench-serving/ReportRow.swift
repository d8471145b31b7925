/// One line of the benchmark's table.
struct ReportRow {
    var label: String
    var streams: Int
    var completedPerSecond: Double
    /// Milliseconds.
    var ttftP50: Double
    var ttftP99: Double
    var tokensPerSecond: Double
    /// Milliseconds of the gateway process's CPU per completed stream (all roles in all-in-one).
    var cpuPerStream: Double?
    var failed: Int
    /// Time to first token added to the in-process model's, p50 and p99, milliseconds.
    var added: (p50: Double, p99: Double)?

    static let header = pad("", 18) + pad("streams", 9) + pad("done/s", 10) + pad("TTFT p50", 10) + pad("TTFT p99", 10)
        + pad("+p50", 9) + pad("+p99", 9) + pad("tokens/s", 11) + pad("CPU/stream", 12) + pad("failed", 7)

    var line: String {
        Self.pad(label, 18, left: true) + Self.pad(String(streams), 9) + Self.pad(fixed(completedPerSecond, 1), 10)
            + Self.pad(fixed(ttftP50, 2) + "ms", 10) + Self.pad(fixed(ttftP99, 2) + "ms", 10)
            + Self.pad(added.map { fixed($0.p50, 2) + "ms" } ?? "-", 9)
            + Self.pad(added.map { fixed($0.p99, 2) + "ms" } ?? "-", 9) + Self.pad(fixed(tokensPerSecond, 0), 11)
            + Self.pad(cpuPerStream.map { fixed($0, 3) + "ms" } ?? "-", 12) + Self.pad(String(failed), 7)
    }

    static let goals = """
        Goals (issue 5): cluster adds ≤ 1 ms p50 and ≤ 5 ms p99 to time to first token at 64 streams; ≥ 3,000 completed \
        16-token streams/s all-in-one.
        For scale (issue 5): LiteLLM adds 19 ms at 1 stream, 1.3 s at 64; ~24 ms CPU per streamed request; ~16 streams/s per core.
        CPU/stream is the gateway process's CPU per completed stream (in all-in-one that process runs every role).
        "HTTP, no cluster" is the in-process model behind a bare Hummingbird SSE endpoint, driven by the same load
        generator: what HTTP and the client alone add (the cluster's own share is the difference to it).
        """

    static func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return left ? text + fill : fill + text
    }
}

func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "-" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if digits == 0 {
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
    let decimals = text.split(separator: ".").dropFirst().first?.count ?? 0
    if !text.contains(".") { text += "." }
    return text + String(repeating: "0", count: max(0, digits - decimals))
}

/// Groups an answer's tokens into generation-log writes, as a pure value: a batch is written when it
/// holds `maxTokens` tokens or when a token arrives `maxDelay` or later after the batch's first one
/// (and at the end). Event sequence numbers are token index + 1, so the log's ids match the SSE ids.
package struct GenerationLogBatcher<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// One write: texts of events `fromSeq`, `fromSeq + 1`, ….
    package struct Batch: Hashable, Sendable {
        package var fromSeq: Int64
        package var texts: [String]
    }

    package let maxTokens: Int
    package let maxDelay: Duration
    private var pending: [String] = []
    private var fromSeq: Int64 = 1
    private var oldest: Instant?

    package init(maxTokens: Int = 32, maxDelay: Duration = .milliseconds(250)) {
        self.maxTokens = max(1, maxTokens)
        self.maxDelay = maxDelay
    }

    /// Adds the token at `index`; answers a batch that is due now.
    package mutating func add(index: Int, text: String, now: Instant) -> Batch? {
        let seq = Int64(index) + 1
        var due: Batch?
        if !pending.isEmpty && seq != fromSeq + Int64(pending.count) {
            due = flush()  // not contiguous: write what is pending first
        }
        if pending.isEmpty {
            fromSeq = seq
            oldest = now
        }
        pending.append(text)
        if due == nil, pending.count >= maxTokens || (oldest.map { $0.duration(to: now) >= maxDelay } ?? false) {
            due = flush()
        }
        return due
    }

    /// Everything pending, if anything.
    package mutating func flush() -> Batch? {
        guard !pending.isEmpty else { return nil }
        defer {
            pending = []
            oldest = nil
        }
        return Batch(fromSeq: fromSeq, texts: pending)
    }

    /// The events a resumed request must log first: the log holds `lastSeq` events of `loggedBytes`
    /// bytes, the upstream already delivered `resume` (more tokens, when the previous node's last
    /// batch was lost). The missing text goes into the first missing event, the others stay empty,
    /// so the log's text and numbering match what the client received.
    package static func gapFill(lastSeq: Int64, loggedBytes: Int64, resumeTokens: Int, resumeText: String) -> Batch? {
        let missing = Int64(resumeTokens) - lastSeq
        guard missing > 0 else { return nil }
        let bytes = Array(resumeText.utf8)
        let tail = loggedBytes < bytes.count ? bytes[Int(max(0, loggedBytes))...] : []
        let text = String(decoding: tail, as: UTF8.self)
        return Batch(fromSeq: lastSeq + 1, texts: [text] + Array(repeating: "", count: Int(missing - 1)))
    }
}

import Logging
import ParleyCluster
import ParleyProtocol

/// Writes one run's generation log, batch by batch, and ends it with the last batch and the
/// answer in one write. A write that finds the log behind (its replica died before passing on the
/// last batches, and the write went to another one) sends again everything from the run's first
/// event: appends are idempotent by sequence number. After a write that fails even so, later
/// batches are dropped (they would leave a gap; the answer keeps what was logged).
struct GenerationLogWriter {
    let store: any HistoryStore
    let owner: String
    let requestID: String
    let timeout: Duration
    let logger: Logger
    private var logged = LoggedEvents()
    private var failed = false

    init(store: any HistoryStore, owner: String, requestID: String, timeout: Duration, logger: Logger) {
        self.store = store
        self.owner = owner
        self.requestID = requestID
        self.timeout = timeout
        self.logger = logger
    }

    mutating func write(_ batch: GenerationLogBatcher<ContinuousClock.Instant>.Batch) async {
        guard !failed else { return }
        logged.add(batch)
        do {
            try await append(batch)
        } catch {
            do {
                guard let all = logged.all, all.fromSeq < batch.fromSeq else { throw error }
                try await append(all)
                logger.info(
                    "generation log written again from its first event after a failed write",
                    metadata: ["request.id": "\(requestID)", "error": "\(error)"])
            } catch {
                failed = true
                logger.warning("generation log write failed", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
            }
        }
    }

    /// Logs `last` (if any) and stores the answer with `status`. Should that fail with the events,
    /// it is tried with every event of the run, then with none (the answer keeps what was logged).
    mutating func finish(_ last: GenerationLogBatcher<ContinuousClock.Instant>.Batch?, status: MessageStatus, usage: TokenUsage?) async {
        let last = failed ? nil : last
        if let last { logged.add(last) }
        var attempts = [last]
        if let last, let all = logged.all, all.fromSeq < last.fromSeq { attempts.append(all) }
        if last != nil { attempts.append(nil) }
        var failure: (any Error)?
        for events in attempts {
            do {
                try await store(events, status: status, usage: usage)
                if let failure {
                    logger.info(
                        "answer stored after a failed write", metadata: ["request.id": "\(requestID)", "error": "\(failure)"])
                }
                return
            } catch {
                failure = error
            }
        }
        logger.warning("storing the answer failed", metadata: ["request.id": "\(requestID)", "error": "\(failure.map { "\($0)" } ?? "-")"])
    }

    private func store(_ events: GenerationLogBatcher<ContinuousClock.Instant>.Batch?, status: MessageStatus, usage: TokenUsage?)
        async throws
    {
        let (store, owner, requestID) = (store, owner, requestID)
        try await ClusterSystem.withCallTimeout(timeout) {
            try await store.finishGeneration(
                owner: owner, requestID: requestID, appending: events?.texts ?? [], fromSeq: events?.fromSeq ?? 1,
                status: status, usage: usage)
        }
    }

    private func append(_ batch: GenerationLogBatcher<ContinuousClock.Instant>.Batch) async throws {
        let (store, owner, requestID) = (store, owner, requestID)
        try await ClusterSystem.withCallTimeout(timeout) {
            try await store.appendGenerationEvents(owner: owner, requestID: requestID, fromSeq: batch.fromSeq, texts: batch.texts)
        }
    }
}

/// The events one run logged, in order: `all` is every one of them as a single batch (nil when
/// the run's batches were not contiguous, so nothing could be sent again whole).
struct LoggedEvents {
    private var first: Int64?
    private var texts: [String] = []
    private var contiguous = true

    mutating func add(_ batch: GenerationLogBatcher<ContinuousClock.Instant>.Batch) {
        guard let first else {
            self.first = batch.fromSeq
            texts = batch.texts
            return
        }
        let next = first + Int64(texts.count)
        if batch.fromSeq == next {
            texts += batch.texts
        } else if batch.fromSeq < next {
            // Overlaps what is held (a gap fill): keep the held texts, add what goes beyond them.
            let skip = Int(next - batch.fromSeq)
            if skip < batch.texts.count { texts += batch.texts[skip...] }
        } else {
            contiguous = false
        }
    }

    var all: GenerationLogBatcher<ContinuousClock.Instant>.Batch? {
        guard contiguous, let first else { return nil }
        return .init(fromSeq: first, texts: texts)
    }
}

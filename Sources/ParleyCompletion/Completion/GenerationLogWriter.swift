import Logging
import ParleyCluster
import ParleyProtocol

/// Writes one run's generation log, batch by batch, and ends it with the last batch and the
/// answer in one write. A write that finds the log behind (its replica died before passing on the
/// last batches, and the write went to another one) sends again everything from the run's first
/// event: appends are idempotent by sequence number. After a write that fails even so, later
/// batches are only kept (written alone they would leave a gap): the end sends every event at once.
/// An end that the store refuses for a passing reason (its disk is full, no replica answers) can be
/// tried again for a while (``retryFinish(status:usage:within:firstDelay:)``).
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
        logged.add(batch)
        guard !failed else { return }
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

    /// Tells the store the run is alive without logging anything (an empty append), so its orphan
    /// sweep leaves a run whose model is still computing a long prompt alone. A failure is only logged.
    func keepAlive() async {
        do {
            try await append(.init(fromSeq: 1, texts: []))
        } catch {
            logger.debug("generation keep-alive failed", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
        }
    }

    /// Logs `last` (if any) and stores the answer with `status`. Should that fail with the events,
    /// it is tried with every event of the run, then with none (the answer keeps what was logged).
    /// After a failed log write, it starts with every event. Answers the last failure, nil once
    /// the answer is stored.
    @discardableResult
    mutating func finish(_ last: GenerationLogBatcher<ContinuousClock.Instant>.Batch?, status: MessageStatus, usage: TokenUsage?)
        async -> (any Error)?
    {
        if let last { logged.add(last) }
        var attempts: [GenerationLogBatcher<ContinuousClock.Instant>.Batch?] = failed ? [] : [last]
        if let all = logged.all, failed || (last.map { all.fromSeq < $0.fromSeq } ?? false) { attempts.append(all) }
        if !attempts.contains(where: { $0 == nil }) { attempts.append(nil) }  // last: what was logged
        var failure: (any Error)?
        for events in attempts {
            do {
                try await store(events, status: status, usage: usage)
                if let failure {
                    logger.info(
                        "answer stored after a failed write", metadata: ["request.id": "\(requestID)", "error": "\(failure)"])
                }
                return nil
            } catch {
                failure = error
            }
        }
        logger.warning("storing the answer failed", metadata: ["request.id": "\(requestID)", "error": "\(failure.map { "\($0)" } ?? "-")"])
        return failure
    }

    /// Tries again to store the answer with every event of the run, at growing intervals from
    /// `firstDelay` (at most 5 s apart) for at most `window`, while the store's refusal is a passing
    /// one (``isPassing(_:)``): a disk that fills mid-answer and has room again within the window
    /// loses nothing. Keep `window` under the store's orphan timeout (60 s), after which the store
    /// itself ends the run with what was logged. Answers whether the answer is stored.
    mutating func retryFinish(
        status: MessageStatus, usage: TokenUsage?, within window: Duration, firstDelay: Duration = .milliseconds(500)
    ) async -> Bool {
        let deadline = ContinuousClock.now + window
        var delay = firstDelay
        while ContinuousClock.now + delay < deadline {
            do {
                try await Task.sleep(for: delay)
            } catch {
                return false
            }
            do {
                try await store(logged.all, status: status, usage: usage)
                logger.notice("answer stored on a later try", metadata: ["request.id": "\(requestID)"])
                return true
            } catch where Self.isPassing(error) {
                delay = min(delay * 2, .seconds(5))
            } catch {
                break
            }
        }
        logger.error(
            "the answer could not be stored; the store keeps what was logged", metadata: ["request.id": "\(requestID)"])
        return false
    }

    /// Whether a store's refusal may pass: its disk is full or failed, or no replica could be reached.
    static func isPassing(_ error: any Error) -> Bool {
        switch error {
        case let error as ConversationError: passingCodes.contains(error.code.rawValue)
        case let error as ClusterError: passingCodes.contains(error.code.rawValue)
        case let error as ServingError: passingCodes.contains(error.code)
        default: false
        }
    }

    /// The codes of the refusals ``isPassing(_:)`` accepts.
    private static let passingCodes: Set<String> = [
        ConversationError.Code.storageFull.rawValue, ConversationError.Code.storageFailure.rawValue,
        ServingError.storeUnavailable, ClusterError.Code.nodeDown.rawValue, ClusterError.Code.timedOut.rawValue,
        ClusterError.Code.actorNotFound.rawValue, ClusterError.Code.shutDown.rawValue,
        ClusterError.Code.overloaded.rawValue,
    ]

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

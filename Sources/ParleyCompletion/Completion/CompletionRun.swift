import Logging
import ParleyCluster
import ParleyProtocol

/// One request being relayed by a completion node: the pump task forwards the worker pool's events
/// to the caller (with failover, ``FailoverStream``) and hands token batches to the recorder task,
/// which writes the generation log, stores the final answer and releases the rate-limit slot.
///
/// Only the pump is cancelled (by `cancel(requestID:)` or by the caller going away); the recorder
/// always runs to the end, so a cancelled answer is still stored, marked `cancelled`. The caller's
/// `finished` event comes from the recorder once the answer is stored: an answer that ended with
/// `[DONE]` at the client is in the history.
struct CompletionRun: Sendable {
    /// What the pump tells the recorder.
    enum Record: Sendable {
        case tokens(GenerationLogBatcher<ContinuousClock.Instant>.Batch)
        /// The run is over: store the answer, then send the caller `finished` (or the failure).
        case end(MessageStatus, usage: TokenUsage?, tokens: Int, finished: CompletionEvent?, failure: (any Error)?)
    }

    let request: CompletionRequest
    let started: CompletionEvent
    let events: FailoverStream
    /// Where the generation log goes; nil when no store is reachable.
    let store: (any HistoryStore)?
    /// Events to log before the first token (a resumed request whose last batch was lost).
    let gapFill: GenerationLogBatcher<ContinuousClock.Instant>.Batch?
    let configuration: CompletionConfiguration
    let rateLimits: RateLimitClient
    let registry: RunRegistry
    /// The node's activity counters (role `completion`).
    let activity: NodeActivity
    let logger: Logger

    /// Starts the pump and the recorder; the returned stream carries the events to the caller.
    func start() -> AsyncThrowingStream<CompletionEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: CompletionEvent.self)
        let (records, recordContinuation) = AsyncStream.makeStream(of: Record.self)
        if let gapFill { recordContinuation.yield(.tokens(gapFill)) }
        let pump = Task { await self.pump(continuation, records: recordContinuation) }
        continuation.onTermination = { termination in
            if case .cancelled = termination { pump.cancel() }
        }
        registry.attach(request.requestID, pump: pump)
        Task { await self.record(records, continuation) }
        return stream
    }

    /// Relays the events; ends with `finished` (a cancelled run with `finished(.cancelled)`), or throws
    /// the error that ended it.
    private func pump(
        _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation,
        records: AsyncStream<Record>.Continuation
    ) async {
        activity.streamStarted(role: "completion")
        defer { activity.streamEnded(role: "completion") }
        let clock = ContinuousClock()
        var batcher = GenerationLogBatcher<ContinuousClock.Instant>(
            maxTokens: configuration.logBatchTokens, maxDelay: configuration.logBatchDelay)
        var iterator = events.makeAsyncIterator()
        var status = MessageStatus.interrupted
        var tokens = 0
        var usage: TokenUsage?
        var failure: (any Error)?
        var finished: CompletionEvent?
        // `started` goes out with the first event from the worker, so a request refused downstream
        // (no worker, queue full) fails before any event and the caller can answer with a status.
        var announced = false
        func announce() {
            if !announced { continuation.yield(started) }
            announced = true
        }
        do {
            while let event = try await iterator.next() {
                announce()
                switch event {
                case .token(let index, let text):
                    continuation.yield(.token(index: index, text: text))
                    activity.recordTokens(1, role: "completion")
                    if store != nil, let batch = batcher.add(index: index, text: text, now: clock.now) {
                        records.yield(.tokens(batch))
                    }
                case .finished(let reason, let final):
                    status = reason == .cancelled ? .cancelled : .complete
                    usage = final
                    tokens = final.totalTokens
                    finished = .finished(reason, final)
                }
            }
        } catch {
            if Task.isCancelled || error is CancellationError || (error as? ClusterError)?.code == .cancelled {
                status = .cancelled
                announce()
                finished = .finished(.cancelled, TokenUsage(promptTokens: 0, completionTokens: iterator.tokenCount))
            } else {
                failure = error
                logger.warning(
                    "completion failed", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
            }
        }
        if tokens == 0 { tokens = iterator.tokenCount }
        if let batch = batcher.flush() { records.yield(.tokens(batch)) }
        records.yield(.end(status, usage: usage, tokens: tokens, finished: finished, failure: failure))
        records.finish()
    }

    /// Writes the log in order, then the final answer; releases the rate limit and the run's id.
    private func record(
        _ records: AsyncStream<Record>, _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation
    ) async {
        let owner = request.userID
        let requestID = request.requestID
        var logFailed = false
        // Every event this run logged, so a write that finds the log behind (its replica died
        // before passing on the last batches, and the write went to another one) can send again
        // everything from this run's first event: appends are idempotent by sequence number.
        var logged = LoggedEvents()
        for await record in records {
            switch record {
            case .tokens(let batch):
                guard let store, !logFailed else { continue }
                logged.add(batch)
                do {
                    try await ClusterSystem.withCallTimeout(configuration.storeCallTimeout) {
                        try await store.appendGenerationEvents(
                            owner: owner, requestID: requestID, fromSeq: batch.fromSeq, texts: batch.texts)
                    }
                } catch {
                    do {
                        guard let all = logged.all, all.fromSeq < batch.fromSeq else { throw error }
                        try await ClusterSystem.withCallTimeout(configuration.storeCallTimeout) {
                            try await store.appendGenerationEvents(
                                owner: owner, requestID: requestID, fromSeq: all.fromSeq, texts: all.texts)
                        }
                        logger.info(
                            "generation log written again from its first event after a failed write",
                            metadata: ["request.id": "\(requestID)", "error": "\(error)"])
                    } catch {
                        logFailed = true  // later batches would leave a gap; the answer keeps what was logged
                        logger.warning(
                            "generation log write failed", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
                    }
                }
            case .end(let status, let usage, let tokens, let finished, let failure):
                if let store {
                    do {
                        try await ClusterSystem.withCallTimeout(configuration.storeCallTimeout) {
                            try await store.finishGeneration(owner: owner, requestID: requestID, status: status, usage: usage)
                        }
                    } catch {
                        logger.warning(
                            "storing the answer failed", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
                    }
                }
                if let finished { continuation.yield(finished) }
                continuation.finish(throwing: failure)
                await rateLimits.release(userID: owner, requestID: requestID, tokens: tokens)
                registry.remove(requestID)
            }
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

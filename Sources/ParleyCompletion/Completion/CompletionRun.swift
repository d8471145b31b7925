import Logging
import ParleyCluster
import ParleyProtocol

/// One request being relayed by a completion node: the pump task forwards the worker pool's events
/// to the caller (with failover, ``FailoverStream``) and hands token batches to the recorder task,
/// which writes the generation log, stores the final answer and releases the rate-limit slot.
///
/// The turn is stored (`settle`) while the worker pool starts the model; the first event goes to
/// the caller only once it is, so no token is seen before its question is stored. A turn that
/// cannot be stored cancels the pump and fails the run with the store's error, before any event.
///
/// Only the pump is cancelled (by `cancel(requestID:)` or by the caller going away); the recorder
/// always runs to the end, so a cancelled answer is still stored, marked `cancelled`. The caller's
/// `finished` event comes from the recorder once the answer is stored: an answer that ended with
/// `[DONE]` at the client is in the history — unless the store refused it for a passing reason (a
/// full disk, no reachable replica): then the recorder tries again for a while after `finished`.
struct CompletionRun: Sendable {
    /// What the pump tells the recorder.
    enum Record: Sendable {
        case tokens(GenerationLogBatcher<ContinuousClock.Instant>.Batch)
        /// The run is over: log the last batch and store the answer (one write), then send the caller
        /// `finished` (or the failure).
        case end(
            MessageStatus, usage: TokenUsage?, tokens: Int, last: GenerationLogBatcher<ContinuousClock.Instant>.Batch?,
            finished: CompletionEvent?, failure: (any Error)?, announced: Bool)
        /// The node's keep-alive tick: tell the store the run is alive if nothing was written lately.
        case keepAlive
    }

    let request: CompletionRequest
    /// The user's rate-limit standing after this request, for `started` (nil for a resubmission).
    let rateLimit: RateLimitDecision?
    /// Stores the turn; awaited before the first event goes out.
    let settle: @Sendable () async throws -> SettledTurn
    let events: FailoverStream
    let configuration: CompletionConfiguration
    let rateLimits: RateLimitClient
    let registry: RunRegistry
    /// The node's activity counters (role `completion`).
    let activity: NodeActivity
    let logger: Logger

    /// Starts the turn's storing, opens the worker stream (in the caller's task, so the model starts
    /// without waiting for a new task to be scheduled), then starts the pump and the recorder; the
    /// returned stream carries the events to the caller.
    ///
    /// The three tasks outlive the call that started them, so they drop its deadline
    /// (`withoutCallDeadline`): an answer longer than the caller's wait for `complete` must still
    /// fail over and be logged and stored.
    func start() async -> AsyncThrowingStream<CompletionEvent, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: CompletionEvent.self)
        let (records, recordContinuation) = AsyncStream.makeStream(of: Record.self)
        let (settle, registry, request) = (self.settle, self.registry, self.request)
        let settlement = Task {
            do {
                return try await ClusterSystem.withoutCallDeadline { try await settle() }
            } catch {
                // The pump may be waiting for the model's first token: stop it, the run fails.
                _ = registry.cancel(request.requestID, userID: request.userID)
                throw error
            }
        }
        var iterator = events.makeAsyncIterator()
        let opened: Result<Void, any Error>
        do {
            try await iterator.open()
            opened = .success(())
        } catch {
            opened = .failure(error)
        }
        let pump = Task { [iterator] in
            await ClusterSystem.withoutCallDeadline {
                await self.pump(
                    continuation, records: recordContinuation, settlement: settlement, iterator: iterator, opened: opened)
            }
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { pump.cancel() }
        }
        registry.attach(request.requestID, pump: pump, keepAlive: { recordContinuation.yield(.keepAlive) })
        Task { await ClusterSystem.withoutCallDeadline { await self.record(records, continuation, settlement: settlement) } }
        return stream
    }

    /// Relays the events; ends with `finished` (a cancelled run with `finished(.cancelled)`), or throws
    /// the error that ended it.
    private func pump(
        _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation,
        records: AsyncStream<Record>.Continuation, settlement: Task<SettledTurn, any Error>,
        iterator: FailoverStream.Iterator, opened: Result<Void, any Error>
    ) async {
        activity.streamStarted(role: "completion")
        defer { activity.streamEnded(role: "completion") }
        let clock = ContinuousClock()
        var batcher = GenerationLogBatcher<ContinuousClock.Instant>(
            maxTokens: configuration.logBatchTokens, maxDelay: configuration.logBatchDelay)
        var iterator = iterator
        var status = MessageStatus.interrupted
        var tokens = 0
        var usage: TokenUsage?
        var failure: (any Error)?
        var finished: CompletionEvent?
        var logging = false
        // `started` goes out with the first event from the worker, once the turn is stored, so a
        // request refused downstream (no worker, queue full) or by the store fails before any event
        // and the caller can answer with a status.
        var announced = false
        func announce(_ settled: SettledTurn) {
            if !announced {
                continuation.yield(
                    .started(
                        conversationID: settled.conversationID, userMessageID: settled.userMessageID,
                        assistantMessageID: settled.assistantMessageID, rateLimit: rateLimit))
                logging = settled.store != nil
            }
            announced = true
        }
        do {
            try opened.get()
            while let event = try await iterator.next() {
                if !announced { announce(try await settlement.value) }
                switch event {
                case .prompt(let computed, let total):
                    continuation.yield(.prompt(computed: computed, of: total))
                case .token(let index, let text, let logprobs):
                    continuation.yield(.token(index: index, text: text, logprobs: logprobs))
                    activity.recordTokens(1, role: "completion")
                    if logging, let batch = batcher.add(index: index, text: text, now: clock.now) {
                        records.yield(.tokens(batch))
                    }
                case .finished(let reason, let final):
                    status = MessageStatus(finishedBy: reason)
                    usage = final
                    tokens = final.totalTokens
                    finished = .finished(reason, final)
                }
            }
        } catch {
            if case .failure(let storeError) = await settlement.result {
                failure = storeError  // the turn could not be stored: nothing went out, nothing is logged
            } else if Task.isCancelled || error is CancellationError || (error as? ClusterError)?.code == .cancelled {
                status = .cancelled
                if let settled = try? await settlement.value { announce(settled) }
                finished = .finished(.cancelled, TokenUsage(promptTokens: 0, completionTokens: iterator.tokenCount))
            } else {
                failure = error
                logger.warning(
                    "completion failed", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
            }
        }
        if tokens == 0 { tokens = iterator.tokenCount }
        records.yield(
            .end(
                status, usage: usage, tokens: tokens, last: batcher.flush(), finished: finished, failure: failure,
                announced: announced))
        records.finish()
    }

    /// Writes the log in order, then the final answer; releases the rate limit and the run's id.
    private func record(
        _ records: AsyncStream<Record>, _ continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation,
        settlement: Task<SettledTurn, any Error>
    ) async {
        // A turn that could not be stored logs nothing (the pump fails the run).
        let settled = try? await settlement.value
        let store = settled?.store
        let owner = request.userID
        let requestID = request.requestID
        var log = store.map {
            GenerationLogWriter(
                store: $0, owner: owner, requestID: requestID, timeout: configuration.storeCallTimeout, logger: logger)
        }
        // A resumed request whose last batch was lost logs the missing events first.
        if let gapFill = settled?.gapFill { await log?.write(gapFill) }
        var lastWrite = ContinuousClock.now
        for await record in records {
            switch record {
            case .keepAlive:
                // A run silent this long (a long prompt still computing) would look abandoned to the store.
                guard lastWrite.duration(to: .now) >= configuration.logKeepAliveInterval / 2 else { continue }
                lastWrite = .now
                await log?.keepAlive()
            case .tokens(let batch):
                lastWrite = .now
                await log?.write(batch)
            case .end(let status, let usage, let tokens, let last, let finished, let failure, let announced):
                let storeFailure = await log?.finish(last, status: status, usage: usage)
                if let failure, !announced, let settled, let store, Self.isRefusal(failure) {
                    await takeBack(settled, from: store)
                }
                if let finished { continuation.yield(finished) }
                continuation.finish(throwing: failure)
                await rateLimits.release(userID: owner, requestID: requestID, tokens: tokens)
                registry.remove(requestID)
                // The caller has its answer; the store gets it when it can (its disk had no room).
                if let storeFailure, GenerationLogWriter.isPassing(storeFailure) {
                    _ = await log?.retryFinish(status: status, usage: usage, within: configuration.answerStoreRetryWindow)
                }
            }
        }
    }

    /// Whether `error` refuses the request itself, so every attempt would fail the same way (an
    /// invalid request, an unknown model) — unlike a full queue or a dead node.
    static func isRefusal(_ error: any Error) -> Bool {
        let code = ServingError.code(of: error)
        return code == ServingError.invalidRequest || code == ServingError.modelNotFound
    }

    /// Takes back a turn refused before its answer started, before the caller hears of the refusal:
    /// a new chat goes whole, a continued chat loses the messages this request stored.
    private func takeBack(_ settled: SettledTurn, from store: any HistoryStore) async {
        let (owner, requestID) = (request.userID, request.requestID)
        do {
            try await ClusterSystem.withCallTimeout(configuration.storeCallTimeout) {
                if settled.startedNewChat, let conversationID = settled.conversationID {
                    try await store.discardNewChat(owner: owner, conversationID: conversationID)
                } else if settled.assistantMessageID != nil {
                    try await store.withdrawTurn(owner: owner, requestID: requestID, storedMessages: request.messages.count)
                }
            }
        } catch {
            logger.warning(
                "a refused request's turn could not be taken back",
                metadata: ["request.id": "\(requestID)", "conversation.id": "\(settled.conversationID ?? "-")", "error": "\(error)"])
        }
    }
}

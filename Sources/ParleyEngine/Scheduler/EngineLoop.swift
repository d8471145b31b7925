import Foundation
import Synchronization

/// The compute thread of an ``Engine``: takes submitted requests, asks the ``BatchPlanner`` what to
/// run, runs one ``ForwardPass`` step for all admitted sequences together, samples, and streams the
/// results. Submissions and cancellations arrive through a lock-protected inbox between steps.
///
/// `@unchecked Sendable`: `inbox` is only touched with `condition` locked; every other stored
/// property is used only by the compute thread (``run()``), after `init`.
final class EngineLoop: @unchecked Sendable {
    private struct Inbox {
        var submitted: [PendingRequest] = []
        var cancelled: [Int] = []
        var stopping = false
        var nextID = 0
    }

    private let condition = NSCondition()
    private var inbox = Inbox()
    private let forward: ForwardPass
    private let tokenizer: Tokenizer
    private var planner: BatchPlanner
    private var pending: [Int: PendingRequest] = [:]
    private var active: [Int: ActiveSequence] = [:]
    private var prefixCache: PrefixCache
    private let clock = ContinuousClock()
    private let abandoned = Atomic<Int>(0)

    /// Steps stopped part-way because every sequence in them was cancelled meanwhile.
    var abandonedSteps: Int { abandoned.load(ordering: .relaxed) }

    init(forward: ForwardPass, tokenizer: Tokenizer, prefixCachePositions: Int, planner: BatchPlanner.Configuration) {
        self.forward = forward
        self.tokenizer = tokenizer
        self.prefixCache = PrefixCache(maxPositions: prefixCachePositions)
        self.planner = BatchPlanner(configuration: planner)
    }

    /// A fresh request id.
    func makeID() -> Int {
        condition.lock()
        defer { condition.unlock() }
        inbox.nextID += 1
        return inbox.nextID
    }

    /// Hands a validated request to the compute thread; finishes it at once if the engine stopped.
    func submit(_ request: PendingRequest) {
        condition.lock()
        if inbox.stopping {
            condition.unlock()
            request.continuation.finish(throwing: EngineError(.engineStopped, "the engine has been shut down"))
            return
        }
        inbox.submitted.append(request)
        condition.signal()
        condition.unlock()
    }

    /// Drops a request before the next step (its consumer went away).
    func cancel(_ id: Int) {
        condition.lock()
        inbox.cancelled.append(id)
        condition.signal()
        condition.unlock()
    }

    /// Asks the loop to end every request with `.cancelled` and return.
    func stop() {
        condition.lock()
        inbox.stopping = true
        condition.signal()
        condition.unlock()
    }

    /// The loop; returns after ``stop()``.
    func run() {
        while true {
            condition.lock()
            // With nothing active every pending request fits (larger ones were refused), so the loop
            // sleeps only when there is nothing at all to do.
            while inbox.submitted.isEmpty && inbox.cancelled.isEmpty && !inbox.stopping
                && active.isEmpty && pending.isEmpty
            {
                condition.wait()
            }
            let submitted = inbox.submitted, cancelled = inbox.cancelled, stopping = inbox.stopping
            inbox.submitted = []
            inbox.cancelled = []
            condition.unlock()

            if stopping {
                for sequence in active.values { sequence.continuation.yield(.finished(sequence.summary(.cancelled))) }
                for sequence in active.values { sequence.continuation.finish() }
                for request in pending.values {
                    request.continuation.finish(throwing: EngineError(.engineStopped, "the engine has been shut down"))
                }
                for request in submitted {
                    request.continuation.finish(throwing: EngineError(.engineStopped, "the engine has been shut down"))
                }
                active = [:]
                pending = [:]
                return
            }
            for id in cancelled { drop(id) }
            for request in submitted { accept(request) }
            let now = clock.now
            for id in planner.admit() {
                guard let request = pending.removeValue(forKey: id) else { continue }
                let (cache, reused) = makeCache(for: request)
                let sequence = ActiveSequence(request: request, cache: cache, tokenizer: tokenizer, now: now)
                sequence.processed = reused
                sequence.reused = reused
                active[id] = sequence
            }
            if !active.isEmpty { step() }
        }
    }

    /// Whether every one of `ids` was cancelled (or the engine is stopping) since the step began.
    private func allCancelled(_ ids: [Int]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return inbox.stopping || ids.allSatisfy(inbox.cancelled.contains)
    }

    private func accept(_ request: PendingRequest) {
        switch planner.submit(id: request.id, reservation: request.reservation) {
        case .queued:
            pending[request.id] = request
        case .rejected:
            request.continuation.finish(
                throwing: EngineError(
                    .exceedsCapacity,
                    "the request needs \(request.reservation) KV-cache positions (prompt \(request.prompt.count) + "
                        + "max tokens \(request.maxTokens)); the engine's budget is \(planner.configuration.kvBudget)"))
        }
    }

    private func drop(_ id: Int) {
        planner.remove(id: id)
        pending.removeValue(forKey: id)
        if let sequence = active.removeValue(forKey: id) { keep(sequence) }
    }

    /// A cache for `request`, holding as much of its prompt as the prefix cache has (the count).
    private func makeCache(for request: PendingRequest) -> (KVCache, Int) {
        let model = forward.model
        func fresh() -> KVCache {
            model.makeCache(capacity: request.reservation)
        }
        guard let (kept, reused) = prefixCache.take(matching: request.prompt) else { return (fresh(), 0) }
        // Reused in place when it fits and is not much larger than the planner reserved for it.
        if kept.capacity >= request.reservation && kept.capacity <= 2 * request.reservation {
            kept.count = reused
            return (kept, reused)
        }
        let cache = fresh()
        kept.copyPrefix(reused, into: cache)
        return (cache, reused)
    }

    /// Offers an ended sequence's cache to the prefix cache: its positions hold the prompt and the
    /// generated tokens fed back so far, in order.
    private func keep(_ sequence: ActiveSequence) {
        let count = sequence.cache.count
        guard count > 0 else { return }
        let tokens = Array((sequence.prompt + sequence.generated).prefix(count))
        prefixCache.insert(tokens: tokens, cache: sequence.cache)
    }

    private func finish(_ sequence: ActiveSequence, _ reason: FinishReason) {
        sequence.continuation.yield(.finished(sequence.summary(reason)))
        sequence.continuation.finish()
        drop(sequence.id)
    }

    /// One forward pass for every admitted sequence, then sampling and streaming.
    private func step() {
        let slices = planner.plan(remainingPrompt: active.mapValues(\.remainingPrompt))
        var tokens: [ForwardPass.Token] = []
        var wanting: [ActiveSequence] = []
        // Sequences whose prompt this step computes a part of, not the last: they report progress.
        var reading: [ActiveSequence] = []
        for slice in slices {
            guard let sequence = active[slice.id] else { continue }
            if sequence.remainingPrompt == 0 {
                let position = sequence.cache.count
                tokens.append(.init(id: sequence.generated.last!, position: position, cache: sequence.cache, wantsLogits: true))
                wanting.append(sequence)
            } else {
                let start = sequence.processed
                for i in start..<start + slice.count {
                    let last = i == sequence.prompt.count - 1
                    tokens.append(.init(id: sequence.prompt[i], position: i, cache: sequence.cache, wantsLogits: last))
                    if last { wanting.append(sequence) }
                }
                sequence.processed += slice.count
                if sequence.remainingPrompt > 0 {
                    reading.append(sequence)
                    // The first part (it starts after what the prefix cache held) begins now: say so at
                    // once (a client shows 0%, not silence).
                    if start == sequence.reused {
                        sequence.continuation.yield(.prompt(computed: start, of: sequence.prompt.count))
                    }
                }
            }
        }
        // A long prompt's step takes seconds: when every sequence in it is cancelled meanwhile (the
        // person pressed Stop, the client went away) it stops at the next layer.
        let ids = slices.map(\.id)
        guard var logits = forward.run(tokens, unless: { self.allCancelled(ids) }) else {
            abandoned.add(1, ordering: .relaxed)
            return
        }
        for sequence in reading {
            sequence.continuation.yield(.prompt(computed: sequence.processed, of: sequence.prompt.count))
        }
        // Sampling touches only its own sequence, so the sequences sample in parallel.
        var chosen = [Int32](repeating: 0, count: wanting.count)
        var scored = [TokenLogprobs?](repeating: nil, count: wanting.count)
        chosen.withUnsafeMutableBufferPointer { chosen in
            scored.withUnsafeMutableBufferPointer { scored in
                logits.withUnsafeMutableBufferPointer { logits in
                    nonisolated(unsafe) let chosen = chosen, scored = scored, logits = logits
                    forward.pool.parallelFor(wanting.count) { i in
                        let sequence = wanting[i]
                        let window = sequence.sampler.parameters.repetitionWindow
                        // The sampler changes the logits it is given: the model's own distribution
                        // is read from them first.
                        let distribution = sequence.logprobs.map { LogprobDistribution(logits[i], top: $0) }
                        chosen[i] = sequence.sampler.sample(&logits[i], recent: sequence.recentTokens(window))
                        scored[i] = distribution?.logprobs(of: chosen[i])
                    }
                }
            }
        }
        let now = clock.now
        for i in wanting.indices {
            emit(wanting[i], token: chosen[i], logprobs: scored[i], now: now)
        }
    }

    private func emit(_ sequence: ActiveSequence, token: Int32, logprobs: TokenLogprobs?, now: ContinuousClock.Instant) {
        sequence.generated.append(token)
        if sequence.firstTokenAt == nil { sequence.firstTokenAt = now }
        sequence.lastTokenAt = now

        var reason: FinishReason?
        var text = ""
        // The answer ends here and nothing of it may stay held back (a stop string's ending does
        // hold back: the stop string is left out).
        var flushes = false
        if tokenizer.endOfGenerationIDs.contains(token) {
            reason = .stop
            flushes = true
        } else {
            let (released, stopped) = sequence.stopMatcher.append(sequence.decoder.append(token))
            text = released
            if stopped {
                reason = .stop
            } else if sequence.sampler.constraint?.isComplete == true {
                // JSON mode: the object is closed, and so is the answer.
                reason = .stop
                flushes = true
            } else if sequence.generated.count >= sequence.maxTokens
                || sequence.cache.count + 1 > sequence.cache.capacity
            {
                reason = .length
                flushes = true
            }
        }
        if flushes {
            let tail = sequence.stopMatcher.append(sequence.decoder.finish())
            text += tail.text + sequence.stopMatcher.flush()
        }
        let result = sequence.continuation.yield(.token(GeneratedToken(id: token, text: text, logprobs: logprobs)))
        if case .terminated = result {
            drop(sequence.id)
            return
        }
        if let reason { finish(sequence, reason) }
    }
}

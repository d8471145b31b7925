import DequeModule
package import ParleyProtocol

/// The slots and the waiting line of one worker pool as a pure value; time is passed in.
///
/// Each model has a number of slots. A request runs at once when its model has a free slot and
/// nobody waits for it; otherwise it waits in a bounded line, or is refused when the line is full.
/// Whenever a slot frees, the next request is chosen by priority first (every waiting `interactive`
/// request before any `batch` one) and then round-robin over the users waiting at that priority,
/// each user's own requests in arrival order — so one user's burst cannot starve the others. A
/// request that waited longer than the maximum wait is refused (``expire(now:)``), so no request
/// hangs. Retry hints come from the measured time a generation holds a slot.
package struct WorkQueue<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Identifies one request in the pool.
    package typealias Ticket = UInt64

    /// The answer to ``enqueue(_:model:userID:priority:now:)``.
    package enum Admission: Hashable, Sendable {
        /// A slot is granted: run now.
        case run
        /// The request waits; a later ``finish(_:now:)`` or ``expire(now:)`` decides it.
        case queued
        /// The line is full: refuse, retry after the hint.
        case refused(retryAfter: Duration)
    }

    /// A decision about a waiting request.
    package enum Decision: Hashable, Sendable {
        /// The request got a slot.
        case run(Ticket)
        /// The request waited too long: refuse it with the retry hint.
        case refused(Ticket, retryAfter: Duration)
    }

    private struct Waiting {
        let model: String
        let userID: String
        let priority: Priority
        let enqueuedAt: Instant
    }

    /// The waiting requests of one model at one priority, round-robin over users.
    private struct Line {
        /// Users in turn order; each has at least one ticket in `tickets`.
        var turns: Deque<String> = []
        var tickets: [String: Deque<Ticket>] = [:]

        var isEmpty: Bool { turns.isEmpty }

        mutating func append(_ ticket: Ticket, userID: String) {
            if tickets[userID, default: []].isEmpty { turns.append(userID) }
            tickets[userID, default: []].append(ticket)
        }

        mutating func popNext() -> Ticket? {
            guard let user = turns.popFirst(), var queue = tickets[user], let ticket = queue.popFirst() else {
                return nil
            }
            if queue.isEmpty {
                tickets[user] = nil
            } else {
                tickets[user] = queue
                turns.append(user)
            }
            return ticket
        }

        mutating func remove(_ ticket: Ticket, userID: String) {
            guard var queue = tickets[userID], let index = queue.firstIndex(of: ticket) else { return }
            queue.remove(at: index)
            if queue.isEmpty {
                tickets[userID] = nil
                turns.removeAll { $0 == userID }
            } else {
                tickets[userID] = queue
            }
        }
    }

    private struct Model {
        var running = 0
        var queued = 0
        var lines: [Priority: Line] = [:]
    }

    package let configuration: WorkerPoolConfiguration
    private var models: [String: Model] = [:]
    private var waiting: [Ticket: Waiting] = [:]
    private var running: [Ticket: (model: String, since: Instant)] = [:]
    /// Moving average of the time a generation holds a slot.
    private var averageHold: Duration?

    package init(configuration: WorkerPoolConfiguration) {
        self.configuration = configuration
    }

    /// Slots (of every model seen so far), running and waiting requests over all models.
    package var status: WorkerPoolStatus {
        let slots = models.keys.reduce(0) { $0 + configuration.slots(for: $1) }
        return WorkerPoolStatus(slots: slots, busy: running.count, queued: waiting.count)
    }

    /// A new request for `model`. `ticket` must be new.
    package mutating func enqueue(
        _ ticket: Ticket, model: String, userID: String, priority: Priority, now: Instant
    ) -> Admission {
        precondition(waiting[ticket] == nil && running[ticket] == nil, "ticket \(ticket) is in use")
        var state = models[model] ?? Model()
        defer { models[model] = state }
        if state.running < configuration.slots(for: model) && state.queued == 0 {
            state.running += 1
            running[ticket] = (model, now)
            return .run
        }
        guard state.queued < configuration.maxQueuedPerModel else {
            return .refused(retryAfter: retryAfter(model: model, state: state))
        }
        state.queued += 1
        state.lines[priority, default: Line()].append(ticket, userID: userID)
        waiting[ticket] = Waiting(model: model, userID: userID, priority: priority, enqueuedAt: now)
        return .queued
    }

    /// The request ended (finished, failed or cancelled), whether it ran or still waited. Answers the
    /// requests that got the freed slot. Unknown tickets are ignored, so finishing twice is harmless.
    package mutating func finish(_ ticket: Ticket, now: Instant) -> [Decision] {
        if let entry = waiting.removeValue(forKey: ticket) {
            models[entry.model]?.queued -= 1
            models[entry.model]?.lines[entry.priority]?.remove(ticket, userID: entry.userID)
            return []
        }
        guard let entry = running.removeValue(forKey: ticket) else { return [] }
        let model = entry.model
        let held = entry.since.duration(to: now)
        averageHold = averageHold.map { $0 * 0.8 + held * 0.2 } ?? held
        models[model]?.running -= 1
        return grant(model: model, now: now)
    }

    /// Refuses the requests that waited longer than the maximum wait.
    package mutating func expire(now: Instant) -> [Decision] {
        let limit = configuration.maxQueueWait
        let expired = waiting.filter { $0.value.enqueuedAt.duration(to: now) >= limit }
        var decisions: [Decision] = []
        for (ticket, entry) in expired.sorted(by: { $0.key < $1.key }) {
            _ = finish(ticket, now: now)
            decisions.append(.refused(ticket, retryAfter: retryAfter(model: entry.model, state: models[entry.model])))
        }
        return decisions
    }

    /// Whether `ticket` holds a slot.
    package func isRunning(_ ticket: Ticket) -> Bool { running[ticket] != nil }

    private mutating func grant(model: String, now: Instant) -> [Decision] {
        guard var state = models[model] else { return [] }
        var decisions: [Decision] = []
        while state.running < configuration.slots(for: model), state.queued > 0 {
            guard let priority = state.lines.keys.filter({ state.lines[$0]?.isEmpty == false }).min(),
                let ticket = state.lines[priority]?.popNext()
            else { break }
            state.queued -= 1
            state.running += 1
            waiting[ticket] = nil
            running[ticket] = (model, now)
            decisions.append(.run(ticket))
        }
        models[model] = state
        return decisions
    }

    /// When a slot is likely free for one more request: the queue ahead of it drains at
    /// `slots / averageHold` requests per time.
    private func retryAfter(model: String, state: Model?) -> Duration {
        guard let averageHold else { return configuration.defaultRetryAfter }
        let slots = configuration.slots(for: model)
        let ahead = (state?.queued ?? 0) + 1
        let estimate = averageHold * (Double(ahead) / Double(slots))
        return max(configuration.defaultRetryAfter, estimate)
    }
}

/// The pure scheduling decisions of continuous batching: admission against a KV-cache budget and
/// the composition of each step's batch. It owns no model, thread or clock; ``EngineLoop`` carries
/// out what it decides.
///
/// Admission is first-in, first-out: a request that fits the budget but not the free part of it
/// waits, and requests behind it wait too (so a large request is never starved by small ones).
struct BatchPlanner: Sendable {
    /// Limits of the planner.
    struct Configuration: Sendable, Equatable {
        /// Most sequences decoding at once.
        var maxSequences: Int
        /// Total KV-cache positions that admitted sequences may reserve.
        var kvBudget: Int
        /// Most prompt tokens processed in one step (decode tokens come on top).
        var prefillChunk: Int
        /// Most prompt tokens in a step while other sequences are decoding, so that their
        /// inter-token time stays bounded while a new prompt is prefilled (at most ``prefillChunk``).
        var decodingPrefillChunk: Int
    }

    /// The outcome of ``submit(id:reservation:)``.
    enum Submission: Equatable {
        /// Waiting for admission.
        case queued
        /// Can never be admitted: the reservation exceeds the whole budget.
        case rejected
    }

    /// What one sequence contributes to a step.
    struct Slice: Equatable {
        var id: Int
        /// Tokens this step: 1 for a decoding sequence, a prompt chunk for a prefilling one.
        var count: Int
    }

    let configuration: Configuration
    private(set) var waiting: [(id: Int, reservation: Int)] = []
    /// Admitted sequences in admission order, with their reservations.
    private(set) var admitted: [(id: Int, reservation: Int)] = []
    private(set) var reserved = 0

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Queues a request that needs `reservation` KV positions.
    mutating func submit(id: Int, reservation: Int) -> Submission {
        guard reservation <= configuration.kvBudget else { return .rejected }
        waiting.append((id, reservation))
        return .queued
    }

    /// Removes a finished or cancelled request, waiting or admitted, and frees its reservation.
    mutating func remove(id: Int) {
        if let i = admitted.firstIndex(where: { $0.id == id }) {
            reserved -= admitted[i].reservation
            admitted.remove(at: i)
        } else if let i = waiting.firstIndex(where: { $0.id == id }) {
            waiting.remove(at: i)
        }
    }

    /// Admits waiting requests in order while a slot and their reservation are free; returns their ids.
    mutating func admit() -> [Int] {
        var ids: [Int] = []
        while let next = waiting.first, admitted.count < configuration.maxSequences,
            reserved + next.reservation <= configuration.kvBudget
        {
            waiting.removeFirst()
            admitted.append(next)
            reserved += next.reservation
            ids.append(next.id)
        }
        return ids
    }

    /// The batch of one step: every decoding sequence gets one token, then prefilling sequences
    /// (in admission order) share ``Configuration/prefillChunk`` prompt tokens, or only
    /// ``Configuration/decodingPrefillChunk`` if any sequence is decoding.
    /// - Parameter remainingPrompt: prompt tokens not yet processed, by id (0 or absent = decoding).
    func plan(remainingPrompt: [Int: Int]) -> [Slice] {
        var slices: [Slice] = []
        for entry in admitted where (remainingPrompt[entry.id] ?? 0) == 0 {
            slices.append(Slice(id: entry.id, count: 1))
        }
        var budget =
            slices.isEmpty
            ? configuration.prefillChunk : min(configuration.prefillChunk, configuration.decodingPrefillChunk)
        for entry in admitted where budget > 0 {
            let remaining = remainingPrompt[entry.id] ?? 0
            guard remaining > 0 else { continue }
            let count = min(remaining, budget)
            slices.append(Slice(id: entry.id, count: count))
            budget -= count
        }
        return slices
    }
}

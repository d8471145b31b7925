import ParleyProtocol

/// A ticket of the pool's scheduler; finishing it frees the slot. Finished at the latest when the
/// last holder lets go, so an abandoned stream handle cannot keep a slot.
final class SlotLease: Sendable {
    let scheduler: SlotScheduler
    let ticket: SlotScheduler.Ticket

    init(scheduler: SlotScheduler, ticket: SlotScheduler.Ticket) {
        self.scheduler = scheduler
        self.ticket = ticket
    }

    func finish() { scheduler.finish(ticket) }

    deinit { scheduler.finish(ticket) }
}

/// A generation that first waits for its slot, then yields the source's events; the slot is freed
/// when the source ends or fails and when the iterator goes away (cancellation). Its source may
/// have been opened already (``WorkerPool/generate(_:)``).
struct PooledGeneration: AsyncSequence, Sendable {
    typealias Element = GenerationEvent
    typealias Failure = any Error

    let lease: SlotLease
    let source: OpenedGeneration<FailoverStream.Iterator>

    func makeAsyncIterator() -> Iterator {
        Iterator(lease: lease, source: source.makeAsyncIterator())
    }

    struct Iterator: AsyncIteratorProtocol {
        let lease: SlotLease
        var source: FailoverStream.Iterator
        var started = false
        var ended = false

        mutating func next() async throws -> GenerationEvent? {
            guard !ended else { return nil }
            do {
                if !started {
                    try await lease.scheduler.waitForSlot(lease.ticket)
                    started = true
                }
                guard let event = try await source.next() else {
                    end()
                    return nil
                }
                return event
            } catch {
                end()
                throw error
            }
        }

        private mutating func end() {
            ended = true
            lease.finish()
        }
    }
}

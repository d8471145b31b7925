import Synchronization

/// Hands a live stream's items from the task that reads the completion to the response that writes
/// them, all at once: the items that queued up while the previous write was under way are taken
/// together, so they go out in one write (one flush) instead of one each.
final class StreamMailbox<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var waiter: CheckedContinuation<[Item], Never>?
        var closed = false

        /// Everything queued, leaving the queue empty.
        mutating func takeItems() -> [Item] {
            defer { items = [] }
            return items
        }
    }

    private let state = Mutex(State())

    /// Queues `item` (dropped once the mailbox is closed).
    func put(_ item: Item) {
        let (waiter, items) = state.withLock { state -> (CheckedContinuation<[Item], Never>?, [Item]) in
            guard !state.closed else { return (nil, []) }
            state.items.append(item)
            guard let waiter = state.waiter.take() else { return (nil, []) }
            return (waiter, state.takeItems())
        }
        waiter?.resume(returning: items)
    }

    /// No more items: a waiting `next()` answers what is left, or nothing.
    func close() {
        let (waiter, left) = state.withLock { state in
            state.closed = true
            return (state.waiter.take(), state.takeItems())
        }
        waiter?.resume(returning: left)
    }

    /// Every queued item, waiting for one if there is none; empty once the mailbox is closed and
    /// drained. Cancelling the calling task closes the mailbox.
    func next() async -> [Item] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> [Item]? in
                    if !state.items.isEmpty || state.closed { return state.takeItems() }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }
}

import ParleyCluster
import Synchronization

/// Per-peer pipelines of pushed writes: concurrent writes bound for the same replica travel
/// together, many per remote call, with at most `maxInFlight` calls outstanding per replica
/// (writes arriving meanwhile queue up and go with the next call). Each write learns whether its
/// replica took it durably. The sending is done by a task per busy lane, started on demand.
final class ReplicaPushLanes: Sendable {
    /// Delivers `batches` to `node` in one call; answers whether it took them durably.
    typealias Send = @Sendable (_ node: ClusterNode, _ batches: [ReplicaBatchWire]) async -> Bool

    private struct Item {
        var batch: ReplicaBatchWire
        var done: @Sendable (Bool) -> Void
    }

    private struct Lane {
        var queue: [Item] = []
        var senders = 0
    }

    private let lanes = Mutex<[ClusterNode: Lane]>([:])
    private let maxInFlight: Int
    private let maxCallBytes: Int
    private let send: Send

    init(maxInFlight: Int, maxCallBytes: Int, send: @escaping Send) {
        self.maxInFlight = max(1, maxInFlight)
        self.maxCallBytes = max(1, maxCallBytes)
        self.send = send
    }

    /// Queues `batch` for `node`; `done` is called once with the outcome.
    func enqueue(_ batch: ReplicaBatchWire, to node: ClusterNode, done: @escaping @Sendable (Bool) -> Void) {
        let startSender = lanes.withLock { lanes in
            var lane = lanes[node, default: Lane()]
            lane.queue.append(Item(batch: batch, done: done))
            let start = lane.senders < maxInFlight
            if start { lane.senders += 1 }
            lanes[node] = lane
            return start
        }
        // Detached: the sender serves many writers and must not inherit one caller's task locals.
        if startSender { Task.detached { await self.drain(node) } }
    }

    /// Sends what the lane holds, one call at a time, until it is empty.
    private func drain(_ node: ClusterNode) async {
        while true {
            let items: [Item] = lanes.withLock { lanes in
                guard var lane = lanes[node] else { return [] }
                var bytes = 0
                var count = 0
                for item in lane.queue {
                    if count > 0 && bytes + item.batch.rows.count > maxCallBytes { break }
                    bytes += item.batch.rows.count
                    count += 1
                }
                let taken = Array(lane.queue.prefix(count))
                lane.queue.removeFirst(count)
                if taken.isEmpty { lane.senders -= 1 }
                lanes[node] = lane.queue.isEmpty && lane.senders == 0 ? nil : lane
                return taken
            }
            if items.isEmpty { return }
            let delivered = await send(node, items.map(\.batch))
            for item in items { item.done(delivered) }
        }
    }
}

/// Waits for the first of `total` outcomes that is a success, or for all of them to fail.
final class FirstSuccess: Sendable {
    private struct State {
        var remaining: Int
        var continuation: CheckedContinuation<Bool, Never>?
        var result: Bool?
    }

    private let state: Mutex<State>

    init(total: Int) {
        state = Mutex(State(remaining: total))
    }

    /// Reports one outcome.
    func report(_ success: Bool) {
        let resume: (CheckedContinuation<Bool, Never>, Bool)? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.remaining -= 1
            guard success || state.remaining == 0 else { return nil }
            state.result = success
            if let continuation = state.continuation {
                state.continuation = nil
                return (continuation, success)
            }
            return nil
        }
        if let (continuation, value) = resume { continuation.resume(returning: value) }
    }

    /// Whether some outcome was a success, once that is known.
    func wait() async -> Bool {
        await withCheckedContinuation { continuation in
            let ready: Bool? = state.withLock { state in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

import Synchronization

/// One clock for the heartbeats of every live stream on this gateway: each subscriber gets a call
/// every `interval` while it is subscribed. One task sleeps for all streams, instead of a timer
/// task per stream; it runs only while some stream is subscribed.
final class HeartbeatTicker: Sendable {
    private struct State {
        var subscribers: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 0
        var running = false
    }

    let interval: Duration
    private let state = Mutex(State())

    init(interval: Duration) {
        self.interval = interval
    }

    /// Calls `tick` every `interval` (from the ticker's task) until ``unsubscribe(_:)``.
    func subscribe(_ tick: @escaping @Sendable () -> Void) -> UInt64 {
        let (id, start) = state.withLock { state in
            defer { state.nextID += 1 }
            state.subscribers[state.nextID] = tick
            let start = !state.running
            state.running = true
            return (state.nextID, start)
        }
        if start { Task { await self.run() } }
        return id
    }

    func unsubscribe(_ id: UInt64) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: id) }
    }

    private func run() async {
        while true {
            try? await Task.sleep(for: interval)
            let ticks: [@Sendable () -> Void]? = state.withLock { state in
                if state.subscribers.isEmpty {
                    state.running = false
                    return nil
                }
                return Array(state.subscribers.values)
            }
            guard let ticks else { return }
            for tick in ticks { tick() }
        }
    }
}

import Synchronization

/// The requests a completion node is relaying, by request id, so `cancel` can reach them.
final class RunRegistry: Sendable {
    private struct Entry {
        let userID: String
        /// The task that relays the tokens; cancelling it cancels the stream downstream.
        var pump: Task<Void, Never>?
        /// Cancelled before its pump was attached.
        var cancelled = false
        /// Asks the run to tell the store it is alive (``keepAlive()``).
        var keepAlive: (@Sendable () -> Void)?
    }

    private let runs = Mutex<[String: Entry]>([:])

    /// Reserves `requestID` for a new run; false when one with that id runs already.
    func reserve(_ requestID: String, userID: String) -> Bool {
        runs.withLock { runs in
            guard runs[requestID] == nil else { return false }
            runs[requestID] = Entry(userID: userID)
            return true
        }
    }

    /// Attaches the run's pump (cancelled at once if the run was cancelled meanwhile) and what
    /// ``keepAlive()`` calls for it.
    func attach(_ requestID: String, pump: Task<Void, Never>, keepAlive: (@Sendable () -> Void)? = nil) {
        let cancelNow = runs.withLock { runs in
            runs[requestID]?.pump = pump
            runs[requestID]?.keepAlive = keepAlive
            return runs[requestID]?.cancelled ?? false
        }
        if cancelNow { pump.cancel() }
    }

    /// Asks every run to tell the store it is alive (each decides whether it needs to).
    func keepAlive() {
        let calls = runs.withLock { runs in runs.values.compactMap(\.keepAlive) }
        for call in calls { call() }
    }

    /// Calls ``keepAlive()`` every `interval` until the registry is gone. One task per node, not a
    /// timer per run.
    func startKeepAliveTicker(every interval: Duration) {
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: interval)
                guard let self else { return }
                self.keepAlive()
            }
        }
    }

    func remove(_ requestID: String) {
        runs.withLock { _ = $0.removeValue(forKey: requestID) }
    }

    /// Cancels the run if it belongs to `userID`; true when it did.
    func cancel(_ requestID: String, userID: String) -> Bool {
        let pump: Task<Void, Never>?? = runs.withLock { runs in
            guard var entry = runs[requestID], entry.userID == userID else { return .none }
            entry.cancelled = true
            runs[requestID] = entry
            return .some(entry.pump)
        }
        guard case .some(let task) = pump else { return false }
        task?.cancel()
        return true
    }

    /// Cancels every run (shutdown).
    func cancelAll() {
        let pumps = runs.withLock { runs in
            for key in runs.keys { runs[key]?.cancelled = true }
            return runs.values.compactMap(\.pump)
        }
        for pump in pumps { pump.cancel() }
    }

    var count: Int { runs.withLock { $0.count } }
}

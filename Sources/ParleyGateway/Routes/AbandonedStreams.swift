import Logging
import Synchronization

/// Streams whose client went away mid-answer. The generation goes on for a grace period so that a
/// reload or a dropped connection can resume it (`GET …/stream` with `Last-Event-ID` on this
/// gateway claims it); unclaimed after the grace, it is cancelled downstream and the partial answer
/// is stored as cancelled.
final class AbandonedStreams: Sendable {
    private let timers = Mutex<[String: Task<Void, Never>]>([:])

    /// Starts the grace period of `requestID`; `cancel` runs when it ends unclaimed.
    func abandon(_ requestID: String, grace: Duration, cancel: @escaping @Sendable () async -> Void) {
        let timer = Task {
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled, self.timers.withLock({ $0.removeValue(forKey: requestID) }) != nil else { return }
            await cancel()
        }
        timers.withLock { $0[requestID]?.cancel(); $0[requestID] = timer }
    }

    /// A client resumed `requestID`: the generation runs to its end. True when it was abandoned here.
    @discardableResult
    func claim(_ requestID: String) -> Bool {
        guard let timer = timers.withLock({ $0.removeValue(forKey: requestID) }) else { return false }
        timer.cancel()
        return true
    }
}

public import ParleyCluster

/// A generation stream counted in a node's ``NodeActivity`` under `role`: one stream in flight from
/// the first `next()` until the end, an error, or the iterator being dropped (cancelled), and one
/// token per `.token` event.
public struct CountedGeneration<Base: AsyncSequence<GenerationEvent, any Error> & Sendable>: AsyncSequence, Sendable {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    let base: Base
    let activity: NodeActivity
    let role: String

    public init(_ base: Base, activity: NodeActivity, role: String) {
        self.base = base
        self.activity = activity
        self.role = role
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: base.makeAsyncIterator(), counter: Counter(activity: activity, role: role))
    }

    /// Ends the stream's count exactly once, at the latest when the iterator goes away.
    final class Counter {
        let activity: NodeActivity
        let role: String
        enum State { case notStarted, inFlight, ended }
        var state = State.notStarted

        init(activity: NodeActivity, role: String) {
            self.activity = activity
            self.role = role
        }

        func start() {
            guard state == .notStarted else { return }
            state = .inFlight
            activity.streamStarted(role: role)
        }

        func end() {
            guard state == .inFlight else { return }
            state = .ended
            activity.streamEnded(role: role)
        }

        deinit { end() }
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let counter: Counter

        public mutating func next() async throws -> GenerationEvent? {
            counter.start()
            do {
                guard let event = try await base.next() else {
                    counter.end()
                    return nil
                }
                switch event {
                case .token: counter.activity.recordTokens(1, role: counter.role)
                case .finished: counter.end()
                case .prompt: break
                }
                return event
            } catch {
                counter.end()
                throw error
            }
        }
    }
}

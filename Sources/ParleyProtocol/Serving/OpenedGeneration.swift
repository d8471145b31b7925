import Synchronization

/// A generation whose iterator was made — and usually opened — before its reader came: a hop
/// starts the model while the caller is still getting ready to read, instead of when its reading
/// task first runs. Iterated once; the iteration takes the iterator.
public struct OpenedGeneration<Iterator: AsyncIteratorProtocol>: AsyncSequence, Sendable
where Iterator.Element == GenerationEvent, Iterator.Failure == any Error {
    public typealias Element = GenerationEvent
    public typealias Failure = any Error

    private let handOver: HandOver

    public init(_ iterator: sending Iterator) {
        handOver = HandOver(iterator)
    }

    public func makeAsyncIterator() -> Iterator {
        guard let iterator = handOver.take() else { preconditionFailure("an opened generation is iterated once") }
        return iterator
    }

    /// Keeps the iterator until the iteration takes it (it may be made on another thread).
    final class HandOver: Sendable {
        private let iterator: Mutex<Iterator?>

        init(_ iterator: sending Iterator) {
            self.iterator = Mutex(iterator)
        }

        func take() -> Iterator? {
            iterator.withLock { $0.take() }
        }
    }
}

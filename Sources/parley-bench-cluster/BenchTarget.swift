import Distributed
import ParleyCluster

/// The actor the benchmark calls in the server process.
distributed actor BenchTarget {
    typealias ActorSystem = ClusterSystem

    /// Well-known path, so the parent can address it without a lookup.
    static let path = "/user/bench"

    distributed func ping(_ value: Int) -> Int { value }

    distributed func numbers(_ count: Int) -> RemoteStream<Int> {
        actorSystem.makeStream(Numbers(count: count))
    }
}

/// 0..<count as an async sequence.
struct Numbers: AsyncSequence, Sendable {
    let count: Int

    struct Iterator: AsyncIteratorProtocol {
        var next = 0
        let count: Int
        mutating func next() async -> Int? {
            guard next < count else { return nil }
            defer { next += 1 }
            return next
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(count: count) }
}

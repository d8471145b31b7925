import Distributed

/// A stream of values produced on one node and consumed on another, returned by a distributed
/// method and iterated by the caller as an `AsyncSequence`.
///
/// The handle is a small value (producer node and stream id). Iterating it starts the producer;
/// the consumer grants credit (`ClusterSettings.streamWindow` elements, renewed at half), so a slow
/// consumer never makes the producer buffer without bound. Cancelling the consuming task or
/// dropping the iterator cancels the producer; a producer error is thrown by `next()`; a dead
/// producer node ends the iteration with a `ClusterError` of code `.nodeDown`. A handle can be
/// iterated once. Create one with `ClusterSystem.makeStream(_:)`.
///
/// A handle iterated on the node that made it, without having been sent anywhere, iterates the
/// source directly in the consuming task (``DirectSource``), unless it asks for an idle timeout.
public struct RemoteStream<Element: Codable & Sendable>: AsyncSequence, Codable, Sendable {
    public typealias Failure = any Error

    /// The node that produces the elements.
    public let producer: ClusterNode
    let streamID: UInt64
    private let system: ClusterSystem?
    /// The source itself while the handle has not left the node that made it.
    private let direct: DirectSource<Element>?

    init(producer: ClusterNode, streamID: UInt64, system: ClusterSystem, direct: DirectSource<Element>?) {
        self.producer = producer
        self.streamID = streamID
        self.system = system
        self.direct = direct
    }

    private enum CodingKeys: String, CodingKey { case producer, streamID }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        producer = try container.decode(ClusterNode.self, forKey: .producer)
        streamID = try container.decode(UInt64.self, forKey: .streamID)
        system = decoder.userInfo[.actorSystemKey] as? ClusterSystem
        direct = nil
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(producer, forKey: .producer)
        try container.encode(streamID, forKey: .streamID)
    }

    public func makeAsyncIterator() -> Iterator {
        makeAsyncIterator(idleTimeout: nil)
    }

    /// An iterator whose `next()` fails with a `ClusterError` of code `.timedOut` when the producer
    /// sends nothing for `idleTimeout` while the consumer waits — for producers that may hang
    /// while their node stays alive — or, before the first element, for `firstElementTimeout`
    /// (default: `idleTimeout`), for producers that may take long to start. Dropping the failed
    /// iterator cancels the producer.
    public func makeAsyncIterator(idleTimeout: Duration?, firstElementTimeout: Duration? = nil) -> Iterator {
        if idleTimeout == nil, let next = direct?.take() {
            return Iterator(direct: next)
        }
        return Iterator(
            lease: system.map {
                StreamConsumer(
                    system: $0, producer: producer, streamID: streamID, idleTimeout: idleTimeout,
                    firstElementTimeout: firstElementTimeout)
            })
    }

    public struct Iterator: AsyncIteratorProtocol {
        private let lease: StreamConsumer?
        private let decoder: BinaryDecoder?
        private var batch: [StreamConsumer.Item] = []
        private var index = 0
        /// The source's own `next` (a stream iterated where it was made, ``DirectSource``).
        private let direct: (() async throws -> Element?)?

        init(lease: StreamConsumer?) {
            self.lease = lease
            self.decoder = lease?.makeDecoder()
            self.direct = nil
        }

        init(direct: @escaping () async throws -> Element?) {
            self.lease = nil
            self.decoder = nil
            self.direct = direct
        }

        public mutating func next() async throws -> Element? {
            if let direct { return try await direct() }
            guard let lease, let decoder else {
                throw ClusterError(.shutDown, "stream handle decoded without an actor system")
            }
            if index == batch.count {
                batch = try await lease.nextBatch()
                index = 0
                if batch.isEmpty { return nil }
            }
            let item = batch[index]
            index += 1
            lease.consumed(1)
            switch item {
            case .encoded(let bytes):
                return try decoder.decode(Element.self, from: bytes)
            case .value(let value):
                guard let element = value as? Element else {
                    throw ClusterError(.malformed, "a local stream produced \(type(of: value)), not \(Element.self)")
                }
                return element
            }
        }
    }
}

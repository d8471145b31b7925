import ServiceContextModule

/// The source of a stream made on this node, kept beside its handle while the handle stays in
/// memory. A consumer on the same node iterates the source itself, in its own task: no producer
/// task, no credit, no hand-over per element. Backpressure is the consumer's own pace, and
/// cancelling the consuming task cancels the source as any awaited call is cancelled.
///
/// Only a handle that never left the process carries one (encoding drops it), and only the first
/// iterator may take it (``take()``): it claims the registered producer, so the same stream can
/// never also be started by a remote consumer.
final class DirectSource<Element: Sendable>: Sendable {
    private let producer: StreamProducer
    private let makeNext: @Sendable () -> () async throws -> Element?

    init<Source: AsyncSequence & Sendable>(_ source: Source, producer: StreamProducer, context: ServiceContext)
    where Source.Element == Element {
        self.producer = producer
        self.makeNext = {
            var iterator = source.makeAsyncIterator()
            // Each step runs in the context of the call that made the stream, never the consumer's:
            // a consumer's task-locals (its trace, its call deadline or timeout) must not leak into the source.
            return {
                try await ServiceContext.withValue(context) {
                    try await ClusterSystem.withoutCallDeadline { try await iterator.next() }
                }
            }
        }
    }

    /// The source's `next`, when the stream was not claimed yet; afterwards `nil`.
    func take() -> (() async throws -> Element?)? {
        producer.claimForDirectIteration() ? makeNext() : nil
    }
}

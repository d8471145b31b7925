import ParleyProtocol

/// The events of one completion, pulled by one task at a time: the handler reads the first, then
/// the response body's reader task the rest. Nothing runs between the producer and the reader:
/// each `next()` pulls straight from the source.
final class EventIterator: @unchecked Sendable {
    // Safe: never used by two tasks at once (see the type's comment); the hand-over happens
    // through the response body closure, which starts after the handler returned.
    private let pull: () async throws -> CompletionEvent?

    /// Events pulled by `next`.
    init(next: @escaping () async throws -> CompletionEvent?) {
        pull = next
    }

    /// The events of `stream`; dropping the iterator terminates the stream.
    convenience init(_ stream: AsyncThrowingStream<CompletionEvent, any Error>) {
        var iterator = stream.makeAsyncIterator()
        self.init { try await iterator.next() }
    }

    func next() async throws -> CompletionEvent? {
        try await pull()
    }
}

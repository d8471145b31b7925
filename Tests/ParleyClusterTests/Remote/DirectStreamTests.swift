import Distributed
import ParleyCluster
import Synchronization
import Testing

/// A value the consuming task binds, to see in which task a source runs.
enum ConsumerMark {
    @TaskLocal static var value: String?
}

/// Elements that each take a remote call to make, and record in which task they were made.
struct CallingSequence: AsyncSequence, Sendable {
    let greeter: Greeter
    let count: Int
    let delayMilliseconds: Int
    let marks: MarkLog

    struct Iterator: AsyncIteratorProtocol {
        let source: CallingSequence
        var made = 0

        mutating func next() async throws -> Int? {
            guard made < source.count else { return nil }
            made += 1
            source.marks.entries.withLock { $0.append(ConsumerMark.value) }
            return try await source.greeter.sleep(milliseconds: source.delayMilliseconds)
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(source: self) }
}

/// The `ConsumerMark` seen by each element a source made.
final class MarkLog: Sendable {
    let entries = Mutex<[String?]>([])
}

/// Makes streams whose source calls a `Greeter`, possibly on another node.
distributed actor Relayer {
    typealias ActorSystem = ClusterSystem

    let marks: MarkLog

    init(actorSystem: ClusterSystem, marks: MarkLog) {
        self.actorSystem = actorSystem
        self.marks = marks
    }

    distributed func relay(from greeter: Greeter, count: Int, delayMilliseconds: Int) -> RemoteStream<Int> {
        actorSystem.makeStream(
            CallingSequence(greeter: greeter, count: count, delayMilliseconds: delayMilliseconds, marks: marks))
    }
}

/// A stream iterated on the node that made it runs its source in the consuming task, without a
/// producer task, and still keeps the consumer's call limits out of the source.
@Suite("Streams iterated where they were made")
struct DirectStreamTests {
    @Test func aLocalHandleRunsItsSourceInTheConsumersTask() async throws {
        try await withTwoSystems { server, client in
            let marks = MarkLog()
            let relayer = Relayer(actorSystem: server, marks: marks)
            let greeter = Greeter(actorSystem: server)
            let local = try await relayer.relay(from: greeter, count: 3, delayMilliseconds: 0)
            var received: [Int] = []
            try await ConsumerMark.$value.withValue("consumer") {
                for try await value in local { received.append(value) }
            }
            #expect(received == [0, 0, 0])
            #expect(marks.entries.withLock { $0 } == ["consumer", "consumer", "consumer"])

            // The same method called from another node: the handle is encoded, and a producer task
            // on the server iterates the source.
            let remote = try Relayer.resolve(id: relayer.id, using: client)
            let sent = try await remote.relay(from: greeter, count: 2, delayMilliseconds: 0)
            try await ConsumerMark.$value.withValue("consumer") {
                for try await _ in sent {}
            }
            #expect(marks.entries.withLock { Array($0.suffix(2)) } == [nil, nil])
        }
    }

    @Test func theConsumersCallTimeoutDoesNotReachTheSource() async throws {
        try await withTwoSystems { server, client in
            let relayer = Relayer(actorSystem: server, marks: MarkLog())
            // The source's calls go to another node and take 150 ms each.
            let greeter = Greeter(actorSystem: client)
            let remoteGreeter = try Greeter.resolve(id: greeter.id, using: server)
            let stream = try await relayer.relay(from: remoteGreeter, count: 2, delayMilliseconds: 150)
            var received: [Int] = []
            try await ClusterSystem.withCallTimeout(.milliseconds(20)) {
                for try await value in stream { received.append(value) }
            }
            #expect(received == [150, 150])
        }
    }

    @Test func breakingOutOfALocalStreamStopsItsSource() async throws {
        try await withTwoSystems { server, _ in
            let probe = StreamProbe()
            let greeter = Greeter(actorSystem: server, probe: probe)
            for try await value in try await greeter.count(to: 1_000_000_000) where value == 10 { break }
            var stopped = probe.stopped.makeAsyncIterator()
            await stopped.next()
            #expect(probe.pulled.load(ordering: .relaxed) == 11)
        }
    }

    @Test func cancellingTheConsumerCancelsALocalSource() async throws {
        try await withTwoSystems { server, _ in
            let greeter = Greeter(actorSystem: server)
            let stream = try await greeter.tick(1_000, interval: 5)
            let (firstSeen, seen) = AsyncStream<Void>.makeStream()
            let consumer = Task {
                var count = 0
                do {
                    for try await _ in stream {
                        count += 1
                        if count == 1 { seen.yield() }
                    }
                } catch {}
                return count
            }
            var first = firstSeen.makeAsyncIterator()
            await first.next()
            consumer.cancel()
            #expect(await consumer.value < 1_000)
        }
    }
}

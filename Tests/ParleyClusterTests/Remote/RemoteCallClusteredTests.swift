import Distributed
import NIOCore
import NIOPosix
import ParleyCluster
import Synchronization
import Testing

/// A test actor with a method for each behaviour the runtime must show.
distributed actor Greeter {
    typealias ActorSystem = ClusterSystem

    let probe: StreamProbe

    init(actorSystem: ClusterSystem, probe: StreamProbe = StreamProbe()) {
        self.actorSystem = actorSystem
        self.probe = probe
    }

    distributed func greet(_ name: String) -> String { "Hello, \(name)!" }

    distributed func echo(_ values: [Int], label: String?) -> [String] {
        values.map { "\(label ?? "-")\($0)" }
    }

    distributed func fail(code: String) throws {
        throw ClusterError(ClusterError.Code(rawValue: code), "failed on purpose")
    }

    distributed func sleep(milliseconds: Int) async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return milliseconds
    }

    distributed func count(to limit: Int, failAt: Int? = nil) -> RemoteStream<Int> {
        actorSystem.makeStream(CountingSequence(limit: limit, failAt: failAt, probe: probe))
    }

    /// `count` elements, one every `interval` milliseconds.
    distributed func tick(_ count: Int, interval: Int) -> RemoteStream<Int> {
        actorSystem.makeStream(
            AsyncStream<Int> { continuation in
                let task = Task {
                    for i in 0..<count {
                        try await Task.sleep(for: .milliseconds(interval))
                        continuation.yield(i)
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            })
    }

    /// `count` numbers: the first after `firstAfter` ms, the others `thenEvery` ms apart.
    distributed func slowStart(firstAfter: Int, thenEvery: Int, count: Int) -> RemoteStream<Int> {
        actorSystem.makeStream(
            AsyncStream<Int> { continuation in
                let task = Task {
                    for i in 0..<count {
                        try await Task.sleep(for: .milliseconds(i == 0 ? firstAfter : thenEvery))
                        continuation.yield(i)
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            })
    }

    /// Like `count(to:)`, but the count goes on to its end when the consumer's node is lost.
    /// `limit` elements, each telling whether the producer ran on an event loop thread.
    distributed func reportLoops(_ limit: Int, relaysOnEventLoop: Bool) -> RemoteStream<Bool> {
        actorSystem.makeStream(
            LoopReportingSequence(limit: limit), drainsWhenConsumerIsLost: false, relaysOnEventLoop: relaysOnEventLoop)
    }

    distributed func countToTheEnd(_ limit: Int) -> RemoteStream<Int> {
        actorSystem.makeStream(CountingSequence(limit: limit, failAt: nil, probe: probe), drainsWhenConsumerIsLost: true)
    }
}

/// Records how far a producer got and when it stopped iterating.
final class StreamProbe: Sendable {
    let pulled = Atomic<Int>(0)
    let (stopped, stoppedContinuation) = AsyncStream<Void>.makeStream()
}

/// Tells the probe when the producer drops its iterator (it finished or was cancelled).
final class IteratorSentinel: Sendable {
    let probe: StreamProbe
    init(probe: StreamProbe) { self.probe = probe }
    deinit { probe.stoppedContinuation.yield() }
}

struct CountingError: WireError {
    var wireCode: String { "counting_failed" }
    var wireMessage: String { "the count broke" }
}

/// Counts 0..<limit, throwing at `failAt`, recording pulls and cancellation in `probe`.
struct CountingSequence: AsyncSequence, Sendable {
    let limit: Int
    let failAt: Int?
    let probe: StreamProbe

    struct Iterator: AsyncIteratorProtocol {
        var next = 0
        let limit: Int
        let failAt: Int?
        let probe: StreamProbe
        let sentinel: IteratorSentinel

        mutating func next() async throws -> Int? {
            guard next < limit else { return nil }
            if next == failAt { throw CountingError() }
            defer { next += 1 }
            probe.pulled.add(1, ordering: .relaxed)
            return next
        }
    }

    func makeAsyncIterator() -> Iterator {
        Iterator(limit: limit, failAt: failAt, probe: probe, sentinel: IteratorSentinel(probe: probe))
    }
}

/// `limit` elements: whether each `next()` ran on an event loop thread.
struct LoopReportingSequence: AsyncSequence, Sendable {
    let limit: Int

    struct Iterator: AsyncIteratorProtocol {
        var left: Int

        mutating func next() async -> Bool? {
            guard left > 0 else { return nil }
            left -= 1
            await Task.yield()
            return MultiThreadedEventLoopGroup.currentEventLoop != nil
        }
    }

    func makeAsyncIterator() -> Iterator { Iterator(left: limit) }
}

/// Two systems on loopback, port 0.
func withTwoSystems(
    configure: (inout ClusterSettings) -> Void = { _ in },
    _ body: (ClusterSystem, ClusterSystem) async throws -> Void
) async throws {
    var serverSettings = ClusterSettings(name: "server")
    var clientSettings = ClusterSettings(name: "client")
    configure(&serverSettings)
    configure(&clientSettings)
    let server = try await ClusterSystem.start(settings: serverSettings)
    let client = try await ClusterSystem.start(settings: clientSettings)
    do {
        try await body(server, client)
    } catch {
        await client.shutdown()
        await server.shutdown()
        throw error
    }
    await client.shutdown()
    await server.shutdown()
}

@Suite("Remote calls between two systems")
struct RemoteCallClusteredTests {
    @Test func callRoundTrip() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            #expect(try await remote.greet("Ada") == "Hello, Ada!")
            #expect(try await remote.echo([1, 2, 3], label: nil) == ["-1", "-2", "-3"])
            #expect(try await remote.echo([], label: "x") == [])
            #expect(try await remote.echo([7], label: "x") == ["x7"])
        }
    }

    @Test func errorsCrossTheWireWithTheirCode() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let error = await #expect(throws: ClusterError.self) { try await remote.fail(code: "rate_limited") }
            #expect(error?.code.rawValue == "rate_limited")
            #expect(error?.message == "failed on purpose")
        }
    }

    @Test func deadlineFailsTheCallWithTimedOut() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let start = ContinuousClock.now
            let error = await #expect(throws: ClusterError.self) {
                try await ClusterSystem.withCallTimeout(.milliseconds(100)) {
                    try await remote.sleep(milliseconds: 10_000)
                }
            }
            #expect(error?.code == .timedOut)
            #expect(start.duration(to: .now) < .seconds(2))
        }
    }

    @Test func unknownActorIsReported() async throws {
        try await withTwoSystems { server, client in
            var id: ClusterActorID?
            do {
                let greeter = Greeter(actorSystem: server)
                id = greeter.id
            }
            let remote = try Greeter.resolve(id: id!, using: client)
            let error = await #expect(throws: ClusterError.self) { try await remote.greet("nobody") }
            #expect(error?.code == .actorNotFound)
        }
    }

    @Test func callToAStoppedNodeFailsFast() async throws {
        let server = try await ClusterSystem.start(settings: ClusterSettings(name: "server"))
        let client = try await ClusterSystem.start(settings: ClusterSettings(name: "client"))
        let greeter = Greeter(actorSystem: server)
        let remote = try Greeter.resolve(id: greeter.id, using: client)
        #expect(try await remote.greet("a") == "Hello, a!")
        let pending = Task { try await remote.sleep(milliseconds: 20_000) }
        try await Task.sleep(for: .milliseconds(50))
        let start = ContinuousClock.now
        await server.shutdown()
        let error = await #expect(throws: ClusterError.self) { try await pending.value }
        #expect(error?.code == .nodeDown)
        #expect(start.duration(to: .now) < .seconds(2))
        let again = await #expect(throws: ClusterError.self) { try await remote.greet("b") }
        #expect(again?.code == .nodeDown)
        await client.shutdown()
    }

    @Test func callerCancellationReachesTheCall() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let task = Task { try await remote.sleep(milliseconds: 20_000) }
            try await Task.sleep(for: .milliseconds(50))
            task.cancel()
            let error = await #expect(throws: ClusterError.self) { try await task.value }
            #expect(error?.code == .cancelled)
        }
    }
}

@Suite("Remote streams")
struct RemoteStreamClusteredTests {
    @Test func streamDeliversEveryElementInOrder() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            var expected = 0
            for try await value in try await remote.count(to: 10_000) {
                #expect(value == expected)
                expected += 1
            }
            #expect(expected == 10_000)
        }
    }

    @Test func aRelayingProducerRunsOnTheConsumersEventLoopAndOthersOnThePool() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            var onLoop: [Bool] = []
            for try await value in try await remote.reportLoops(50, relaysOnEventLoop: true) { onLoop.append(value) }
            #expect(onLoop == Array(repeating: true, count: 50))
            var elsewhere: [Bool] = []
            for try await value in try await remote.reportLoops(50, relaysOnEventLoop: false) { elsewhere.append(value) }
            #expect(elsewhere == Array(repeating: false, count: 50))
        }
    }

    @Test func idleTimeoutFailsOnlyASilentProducer() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            // Elements 40 ms apart for longer than the 500 ms timeout in all: never idle that long
            // (the margin is wide because parallel tests on two busy cores delay timers).
            var received: [Int] = []
            var steady = try await remote.tick(16, interval: 40).makeAsyncIterator(idleTimeout: .milliseconds(500))
            while let value = try await steady.next() { received.append(value) }
            #expect(received == Array(0..<16))
            // A producer silent for longer than the timeout fails the wait with timed_out.
            var silent = try await remote.tick(1, interval: 5_000).makeAsyncIterator(idleTimeout: .milliseconds(500))
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: ClusterError.self) { _ = try await silent.next() }
            #expect(error?.code == .timedOut)
            #expect(start.duration(to: clock.now) < .seconds(2))
        }
    }

    @Test func theFirstElementMayTakeLongerThanTheIdleTimeout() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            // The first element after 800 ms (longer than the 300 ms idle timeout, within the 5 s
            // first-element timeout), then every 40 ms.
            var slow = try await remote.slowStart(firstAfter: 800, thenEvery: 40, count: 5)
                .makeAsyncIterator(idleTimeout: .milliseconds(300), firstElementTimeout: .seconds(5))
            var received: [Int] = []
            while let value = try await slow.next() { received.append(value) }
            #expect(received == Array(0..<5))
            // Once the first element came, the idle timeout applies again: a producer silent after
            // it fails in about the idle timeout, not the first element's 20 s.
            var stalled = try await remote.slowStart(firstAfter: 20, thenEvery: 10_000, count: 2)
                .makeAsyncIterator(idleTimeout: .milliseconds(500), firstElementTimeout: .seconds(20))
            #expect(try await stalled.next() == 0)
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: ClusterError.self) { _ = try await stalled.next() }
            #expect(error?.code == .timedOut)
            #expect(start.duration(to: clock.now) < .seconds(4))
        }
    }

    @Test func localStreamWorksToo() async throws {
        try await withTwoSystems { server, _ in
            let greeter = Greeter(actorSystem: server)
            var total = 0
            for try await value in try await greeter.count(to: 100) { total += value }
            #expect(total == 4950)
        }
    }

    /// NIO drops what is handed to a loop that has shut down (and prints that it did): a stream
    /// read once its system is gone fails at once instead of arming a timer there and waiting.
    @Test(.timeLimit(.minutes(1))) func aStreamReadAfterItsSystemShutDownFailsAtOnce() async throws {
        try await withTwoSystems { server, _ in
            let greeter = Greeter(actorSystem: server)
            let stream = try await greeter.tick(1000, interval: 10)
            await server.shutdown()
            let error = await #expect(throws: ClusterError.self) {
                var iterator = stream.makeAsyncIterator(idleTimeout: .seconds(30))
                while try await iterator.next() != nil {}
            }
            #expect(error?.code == .shutDown)
        }
    }

    @Test func producerErrorIsThrownAtTheConsumer() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            var received: [Int] = []
            let error = await #expect(throws: ClusterError.self) {
                for try await value in try await remote.count(to: 100, failAt: 5) { received.append(value) }
            }
            #expect(received == [0, 1, 2, 3, 4])
            #expect(error?.code.rawValue == "counting_failed")
        }
    }

    @Test func slowConsumerBoundsTheProducer() async throws {
        try await withTwoSystems(configure: { $0.streamWindow = 64 }) { server, client in
            let probe = StreamProbe()
            let greeter = Greeter(actorSystem: server, probe: probe)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let stream = try await remote.count(to: 1_000_000)
            var iterator = stream.makeAsyncIterator()
            _ = try await iterator.next()
            // Give an unbounded producer ample time to run away.
            try await Task.sleep(for: .milliseconds(300))
            #expect(probe.pulled.load(ordering: .relaxed) <= 64 + 1)
            _ = iterator
        }
    }

    @Test func breakingOutCancelsTheProducer() async throws {
        try await withTwoSystems { server, client in
            let probe = StreamProbe()
            let greeter = Greeter(actorSystem: server, probe: probe)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            for try await value in try await remote.count(to: 1_000_000_000) where value == 10 { break }
            var stopped = probe.stopped.makeAsyncIterator()
            await stopped.next()
            #expect(probe.pulled.load(ordering: .relaxed) < 1_000_000_000)
        }
    }

    @Test func lostConsumerStopsAProducerUnlessItDrains() async throws {
        for drains in [false, true] {
            let server = try await ClusterSystem.start(settings: ClusterSettings(name: "server"))
            var clientSettings = ClusterSettings(name: "client")
            clientSettings.streamWindow = 16
            let client = try await ClusterSystem.start(settings: clientSettings)
            let probe = StreamProbe()
            let greeter = Greeter(actorSystem: server, probe: probe)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let limit = 200_000
            let stream = try await (drains ? remote.countToTheEnd(limit) : remote.count(to: limit))
            // Not `break` (that cancels): the consumer's node goes away with the stream open.
            var iterator = stream.makeAsyncIterator()
            for _ in 0..<5 { _ = try await iterator.next() }
            await client.shutdown()
            var stopped = probe.stopped.makeAsyncIterator()
            await stopped.next()
            _ = iterator
            let pulled = probe.pulled.load(ordering: .relaxed)
            if drains { #expect(pulled == limit) } else { #expect(pulled < limit) }
            await server.shutdown()
        }
    }

    @Test func deadProducerEndsTheStreamWithNodeDown() async throws {
        let server = try await ClusterSystem.start(settings: ClusterSettings(name: "server"))
        let client = try await ClusterSystem.start(settings: ClusterSettings(name: "client"))
        let greeter = Greeter(actorSystem: server)
        let remote = try Greeter.resolve(id: greeter.id, using: client)
        let stream = try await remote.count(to: 1_000_000_000)
        var received = 0
        let error = await #expect(throws: ClusterError.self) {
            for try await _ in stream {
                received += 1
                if received == 100 { await server.shutdown() }
            }
        }
        #expect(error?.code == .nodeDown)
        await client.shutdown()
    }
}

@Suite("Connection safety")
struct ConnectionSafetyClusteredTests {
    @Test func wrongClusterKeyIsRefused() async throws {
        var serverSettings = ClusterSettings(name: "server")
        serverSettings.clusterKey = Array("right key".utf8)
        var clientSettings = ClusterSettings(name: "client")
        clientSettings.clusterKey = Array("wrong key".utf8)
        let server = try await ClusterSystem.start(settings: serverSettings)
        let client = try await ClusterSystem.start(settings: clientSettings)
        let greeter = Greeter(actorSystem: server)
        let remote = try Greeter.resolve(id: greeter.id, using: client)
        let error = await #expect(throws: ClusterError.self) { try await remote.greet("intruder") }
        #expect(error?.code == .rejected)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func garbageAndTruncatedFramesCloseOnlyThatConnection() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let payloads: [[UInt8]] = [
                (0..<4096).map { _ in UInt8.random(in: 0...255) },
                [0xFF, 0xFF, 0xFF, 0xFF, 1],  // 4 GiB length
                [0, 0, 0, 10, 1, 0x50],  // truncated hello
                [0, 0, 0, 1, 99],  // unknown kind
            ]
            for bytes in payloads {
                let channel = try await ClientBootstrap(group: group)
                    .connect(host: server.node.address.host, port: server.node.address.port).get()
                try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
                try? await channel.close()
            }
            try await group.shutdownGracefully()
            #expect(try await remote.greet("still there") == "Hello, still there!")
        }
    }
}

import Distributed
@testable import ParleyCluster
import Testing

/// Signals when the stream source it belongs to is dropped.
final class DropSignal: Sendable {
    let (dropped, continuation) = AsyncStream<Void>.makeStream()
}

/// A source that never yields; its token signals when the producer lets go of it.
struct SilentSource: AsyncSequence, Sendable {
    final class Token: Sendable {
        let signal: DropSignal
        init(signal: DropSignal) { self.signal = signal }
        deinit { signal.continuation.yield() }
    }
    let token: Token

    struct AsyncIterator: AsyncIteratorProtocol {
        let token: Token
        mutating func next() async throws -> Int? {
            try await Task.sleep(for: .seconds(3600))
            return nil
        }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(token: token) }
}

/// Waits until `system`'s sweeper has parked, up to `limit` (a precondition of the tests below).
func untilSweeperParks(_ system: ClusterSystem, within limit: Duration = .seconds(5)) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while !system.sweeperIsParked {
        guard ContinuousClock.now < deadline else { throw TimedOut(what: "the sweeper of \(system.node.name) parks") }
        try await Task.sleep(for: .milliseconds(2))
    }
}

@Suite("The deadline sweeper parks while idle")
struct SweeperTests {
    @Test func anIdleSystemParksAndACallWakesItForItsDeadline() async throws {
        try await withTwoSystems { server, client in
            let greeter = Greeter(actorSystem: server)
            let remote = try Greeter.resolve(id: greeter.id, using: client)
            #expect(try await remote.greet("Ada") == "Hello, Ada!")
            try await untilSweeperParks(client)
            let clock = ContinuousClock()
            let start = clock.now
            let error = await #expect(throws: ClusterError.self) {
                try await ClusterSystem.withCallTimeout(.milliseconds(100)) { _ = try await remote.sleep(milliseconds: 5_000) }
            }
            #expect(error?.code == .timedOut)
            #expect(start.duration(to: clock.now) < .seconds(2))
        }
    }

    @Test func aStreamNobodyClaimsIsDroppedAfterItsLeaseOnAnIdleSystem() async throws {
        var settings = ClusterSettings(name: "lonely")
        settings.streamLeaseTimeout = .milliseconds(300)
        let system = try await ClusterSystem.start(settings: settings)
        do {
            try await untilSweeperParks(system)
            let signal = DropSignal()
            // The handle is dropped at once, never iterated nor sent: only the producer holds the
            // source, unclaimed, until its lease runs out.
            _ = system.makeStream(SilentSource(token: SilentSource.Token(signal: signal)))
            let dropped = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    var drops = signal.dropped.makeAsyncIterator()
                    return await drops.next() != nil
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(5))
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            #expect(dropped, "the unclaimed stream outlived its 300 ms lease by 5 s")
        }
        await system.shutdown()
    }
}

import Foundation
import NIOCore
import NIOPosix
@testable import ParleyCluster
import Synchronization
import Testing

/// Tasks and actors that prefer an event loop keep running when the loop's group shuts down (as a
/// stopped node's does while work of its is still suspended): NIO drops jobs enqueued on a loop
/// that has shut down, and a dropped job is a task that never resumes.
@Suite("Event loop executors across a shutdown")
struct EventLoopExecutorTests {
    @Test func aTaskThatPrefersALoopResumesAfterTheLoopShutsDown() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = EventLoopGate()
        let executor = EventLoopTaskExecutor(loop: group.next(), gate: gate)
        let parked = Parked()
        let task = Task(executorPreference: executor) {
            await parked.wait()
            return executor.loop.inEventLoop
        }
        await parked.untilWaiting()
        gate.close()
        try await group.shutdownGracefully()
        parked.resume()
        let ranOnLoop = await valueOf(task, within: .seconds(10))
        #expect(ranOnLoop == false, "the task resumed, on another thread than the stopped loop's")
    }

    @Test func anActorOnALoopAnswersInOrderThroughItsShutdown() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = EventLoopGate()
        let counter = LoopCounter(executor: EventLoopSerialExecutor(loop: group.next(), gate: gate))
        let before = await counter.increment()
        #expect(before.onLoop)
        // Calls in flight while the gate closes and the loop stops: each runs once, none overlaps
        // another, none is lost; a call after the stop runs off the loop.
        let inFlight = Task {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<200 { group.addTask { _ = await counter.increment() } }
            }
        }
        gate.close()
        try await group.shutdownGracefully()
        #expect(await valueOf(inFlight, within: .seconds(10)) != nil)
        let after = await valueOf(Task { await counter.increment() }, within: .seconds(10))
        #expect(after?.count == 202)
        #expect(after?.onLoop == false)
        #expect(after?.overlaps == 0)
    }

    @Test func closingTheGateWaitsForAThreadHandingWorkToALoop() async throws {
        // A thread inside the gate (preempted, say, between its check and the hand-over) holds the
        // close back: what it hands on is queued before the loops may stop.
        let gate = EventLoopGate()
        let inside = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let closed = Atomic(false)
        let observedWhileInside = Mutex<(sawClosing: Bool, closeReturned: Bool)?>(nil)
        let holder = Thread {
            _ = gate.ifOpen {
                inside.signal()
                release.wait()
                // close() has begun (the gate reads closed) but must not have returned.
                observedWhileInside.withLock { $0 = (!gate.isOpen, closed.load(ordering: .acquiring)) }
            }
        }
        holder.start()
        inside.wait()
        let closer = Thread {
            gate.close()
            closed.store(true, ordering: .releasing)
        }
        closer.start()
        while gate.isOpen { await Task.yield() }
        release.signal()
        while !closed.load(ordering: .acquiring) { await Task.yield() }
        let observed = try #require(observedWhileInside.withLock { $0 })
        #expect(observed.sawClosing)
        #expect(observed.closeReturned == false)
        #expect(gate.ifOpen { true } == nil, "nothing enters a closed gate")
        #expect(gate.whenClosed {} == false)
    }

    @Test func aFutureOfAClosedGateFailsInsteadOfWaiting() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = EventLoopGate()
        let promise = group.next().makePromise(of: Int.self)
        promise.succeed(7)
        #expect(try await gate.value(of: promise.futureResult) == 7)
        let pending = group.next().makePromise(of: Int.self)
        gate.close()
        await #expect(throws: ClusterError.self) { try await gate.value(of: pending.futureResult) }
        pending.fail(ClusterError(.shutDown, "test over"))
        try await group.shutdownGracefully()
    }

    @Test func aSerialExecutorWhoseGateNeverClosedCanBeDropped() async throws {
        // Its fallback queue starts inactive; dropping it so would crash the process.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let counter = LoopCounter(executor: EventLoopSerialExecutor(loop: group.next(), gate: EventLoopGate()))
            #expect(await counter.increment().count == 1)
        }
        try await group.shutdownGracefully()
    }
}

/// A shutdown ends what waits on the system's loops: dials in progress fail at once.
@Suite("Shutting a system down while it dials")
struct ShutdownWhileDialingTests {
    @Test func aDialWaitingForItsHandshakeFailsWithTheShutdown() async throws {
        // A listener that accepts and never answers: the dial waits for a handshake (5 s).
        let silentGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let silent = try await ServerBootstrap(group: silentGroup).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(silent.localAddress?.port)
        let system = try await ClusterSystem.start(settings: ClusterSettings(name: "dialer"))
        let dial = Task { () -> ClusterError.Code? in
            do {
                _ = try await system.connection(toAddress: NodeAddress(host: "127.0.0.1", port: port))
                return nil
            } catch let error as ClusterError {
                return error.code
            } catch {
                return nil
            }
        }
        while system.peers.withLock({ $0.dialing.isEmpty }) { await Task.yield() }
        let start = ContinuousClock.now
        await system.shutdown()
        let code = await valueOf(dial, within: .seconds(10))
        #expect(code == .some(.shutDown))
        #expect(start.duration(to: .now) < .seconds(2))
        try await silent.close()
        try await silentGroup.shutdownGracefully()
    }
}

/// Counts its calls and notes whether two ever ran at once (they must not: it is an actor).
private actor LoopCounter {
    let executor: EventLoopSerialExecutor
    private var count = 0
    private var running = false
    private var overlaps = 0

    init(executor: EventLoopSerialExecutor) {
        self.executor = executor
    }

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    func increment() -> (count: Int, onLoop: Bool, overlaps: Int) {
        if running { overlaps += 1 }
        running = true
        defer { running = false }
        count += 1
        return (count, executor.loop.inEventLoop, overlaps)
    }
}

/// A suspension the test ends when it chooses.
private final class Parked: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        var watcher: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    func wait() async {
        await withCheckedContinuation { continuation in
            let watcher = state.withLock { state in
                state.waiter = continuation
                defer { state.watcher = nil }
                return state.watcher
            }
            watcher?.resume()
        }
    }

    /// Returns once `wait()` has suspended.
    func untilWaiting() async {
        await withCheckedContinuation { continuation in
            let waiting = state.withLock { state in
                if state.waiter == nil { state.watcher = continuation }
                return state.waiter != nil
            }
            if waiting { continuation.resume() }
        }
    }

    func resume() {
        state.withLock { state in
            defer { state.waiter = nil }
            return state.waiter
        }?.resume()
    }
}

/// `task`'s value, or nil when it has none within `limit` (a lost task cannot be cancelled or
/// awaited in a task group, so the two waits race through one continuation).
private func valueOf<T: Sendable>(_ task: Task<T, Never>, within limit: Duration) async -> T? {
    let once = Mutex<CheckedContinuation<T?, Never>?>(nil)
    return await withCheckedContinuation { continuation in
        once.withLock { $0 = continuation }
        let finish: @Sendable (T?) -> Void = { value in
            once.withLock { stored in
                defer { stored = nil }
                return stored
            }?.resume(returning: value)
        }
        Task.detached { finish(await task.value) }
        Task.detached {
            try? await Task.sleep(for: limit)
            finish(nil)
        }
    }
}

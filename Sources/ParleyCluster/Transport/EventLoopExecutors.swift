import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import NIOCore
import Synchronization

/// Whether the event loops of a group still run the jobs they are given. NIO drops a job enqueued
/// on a loop that has shut down (it prints "Cannot schedule tasks on an EventLoop that has already
/// shut down"), and the task that job belonged to never resumes: whoever awaits it, or waits for a
/// lock or a group commit it leads, waits forever. The group's owner closes the gate before it
/// shuts the group down, and the executors below send later jobs elsewhere.
///
/// Work is handed to the loops inside the gate (``ifOpen(_:)``): `close()` waits until every thread
/// inside has left, so whatever was handed on while the gate was open is queued before the loops
/// start shutting down (NIO runs the jobs a loop accepted until it has stopped). Checking the gate
/// and handing on in two steps would lose the job of a thread preempted between them for the
/// whole shutdown — rare, but a busy two-core machine does it.
public final class EventLoopGate: Sendable {
    /// Set in `word` once the gate is closed.
    private static let closedBit = 1 << 62
    /// The closed bit, plus the number of threads inside the gate.
    private let word = Atomic(0)
    /// Run (on their loops) once the gate closes, see ``EventLoopSerialExecutor``; nil once closed.
    private let onClose = Mutex<[@Sendable () -> Void]?>([])

    public init() {}

    public var isOpen: Bool { word.load(ordering: .acquiring) & Self.closedBit == 0 }

    /// Enters the gate: true while it is open (then call `leave()`), false once it is closed.
    func enter() -> Bool {
        let before = word.wrappingAdd(1, ordering: .acquiring).oldValue
        guard before & Self.closedBit == 0 else {
            word.wrappingSubtract(1, ordering: .releasing)
            return false
        }
        return true
    }

    func leave() {
        word.wrappingSubtract(1, ordering: .releasing)
    }

    /// Runs `body` — which hands work to the group's loops — while the gate is open; nil once it is
    /// closed. `close()` returns only after `body` has.
    func ifOpen<T>(_ body: () throws -> T) rethrows -> T? {
        guard enter() else { return nil }
        defer { leave() }
        return try body()
    }

    /// Hands `job` to `loop` and answers true while the gate is open; answers false otherwise.
    @discardableResult
    func execute(on loop: any EventLoop, _ job: @escaping @Sendable () -> Void) -> Bool {
        ifOpen { loop.execute(job) } != nil
    }

    /// The value of `future` (a future of the group's loops); `.shutDown` once the gate is closed,
    /// instead of waiting for good on a loop that dropped the callback.
    func value<T: Sendable>(of future: EventLoopFuture<T>) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let registered: Void? = ifOpen { future.whenComplete { continuation.resume(with: $0) } }
            if registered == nil { continuation.resume(throwing: ClusterError.systemShutDown()) }
        }
    }

    /// Has `close()` run `action` once the threads inside have left (while the loops still run);
    /// false, and `action` is dropped, when the gate is already closed.
    func whenClosed(_ action: @escaping @Sendable () -> Void) -> Bool {
        onClose.withLock { actions in
            actions?.append(action)
            return actions != nil
        }
    }

    /// Closes the gate and waits for the threads inside to leave; call it before shutting the loops
    /// down, while they still run jobs.
    public func close() {
        let actions = onClose.withLock { actions in
            defer { actions = nil }
            word.bitwiseOr(Self.closedBit, ordering: .sequentiallyConsistent)
            return actions
        }
        waitUntilEmpty()
        for action in actions ?? [] { action() }
    }

    /// Waits (yielding the core) until no thread is inside; it stays so once the gate is closed.
    private func waitUntilEmpty() {
        while word.load(ordering: .acquiring) & ~Self.closedBit != 0 { sched_yield() }
    }
}

/// Runs tasks on one NIO event loop. An incoming call's task prefers the loop its connection reads
/// on, so a call that does not suspend runs and replies without leaving that thread (no hop to the
/// global pool and back). A call that suspends (for I/O, another call, a lock) frees the loop while
/// it waits, as any task does. Once `gate` is closed (the loop is being shut down) jobs go to the
/// global concurrent executor instead: a preference may be ignored, a job must never be lost.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop
    private let gate: EventLoopGate?

    /// `gate`: the gate of `loop`'s group, or nil for a group that is never shut down while tasks
    /// may prefer it (such as NIO's singleton group).
    public init(loop: any EventLoop, gate: EventLoopGate?) {
        self.loop = loop
        self.gate = gate
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        // Inside the gate, so a shutdown waits until the job is queued on the loop.
        if let gate, !gate.enter() {
            globalConcurrentExecutor.enqueue(job)
            return
        }
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        gate?.leave()
    }
}

/// A serial executor on one NIO event loop, for small actors whose every message is short (see
/// `ClusterSystem.eventLoopExecutor`). Once `gate` is closed its jobs run on a serial dispatch
/// queue instead, which starts only after the loop has run every job it accepted before (so the
/// actor never runs on two threads at once).
public final class EventLoopSerialExecutor: SerialExecutor {
    public let loop: any EventLoop
    private let gate: EventLoopGate
    private let fallback: DispatchQueue

    public init(loop: any EventLoop, gate: EventLoopGate) {
        self.loop = loop
        self.gate = gate
        let fallback = DispatchQueue(label: "parley.loop-executor-fallback", attributes: .initiallyInactive)
        self.fallback = fallback
        // Behind every job the loop accepted while the gate was open (the loop still runs then).
        if !gate.whenClosed({ loop.execute { fallback.activate() } }) { fallback.activate() }
    }

    deinit {
        // libdispatch does not let an inactive queue go (a system dropped without a shutdown never
        // activated it); activating an active one does nothing.
        fallback.activate()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let run: @Sendable () -> Void = { job.runSynchronously(on: self.asUnownedSerialExecutor()) }
        if !gate.execute(on: loop, run) {
            fallback.async(execute: run)
        }
    }
}

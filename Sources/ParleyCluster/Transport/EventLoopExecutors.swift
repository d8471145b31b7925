import Dispatch
public import NIOCore
import Synchronization

/// Whether the event loops of a group still run the jobs they are given. NIO drops a job enqueued
/// on a loop that has shut down (it prints "Cannot schedule tasks on an EventLoop that has already
/// shut down"), and the task that job belonged to never resumes: whoever awaits it, or waits for a
/// lock or a group commit it leads, waits forever. The group's owner closes the gate before it
/// shuts the group down, and the executors below send later jobs elsewhere.
///
/// NIO still runs the jobs a loop accepts while it shuts down; only a loop that has finished
/// shutting down drops them. So a job checked against the open gate and handed on at once is lost
/// only if its thread stalls between the two for the whole shutdown.
public final class EventLoopGate: Sendable {
    private struct State {
        var isOpen = true
        /// Run (on their loops) once the gate closes; see ``EventLoopSerialExecutor``.
        var onClose: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())
    /// `state.isOpen`, readable without the lock (the task executor's per-job check).
    private let open = Atomic(true)

    public init() {}

    public var isOpen: Bool { open.load(ordering: .acquiring) }

    /// Hands `job` to `loop` and answers true while the gate is open; answers false otherwise.
    /// Under the gate's lock, so a job handed on is queued ahead of the jobs `close()` schedules.
    func execute(on loop: any EventLoop, _ job: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            guard state.isOpen else { return false }
            loop.execute(job)
            return true
        }
    }

    /// Runs `action` when the gate closes (at once if it is closed).
    func whenClosed(_ action: @escaping @Sendable () -> Void) {
        let closed = state.withLock { state in
            if state.isOpen { state.onClose.append(action) }
            return !state.isOpen
        }
        if closed { action() }
    }

    /// Closes the gate; call it before shutting the loops down, while they still run jobs.
    public func close() {
        let actions = state.withLock { state -> [@Sendable () -> Void] in
            guard state.isOpen else { return [] }
            state.isOpen = false
            open.store(false, ordering: .releasing)
            defer { state.onClose = [] }
            return state.onClose
        }
        for action in actions { action() }
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
        if let gate, !gate.isOpen {
            globalConcurrentExecutor.enqueue(job)
            return
        }
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
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
        gate.whenClosed { loop.execute { fallback.activate() } }
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

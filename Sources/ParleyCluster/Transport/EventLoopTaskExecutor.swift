public import NIOCore

/// Runs tasks on one NIO event loop. An incoming call's task prefers the loop its connection reads
/// on, so a call that does not suspend runs and replies without leaving that thread (no hop to the
/// global pool and back). A call that suspends (for I/O, another call, a lock) frees the loop while
/// it waits, as any task does.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let loop: any EventLoop

    public init(loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small persistent pool of OS threads for data-parallel loops over the CPU cores.
///
/// ``parallelFor(_:_:)`` hands out indices `0..<count` dynamically to the worker threads and to the
/// calling thread, and returns when every index is done. The caller never waits for a worker that
/// has not started (on a busy machine it simply does all the work itself); it waits only for
/// indices a worker has claimed. Workers spin briefly between jobs (a decode step issues hundreds
/// of short jobs), yielding the CPU now and then, and then sleep on a condition variable, so an
/// idle engine costs no CPU. One `parallelFor` runs at a time; the engine has one compute thread.
///
/// `@unchecked Sendable`: `ticket` packs the job's generation (high 32 bits) with the next index
/// (low 32 bits); a worker claims an index only by a compare-and-swap that also checks the
/// generation, so it touches `job` only while that job has unfinished indices, and the caller
/// replaces `job` only after all indices of the previous job completed. A new job first closes the
/// ticket (its new generation with the index ``closed``), then sets the job and its count, then
/// opens the ticket: a worker still holding the previous job's used-up ticket cannot claim an
/// index against the new count. The condition variable's mutex guards sleeping and waking.
final class ThreadPool: @unchecked Sendable {
    /// Threads that run a job, including the caller.
    let threadCount: Int
    private let ticket = Atomic<UInt64>(0)
    private let jobCount = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var generation: UInt64 = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []
    /// Spin iterations before a worker sleeps.
    private let spinLimit: Int
    /// The ticket's index while a new job is being set up.
    private static let closed: UInt64 = 0xFFFF_FFFF

    /// Creates a pool of `threadCount` threads in all (the caller plus `threadCount - 1` workers).
    /// - Parameter threadCount: defaults to the number of online processors.
    init(threadCount: Int = ThreadPool.processorCount, spinLimit: Int = 200_000) {
        self.threadCount = max(1, threadCount)
        self.spinLimit = spinLimit
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        for _ in 1..<self.threadCount {
            let box = Unmanaged.passRetained(self)
            var thread = pthread_t()
            let result = pthread_create(
                &thread, nil,
                { raw in
                    let pool = Unmanaged<ThreadPool>.fromOpaque(raw!).takeRetainedValue()
                    pool.workerLoop()
                    return nil
                }, box.toOpaque())
            if result == 0 { threads.append(thread) } else { box.release() }
        }
    }

    /// The number of processors online.
    static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Stops and joins the workers. The pool must not be used afterwards.
    func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }

    deinit {
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Calls `body(i)` for every `i` in `0..<count`, spread over the pool; returns when all calls returned.
    func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if count == 1 || threads.isEmpty {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { body in
            generation = (generation + 1) & 0xFFFF_FFFF
            // Closed first: from here on no claim can succeed against the previous ticket.
            ticket.store(generation << 32 | Self.closed, ordering: .sequentiallyConsistent)
            job = body
            jobCount.store(count, ordering: .sequentiallyConsistent)
            completed.store(0, ordering: .sequentiallyConsistent)
            ticket.store(generation << 32, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(condition)
                pthread_mutex_unlock(mutex)
            }
            work(generation: generation)
            var spins = 0
            while completed.load(ordering: .acquiring) < count {
                spins += 1
                if spins & 255 == 0 { sched_yield() }
            }
            job = nil
        }
    }

    /// Claims and runs indices of the job of `generation` until none are left.
    private func work(generation: UInt64) {
        while true {
            var current = ticket.load(ordering: .sequentiallyConsistent)
            var index = 0
            while true {
                guard current >> 32 == generation else { return }
                if current & 0xFFFF_FFFF == Self.closed {
                    // The caller is setting this job up; it opens the ticket right after.
                    current = ticket.load(ordering: .sequentiallyConsistent)
                    continue
                }
                index = Int(current & 0xFFFF_FFFF)
                guard index < jobCount.load(ordering: .sequentiallyConsistent) else { return }
                let (exchanged, original) = ticket.compareExchange(
                    expected: current, desired: current + 1, ordering: .sequentiallyConsistent)
                if exchanged { break }
                current = original
            }
            job!(index)
            completed.add(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        var seen: UInt64 = 0
        while true {
            var spins = 0
            var current = ticket.load(ordering: .sequentiallyConsistent) >> 32
            while current == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins & 1023 == 0 { sched_yield() }
                if spins >= spinLimit {
                    pthread_mutex_lock(mutex)
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    while ticket.load(ordering: .sequentiallyConsistent) >> 32 == seen
                        && !stopping.load(ordering: .sequentiallyConsistent)
                    {
                        pthread_cond_wait(condition, mutex)
                    }
                    sleeping.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
                current = ticket.load(ordering: .sequentiallyConsistent) >> 32
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = current
            work(generation: current)
        }
    }
}

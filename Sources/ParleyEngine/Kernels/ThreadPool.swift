import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small persistent pool of OS threads for data-parallel loops over the CPU cores.
///
/// ``parallelFor(_:_:)`` hands out indices `0..<count` dynamically to the worker threads and to the
/// calling thread, and returns when all are done. Workers spin briefly between jobs (a decode step
/// issues hundreds of short jobs) and then sleep on a condition variable, so an idle engine costs
/// no CPU. Only one `parallelFor` runs at a time; callers serialize (the engine has one compute thread).
///
/// `@unchecked Sendable`: `job` and `jobCount` are written only by the caller of `parallelFor` before
/// it publishes them by incrementing `generation` (sequentially consistent) and read by workers
/// after they observe that increment; `pending` returning to zero orders their reads before the
/// next write. The condition variable's mutex guards sleeping and waking.
final class ThreadPool: @unchecked Sendable {
    /// Threads that run a job, including the caller.
    let threadCount: Int
    private let generation = Atomic<Int>(0)
    private let nextIndex = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleeping = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var jobCount = 0
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []
    /// Spin iterations before a worker sleeps.
    private let spinLimit: Int

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
            job = body
            jobCount = count
            nextIndex.store(0, ordering: .sequentiallyConsistent)
            pending.store(threads.count, ordering: .sequentiallyConsistent)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(condition)
                pthread_mutex_unlock(mutex)
            }
            runJob()
            while pending.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }

    private func runJob() {
        guard let job else { return }
        let count = jobCount
        while true {
            let i = nextIndex.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            job(i)
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .sequentiallyConsistent) == seen {
                if stopping.load(ordering: .relaxed) { return }
                spins += 1
                if spins >= spinLimit {
                    pthread_mutex_lock(mutex)
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    while generation.load(ordering: .sequentiallyConsistent) == seen
                        && !stopping.load(ordering: .sequentiallyConsistent)
                    {
                        pthread_cond_wait(condition, mutex)
                    }
                    sleeping.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(mutex)
                    spins = 0
                }
            }
            if stopping.load(ordering: .relaxed) { return }
            seen = generation.load(ordering: .sequentiallyConsistent)
            runJob()
            pending.subtract(1, ordering: .releasing)
        }
    }
}

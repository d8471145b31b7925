// Rate-limit decisions per second, each including its remote call: a client node asks the shard
// node over loopback TCP through `RateLimitClient` (ring lookup + remote `acquire`), from N
// concurrent callers. Usage: parley-bench-ratelimit [--seconds S] [--concurrency N] [--users U]
import Foundation
import Logging
import ParleyCluster
import ParleyCompletion
import ParleyProtocol
import Synchronization

struct Options {
    var seconds = 5.0
    var concurrency = 64
    var users = 10_000

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { break }
            switch flag {
            case "--seconds": seconds = Double(value) ?? seconds
            case "--concurrency": concurrency = Int(value) ?? concurrency
            case "--users": users = Int(value) ?? users
            default: fatalError("unknown option \(flag)")
            }
        }
    }
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

let options = Options(arguments: CommandLine.arguments)
let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let shardSystem = try await ClusterSystem.start(settings: ClusterSettings(name: "shard"), logger: logger)
let clientSystem = try await ClusterSystem.start(
    settings: ClusterSettings(name: "client", seeds: [shardSystem.node.address]), logger: logger)
shardSystem.allowParleyProtocols()
clientSystem.allowParleyProtocols()
let limiter = RateLimiter(
    actorSystem: shardSystem, configuration: RateLimitConfiguration(requestsPerMinute: 1_000_000, concurrentRequests: 1_000_000))
shardSystem.receptionist.register(limiter, key: ServiceKeys.rateLimiter)
for await ids in clientSystem.receptionist.listing(ServiceKeys.rateLimiter) where !ids.isEmpty { break }

let client = RateLimitClient(system: clientSystem, logger: logger)
let counter = Atomic<Int>(0)
let refused = Atomic<Int>(0)

/// Runs the callers for `seconds`, each preferring `executor` when given.
func run(for seconds: Double, count: Bool, executor: (any TaskExecutor)? = nil) async throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    try await withThrowingTaskGroup(of: Void.self) { group in
        for caller in 0..<options.concurrency {
            group.addTask(executorPreference: executor) {
                var number = 0
                while ContinuousClock.now < deadline {
                    let user = "user\((caller * 7919 + number) % options.users)"
                    let decision = try await client.acquire(userID: user, requestID: "\(caller)-\(number)")
                    if !decision.allowed { refused.add(1, ordering: .relaxed) }
                    number += 1
                    if count { counter.add(1, ordering: .relaxed) }
                }
            }
        }
        try await group.waitForAll()
    }
}

try await run(for: 1, count: false)  // warm-up: connections, caches
// Two kinds of caller: tasks on the global pool, and tasks on the client node's event loop — where
// a completion node runs while it serves the gateway's call that asks for the decision.
let loop = try await clientSystem.callExecutor(for: shardSystem.node)
for (label, executor) in [("callers on the pool", nil), ("callers on the loop", loop)] as [(String, (any TaskExecutor)?)] {
    counter.store(0, ordering: .relaxed)
    let cpuBefore = cpuSeconds()
    let start = ContinuousClock.now
    try await run(for: options.seconds, count: true, executor: executor)
    let elapsed = start.duration(to: .now)
    let cpu = cpuSeconds() - cpuBefore
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let calls = counter.load(ordering: .relaxed)
    print(
        String(
            format: "rate-limit decisions, %@: %d in %.2f s = %.0f/s with %d concurrent callers (refused %d); CPU %.1f µs per decision (both nodes, one process)",
            label, calls, wall, Double(calls) / wall, options.concurrency, refused.load(ordering: .relaxed),
            cpu / Double(max(1, calls)) * 1e6))
}
await clientSystem.shutdown()
await shardSystem.shutdown()

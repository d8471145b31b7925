import Distributed
import Foundation
import ParleyCluster

/// Round trip, concurrent calls and stream throughput against a server child process.
func benchCalls(into report: inout Report, streams: Bool, calls: Bool) async throws {
    let child = try ChildProcess(arguments: ["serve"])
    defer { child.kill() }
    guard let ready = await child.firstLine(startingWith: "READY"), let port = Int(ready[0]),
        let uid = UInt64(ready[1])
    else { throw ClusterError(.nodeDown, "server child did not start") }
    var settings = ClusterSettings(name: "bench-client")
    settings.runsMembership = false
    let system = try await ClusterSystem.start(settings: settings, logger: quietLogger())
    let serverNode = ClusterNode(name: "bench-server", address: NodeAddress(host: "127.0.0.1", port: port), uid: uid)
    let target = try BenchTarget.resolve(id: ClusterActorID(node: serverNode, path: BenchTarget.path), using: system)

    if calls {
        // Two kinds of caller: a task on the global pool (an HTTP handler in the gateway), and a task
        // on the node's event loop — where a role's calls run while it serves a call, since incoming
        // calls start on the loop (`runsCallsOnEventLoop`) and a node has one loop.
        let loop = try await system.callExecutor(for: serverNode)
        for onLoop in [false, true] {
            let caller = onLoop ? "caller on the loop" : "caller on the pool"
            print("remote calls (sequential round trip, \(caller))…")
            var samples = try await roundTrips(target, count: 20_000, executor: onLoop ? loop : nil)
            samples.sort()
            let p50 = quantile(samples, 0.5).microseconds
            report.add("round trip p50, \(caller)", "\(format(p50)) µs", goal: "≤ 60 µs", met: p50 <= 60)
            report.add("round trip p99, \(caller)", "\(format(quantile(samples, 0.99).microseconds)) µs")
        }
        for onLoop in [false, true] {
            let caller = onLoop ? "callers on the loop" : "callers on the pool"
            print("remote calls (64 concurrent \(caller), 3 s)…")
            let rate = try await concurrentCallRate(target, callers: 64, seconds: 3, executor: onLoop ? loop : nil)
            report.add("calls/s, 64 \(caller)", format(rate, 0), goal: "≥ 100000", met: rate >= 100_000)
        }
    }

    if streams {
        print("stream of small elements…")
        _ = try await consume(target.numbers(100_000))
        let count = 2_000_000
        let start = ContinuousClock.now
        let received = try await consume(target.numbers(count))
        precondition(received == count, "stream delivered \(received) of \(count)")
        let rate = Double(count) / start.duration(to: .now).seconds
        report.add("stream elements/s", format(rate, 0), goal: "≥ 1000000", met: rate >= 1_000_000)
    }
    await system.shutdown()
}

private func consume(_ stream: RemoteStream<Int>) async throws -> Int {
    var count = 0
    for try await _ in stream { count += 1 }
    return count
}

/// Calls per second made by `callers` concurrent tasks, each preferring `executor` when given.
private func concurrentCallRate(
    _ target: BenchTarget, callers: Int, seconds: Int, executor: (any TaskExecutor)?
) async throws -> Double {
    let stopAt = ContinuousClock.now.advanced(by: .seconds(seconds))
    let start = ContinuousClock.now
    let total = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<callers {
            group.addTask(executorPreference: executor) {
                var count = 0
                while ContinuousClock.now < stopAt {
                    for i in 0..<50 { _ = try await target.ping(i) }
                    count += 50
                }
                return count
            }
        }
        return try await group.reduce(0, +)
    }
    return Double(total) / start.duration(to: .now).seconds
}

/// Durations of `count` sequential calls (after a warm-up), made from a task preferring `executor`.
private func roundTrips(_ target: BenchTarget, count: Int, executor: (any TaskExecutor)?) async throws -> [Duration] {
    try await withTaskExecutorPreference(executor) {
        for i in 0..<3000 { _ = try await target.ping(i) }
        var samples: [Duration] = []
        samples.reserveCapacity(count)
        let clock = ContinuousClock()
        for i in 0..<count {
            let start = clock.now
            _ = try await target.ping(i)
            samples.append(start.duration(to: clock.now))
        }
        return samples
    }
}

import Foundation
import ParleyCluster
import ParleyProtocol
import ParleyTestSupport
import Synchronization

/// `--replicated`: replicated appends/s and restart catch-up on a local three-node cluster of
/// `parley node --roles conversation` processes, driven by a client cluster member in this process.
enum ReplicatedBench {
    struct Options {
        var appends = 50_000
        var writers = 64
        var users = 1_000
        var missed = 100_000
        var data: String
    }

    static func run(_ options: Options) async throws {
        let root = URL(fileURLWithPath: options.data).appendingPathComponent("replicated-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        let names = ["c0", "c1", "c2"]
        let cluster = LocalCluster(root: root, names: names)
        say("replicated: starting \(names.count) `parley node --roles conversation` processes (\(ParleyProcess.executableURL.path)) in \(root.path)")
        do {
            try await cluster.start()
            try await measure(cluster, options)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
        try? FileManager.default.removeItem(at: root)
    }

    static func measure(_ cluster: LocalCluster, _ options: Options) async throws {
        let owners = (0..<options.users).map { String(format: "ruser-%05d", $0) }
        let allStores = try cluster.names.map { try cluster.store($0) }
        // One conversation per user, created through all three nodes.
        let conversations = Mutex<[String: String]>([:])
        try await forEachConcurrently(owners.indices, width: options.writers) { index in
            let owner = owners[index]
            let id = try await allStores[index % allStores.count].createConversation(owner: owner, title: owner, model: nil).id
            conversations.withLock { $0[owner] = id }
        }
        let ids = conversations.withLock { $0 }
        // Every replica holds every conversation before the load starts (as it would for
        // conversations made earlier): an append reaching a replica its conversation has not
        // reached yet relies on a read repair, which may time out on a loaded machine.
        let settled = ContinuousClock.now + .seconds(60)
        while await !cluster.digestsAgree(cluster.names) {
            guard ContinuousClock.now < settled else { throw BenchFailure("the conversations never reached every node") }
            try await Task.sleep(for: .milliseconds(50))
        }
        var generator = TextGenerator(seed: 5)
        let texts = (0..<4_096).map { _ in generator.message(minWords: 4, maxWords: 60) }

        // Warm-up, then the measured load: `writers` tasks, each appending to users spread over all
        // partitions, each append acknowledged once two replicas hold it durably.
        _ = try await appendLoad(count: 2_000, stores: allStores, owners: owners, ids: ids, texts: texts, writers: options.writers)
        let nodesCPU = cluster.nodesCPUSeconds
        let clientCPU = cpuSeconds()
        let load = try await appendLoad(
            count: options.appends, stores: allStores, owners: owners, ids: ids, texts: texts, writers: options.writers)
        let perAppend = { (seconds: Double) in seconds / Double(options.appends) * 1e6 }
        say(String(format: "replicated appends: %d by %d concurrent writers over %d users through 3 nodes (RF 3, ack after 2 durable): %.0f/s, latency p50 %.1f ms p99 %.1f ms (goal ≥ 5,000/s)",
                   options.appends, options.writers, options.users, load.rate, load.latency.percentile(50), load.latency.percentile(99)))
        say(String(format: "  CPU per append: %.0f µs in the three nodes together, %.0f µs in the client (%d cores here)",
                   perAppend(cluster.nodesCPUSeconds - nodesCPU), perAppend(cpuSeconds() - clientCPU),
                   ProcessInfo.processInfo.activeProcessorCount))

        // Catch-up: c2 is killed, the others take `missed` appends, c2 restarts on its folder.
        cluster.kill("c2")
        try await cluster.waitForRing(names: ["c0", "c1"])
        let survivors = try ["c0", "c1"].map { try cluster.store($0) }
        let missed = try await appendLoad(
            count: options.missed, stores: survivors, owners: owners, ids: ids, texts: texts, writers: options.writers)
        say(String(format: "  with c2 killed (SIGKILL): %d appends on two nodes at %.0f/s", options.missed, missed.rate))
        let deadline = ContinuousClock.now + .seconds(60)
        while await !cluster.digestsAgree(["c0", "c1"]) {
            guard ContinuousClock.now < deadline else { throw BenchFailure("c0 and c1 never agreed") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let othersCPU = cluster.nodesCPUSeconds
        let restart = ContinuousClock.now
        try await cluster.startNode("c2")
        let listening = ContinuousClock.now
        while await !cluster.digestsAgree(["c0", "c1", "c2"]) {
            guard ContinuousClock.now < restart + .seconds(120) else { throw BenchFailure("c2 never caught up") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let total = (ContinuousClock.now - restart).seconds
        let restartedCPU = cluster.processes["c2"]!.cpuSeconds
        let survivorsCPU = cluster.nodesCPUSeconds - restartedCPU - othersCPU
        say(String(format: "catch-up: restarted c2 (missed %d messages, %d stored in all) equal digests with c0 and c1 %.1f s after its start (%.1f s after its ready line) (goal ≤ 10 s)",
                   options.missed, options.appends + options.missed + 2_000, total, (ContinuousClock.now - listening).seconds))
        say(String(format: "  CPU during the catch-up: %.1f s in c2, %.1f s in c0 and c1 together", restartedCPU, survivorsCPU))
    }

    struct LoadResult {
        var rate: Double
        var latency: Samples
    }

    /// `count` appends by `writers` tasks; writer `w`'s `i`-th append goes to user
    /// `(w + i·writers) mod users` through store `(w + i) mod stores`.
    static func appendLoad(
        count: Int, stores: [$ConversationStoreProtocol], owners: [String], ids: [String: String], texts: [String],
        writers: Int
    ) async throws -> LoadResult {
        let perWriter = max(1, count / writers)
        let start = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for w in 0..<writers {
                group.addTask {
                    var samples: [Double] = []
                    samples.reserveCapacity(perWriter)
                    for i in 0..<perWriter {
                        let owner = owners[(w + i * writers) % owners.count]
                        let store = stores[(w + i) % stores.count]
                        let began = ContinuousClock.now
                        _ = try await store.appendMessage(
                            owner: owner, conversationID: ids[owner]!,
                            MessageDraft(role: i % 2 == 0 ? .user : .assistant, content: texts[(w * 31 + i) % texts.count]))
                        samples.append((ContinuousClock.now - began).seconds * 1000)
                    }
                    return samples
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all
        }
        var samples = Samples()
        for value in latencies { samples.add(value) }
        return LoadResult(rate: Double(perWriter * writers) / (ContinuousClock.now - start).seconds, latency: samples)
    }

    /// Runs `body` for every element with at most `width` running at once.
    static func forEachConcurrently(
        _ items: Range<Int>, width: Int, _ body: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = items.lowerBound
            while next < items.upperBound && next - items.lowerBound < width {
                let item = next
                group.addTask { try await body(item) }
                next += 1
            }
            while try await group.next() != nil {
                if next < items.upperBound {
                    let item = next
                    group.addTask { try await body(item) }
                    next += 1
                }
            }
        }
    }
}

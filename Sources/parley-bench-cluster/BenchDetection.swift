import Foundation
import ParleyCluster

/// Kill-to-detection time: three member processes with production membership timings; each round
/// kills one with SIGKILL and measures, for each of the two others, the time until it reports the
/// victim `dead`; then restarts the victim on the same port and waits until all see each other.
func benchDetection(into report: inout Report, kills: Int = 12) async throws {
    print("kill-to-detection (3 member processes, \(kills) kills)…")
    let (events, sink) = AsyncStream<(String, [String])>.makeStream(bufferingPolicy: .unbounded)
    var iterator = events.makeAsyncIterator()
    var children: [String: ChildProcess] = [:]
    var ports: [String: Int] = [:]
    var uids: [String: String] = [:]
    /// "observer>member#uid" for every joined/alive event seen so far.
    var view: Set<String> = []
    let names = ["m0", "m1", "m2"]
    defer { for child in children.values { child.kill() } }

    func spawn(_ name: String, port: Int, seed: Int?) throws {
        let child = try ChildProcess(arguments: ["member", name, String(port)] + (seed.map { [String($0)] } ?? []))
        children[name] = child
        Task {
            for await line in child.lines {
                sink.yield((name, line.split(separator: " ").map(String.init)))
            }
        }
    }
    var timerToken = 0
    /// Reads events until `done` says so, or fails after `limit` (a timer event ends the wait).
    func waitFor(_ what: String, limit: Duration = .seconds(20), _ done: ((String, [String])) -> Bool) async throws {
        timerToken += 1
        let token = "\(timerToken)"
        let timer = Task {
            try await Task.sleep(for: limit)
            sink.yield(("#timer", [token]))
        }
        defer { timer.cancel() }
        while let next = await iterator.next() {
            let (name, words) = next
            if name == "#timer" {
                if words == [token] { break }
                continue
            }
            if words.first == "EVENT", words[1] == "joined" || words[1] == "alive" {
                view.insert("\(name)>\(words[2])#\(words[3])")
            }
            if done(next) { return }
        }
        throw ClusterError(.timedOut, "detection bench: timed out waiting for \(what)")
    }
    /// Waits until every running member reports every other one (current uids) as joined.
    func awaitConverged() async throws {
        var expected: Set<String> = []
        for observer in names {
            for other in names where other != observer { expected.insert("\(observer)>\(other)#\(uids[other]!)") }
        }
        if expected.isSubset(of: view) { return }
        try await waitFor("convergence") { _ in expected.isSubset(of: view) }
    }
    func ready(_ name: String) async throws {
        try await waitFor("\(name) READY") { who, words in
            guard who == name, words.first == "READY" else { return false }
            ports[name] = Int(words[1])!
            uids[name] = words[2]
            return true
        }
    }

    try spawn("m0", port: 0, seed: nil)
    try await ready("m0")
    try spawn("m1", port: 0, seed: ports["m0"])
    try await ready("m1")
    try spawn("m2", port: 0, seed: ports["m0"])
    try await ready("m2")
    try await awaitConverged()

    var samples: [Double] = []
    for round in 0..<kills {
        let victim = names[round % names.count]
        let observers = names.filter { $0 != victim }
        let victimUID = uids[victim]!
        let killedAt = wallNanos()
        children[victim]!.kill()
        var pending = Set(observers)
        try await waitFor("\(victim) declared dead") { name, words in
            if words.first == "EVENT", words[1] == "dead", words[2] == victim, words[3] == victimUID,
                pending.remove(name) != nil
            {
                samples.append(Double(Int64(words[4])! - killedAt) / 1e9)
            }
            return pending.isEmpty
        }
        try spawn(victim, port: ports[victim]!, seed: ports[observers[0]])
        try await ready(victim)
        try await awaitConverged()
    }
    samples.sort()
    let p50 = quantile(samples, 0.5)
    let maximum = samples.last ?? .infinity
    report.add(
        "detection p50 (\(samples.count) observations)", "\(format(p50, 2)) s", goal: "≤ 2 s", met: p50 <= 2)
    report.add("detection max", "\(format(maximum, 2)) s", goal: "≤ 3 s", met: maximum <= 3)
}

import Foundation
import ParleyCluster

/// False "dead" verdicts under CPU saturation: three member processes with production membership
/// timings while burner processes keep every core busy (at the members' priority) for `seconds`.
/// Every `dead` event is false (nobody is killed); `suspect` events that were refuted are counted too.
func benchSaturation(into report: inout Report, seconds: Int) async throws {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    print("saturation: 3 members, \(cores * 2) busy-looping threads on \(cores) cores for \(seconds) s…")
    var members: [String: ChildProcess] = [:]
    var burners: [ChildProcess] = []
    defer {
        for child in members.values { child.kill() }
        for child in burners { child.kill() }
    }
    let (events, sink) = AsyncStream<(String, [String])>.makeStream(bufferingPolicy: .unbounded)
    func spawn(_ name: String, seed: Int?) throws {
        let child = try ChildProcess(arguments: ["member", name, "0"] + (seed.map { [String($0)] } ?? []))
        members[name] = child
        Task {
            for await line in child.lines { sink.yield((name, line.split(separator: " ").map(String.init))) }
        }
    }
    var iterator = events.makeAsyncIterator()
    /// "observer>member" pairs seen joined, counted whichever wait reads the event.
    var joinedPairs: Set<String> = []
    func note(_ who: String, _ words: [String]) {
        if words.first == "EVENT", words[1] == "joined", words[2] != who { joinedPairs.insert("\(who)>\(words[2])") }
    }
    func readyPort(_ name: String) async throws -> Int {
        while let (who, words) = await iterator.next() {
            note(who, words)
            if who == name, words.first == "READY" { return Int(words[1])! }
        }
        throw ClusterError(.shutDown, "member \(name) ended before READY")
    }
    try spawn("m0", seed: nil)
    let seed = try await readyPort("m0")
    try spawn("m1", seed: seed)
    _ = try await readyPort("m1")
    try spawn("m2", seed: seed)
    _ = try await readyPort("m2")
    // Let the three see each other before the load starts.
    while joinedPairs.count < 6, let (who, words) = await iterator.next() { note(who, words) }
    for _ in 0..<2 { burners.append(try ChildProcess(arguments: ["burn", String(cores)])) }

    let end = ContinuousClock.now.advanced(by: .seconds(seconds))
    let timer = Task {
        try await Task.sleep(until: end)
        sink.yield(("#end", []))
    }
    defer { timer.cancel() }
    var dead: [String] = []
    var suspects = 0
    var loadSamples: [Double] = []
    let sampler = Task {
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(10))
            sink.yield(("#load", []))
        }
    }
    defer { sampler.cancel() }
    while let (who, words) = await iterator.next() {
        if who == "#end" { break }
        if who == "#load" {
            if let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
                let value = Double(text.split(separator: " ")[0])
            {
                loadSamples.append(value)
            }
            continue
        }
        guard words.first == "EVENT" else { continue }
        if words[1] == "dead" { dead.append("\(who) saw \(words[2]) dead") }
        if words[1] == "suspect" { suspects += 1 }
    }
    let meanLoad = loadSamples.isEmpty ? 0 : loadSamples.reduce(0, +) / Double(loadSamples.count)
    report.add("load average during saturation (mean)", format(meanLoad, 1), goal: "≥ \(cores) (cores busy)")
    report.add("suspicions raised (refuted)", "\(suspects)")
    report.add(
        "false dead verdicts in \(seconds) s", "\(dead.count)" + (dead.isEmpty ? "" : " (\(dead.prefix(3).joined(separator: "; ")))"),
        goal: "0", met: dead.isEmpty)
}

/// `parley-bench-cluster burn THREADS`: keeps THREADS threads busy until the parent goes.
func runBurner(threads: Int) -> Never {
    exitWhenParentGoes()
    for _ in 0..<max(1, threads) {
        Thread.detachNewThread {
            var x: UInt64 = 1
            while true {
                x = x &* 6_364_136_223_846_793_005 &+ 1
                if x == 0 { print(x) }
            }
        }
    }
    while true { sleep(3600) }
}

// parley-bench-history: local figures of the conversation service (ParleyConversation).
// Usage: parley-bench-history [--messages N] [--users N] [--queries N] [--appends N] [--writers N] [--durability]
//                             [--data DIR] [--fresh] [--skip-appends] [--skip-snapshot] [--optimize]
//        parley-bench-history --replicated [--appends N] [--writers N] [--users N] [--missed N] [--data DIR]
// --replicated starts three `parley node --roles conversation` processes (the `parley` next to this
// executable, or $PARLEY_BIN) and measures replicated appends/s and the catch-up of a restarted node.
//        parley-bench-history --turns [--appends N] [--writers N] [--data DIR]
// --turns measures what a served chat turn costs the store: a new chat, its question, the run, the
// 16-token answer logged and stored (TurnBench.swift).
//        parley-bench-history drive load|verify|converge --seed HOST:PORT --cluster-key FILE …
// drive: the client the multi-process tests use to write to and check conversation nodes (Driver.swift).
import Foundation
import ParleyConversation
import ParleyProtocol

struct Options {
    var messages = 1_000_000
    var users = 10_000
    var queries = 2_000
    var appends = 20_000
    var writers = 64
    var data = FileManager.default.temporaryDirectory.appendingPathComponent("parley-bench-history").path
    var fresh = false
    var skipAppends = false
    var skipSnapshot = false
    var optimize = false
    var durability = false
    var replicated = false
    var turns = false
    var missed = 100_000
    var usersGiven = false
    var appendsGiven = false

    static let usage = """
        usage: parley-bench-history [--messages N] [--users N] [--queries N] [--appends N] [--writers N] [--durability]
                                    [--data DIR] [--fresh] [--skip-appends] [--skip-snapshot] [--optimize]
               parley-bench-history --replicated [--appends N] [--writers N] [--users N] [--missed N] [--data DIR]
               parley-bench-history --turns [--appends N] [--writers N] [--data DIR]
               parley-bench-history drive load|verify|converge --seed HOST:PORT --cluster-key FILE …
        """

    /// Prints `problem` and the usage, then exits with status 2 (0 for `--help`).
    static func fail(_ problem: String?) -> Never {
        if let problem { FileHandle.standardError.write(Data("parley-bench-history: \(problem)\n".utf8)) }
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(problem == nil ? 0 : 2)
    }

    init(_ arguments: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < arguments.count else { Self.fail("missing value for \(arguments[i - 1])") }
            return arguments[i]
        }
        func count() -> Int {
            let text = value()
            guard let number = Int(text), number >= 0 else { Self.fail("\(arguments[i - 1]) needs a count, not '\(text)'") }
            return number
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--help", "-h": Self.fail(nil)
            case "--messages": messages = count()
            case "--users": users = count(); usersGiven = true
            case "--queries": queries = count()
            case "--appends": appends = count(); appendsGiven = true
            case "--writers": writers = count()
            case "--data": data = value()
            case "--fresh": fresh = true
            case "--skip-appends": skipAppends = true
            case "--skip-snapshot": skipSnapshot = true
            case "--optimize": optimize = true
            case "--durability": durability = true
            case "--replicated": replicated = true
            case "--turns": turns = true
            case "--missed": missed = count()
            default: Self.fail("unknown argument \(arguments[i])")
            }
            i += 1
        }
    }
}

/// CPU seconds (user + system) this process has used so far: a load-independent cost measure.
func cpuSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Writes a line straight to standard output (unbuffered, so progress shows when piped).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

if CommandLine.arguments.count >= 3, CommandLine.arguments[1] == "drive" {
    // `_exit`, not `exit`: the driver's output is written unbuffered, and running the process's
    // exit handlers while its cluster system is still shutting down on other threads once left a
    // probe that had printed everything hanging instead of exiting (a CI run of
    // ConversationPartitionProcessTests).
    do {
        _exit(try await Driver.run(Array(CommandLine.arguments.dropFirst(2))))
    } catch {
        FileHandle.standardError.write(Data("drive: \(error)\n".utf8))
        _exit(2)
    }
}
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--durability-child" {
    try await DurabilityCheck.runWriter(path: CommandLine.arguments[2])
}
/// Bytes this process has passed to write(2) so far (Linux /proc/self/io `wchar`), 0 elsewhere.
func bytesWritten() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("wchar:") {
        return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return 0
}

let options = Options(CommandLine.arguments)
let clock = ContinuousClock()
try FileManager.default.createDirectory(atPath: options.data, withIntermediateDirectories: true)
if options.turns {
    var turns = TurnBench.Options(data: options.data)
    turns.writers = options.writers
    if options.appendsGiven { turns.turns = options.appends }
    try await TurnBench.run(turns)
    exit(0)
}
if options.replicated {
    var replicated = ReplicatedBench.Options(data: options.data)
    replicated.writers = options.writers
    replicated.missed = options.missed
    if options.usersGiven { replicated.users = options.users }
    if options.appendsGiven { replicated.appends = options.appends }
    try await ReplicatedBench.run(replicated)
    exit(0)
}
say("parley-bench-history: \(options.messages) messages, \(options.users) users, data in \(options.data)")

// MARK: 0. kill -9 durability (optional).
if options.durability {
    var rng = SystemRandomNumberGenerator()
    for round in 1...3 {
        let delay = Int.random(in: 700...2500, using: &rng)
        let (acknowledged, missing) = try await DurabilityCheck.run(
            executable: CommandLine.arguments[0], folder: options.data, killAfterMilliseconds: delay)
        say("durability round \(round): writer killed with SIGKILL after \(delay) ms; \(acknowledged) acknowledged appends, \(missing) missing after reopen")
        if missing > 0 || acknowledged == 0 { exit(1) }
    }
}

// MARK: 1. Local appends through group commit.
if !options.skipAppends {
let appendPath = options.data + "/appends.sqlite"
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: appendPath + suffix) }
let appendDB = try ConversationDatabase(configuration: .init(path: appendPath))
let appendsPerWriter = max(1, options.appends / options.writers)
var appendConversations: [String] = []
for w in 0..<options.writers {
    appendConversations.append(try await appendDB.createConversation(owner: "writer-\(w)").id)
}
var sequentialGen = TextGenerator(seed: 7)
let sequentialCount = min(2_000, options.appends)
let sequentialTexts = (0..<sequentialCount).map { _ in sequentialGen.message() }
let sequentialStart = clock.now
for text in sequentialTexts {
    _ = try await appendDB.appendMessage(
        owner: "writer-0", conversationID: appendConversations[0], NewMessage(role: .user, content: text))
}
let sequentialRate = Double(sequentialCount) / (clock.now - sequentialStart).seconds
let writerTexts = (0..<options.writers).map { _ in (0..<appendsPerWriter).map { _ in sequentialGen.message() } }
let statsBefore = appendDB.groupCommitStats
let appendCPU = cpuSeconds()
let appendBytes = bytesWritten()
let appendStart = clock.now
try await withThrowingTaskGroup(of: Void.self) { group in
    for w in 0..<options.writers {
        group.addTask { [appendDB, writerTexts, appendConversations] in
            for (i, text) in writerTexts[w].enumerated() {
                _ = try await appendDB.appendMessage(
                    owner: "writer-\(w)", conversationID: appendConversations[w],
                    NewMessage(role: i % 2 == 0 ? .user : .assistant, content: text))
            }
        }
    }
    try await group.waitForAll()
}
let statsAfter = appendDB.groupCommitStats
let appendCPUPer = (cpuSeconds() - appendCPU) / Double(appendsPerWriter * options.writers)
let appendBytesPer = (bytesWritten() - appendBytes) / Double(appendsPerWriter * options.writers)
let groupRate = Double(appendsPerWriter * options.writers) / (clock.now - appendStart).seconds
say(String(format: "appends: one writer %.0f/s; %d concurrent writers %.0f/s (group commit: %.1f appends per transaction; %.0f µs CPU and %.1f KB written per append; durable on return; goal ≥ 5,000/s replicated)",
             sequentialRate, options.writers, groupRate,
             Double(statsAfter.writes - statsBefore.writes) / Double(max(1, statsAfter.transactions - statsBefore.transactions)),
             appendCPUPer * 1e6, appendBytesPer / 1024))
}

// MARK: 2. The corpus: 1M messages of 10k users, bulk-loaded in large transactions.
let corpusPath = options.data + "/corpus.sqlite"
let marker = options.data + "/corpus-\(options.messages)-\(options.users).done"
if options.fresh || !FileManager.default.fileExists(atPath: marker) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: corpusPath + suffix) }
    try? FileManager.default.removeItem(atPath: marker)
}
var corpusConfig = ConversationDatabase.Configuration(path: corpusPath)
corpusConfig.maxWritesPerTransaction = 1
let corpus = try ConversationDatabase(configuration: corpusConfig)
let now = Date()
if !FileManager.default.fileExists(atPath: marker) {
    let perUser = max(2, options.messages / options.users)
    let usersPerBatch = max(1, 20_000 / perUser)
    let models = ["smollm2", "gpt-4o", "llama-3-8b", "mistral-7b"]
    func makeBatch(_ index: Int) -> ReplicationBatch {
        var batch = ReplicationBatch(partition: -1)
        var gen = TextGenerator(seed: UInt64(index) &* 0x9E37_79B9 &+ 1)
        var ids = UUIDv7Generator()
        let firstUser = index * usersPerBatch
        for user in firstUser..<min(options.users, firstUser + usersPerBatch) {
            let owner = String(format: "user-%05d", user)
            var remaining = perUser
            while remaining > 0 {
                let size = min(remaining, 2 + Int(gen.next() % 40))
                remaining -= size
                var time = Int64(now.timeIntervalSince1970 * 1000) - Int64(gen.next() % (730 * 86_400_000))
                let conversationID = ids.next(now: time, using: &gen)
                let version = HLCTimestamp(milliseconds: time, logical: 0)
                var parent: String?
                let model = models[Int(gen.next() % UInt64(models.count))]
                for turn in 0..<size {
                    time += 5_000 + Int64(gen.next() % 600_000)
                    let assistant = turn % 2 == 1
                    let id = ids.next(now: time, using: &gen)
                    batch.messages.append(MessageRecord(
                        id: id, conversationID: conversationID, owner: owner, parentID: parent,
                        role: assistant ? "assistant" : "user",
                        body: assistant ? gen.answer(minWords: 15, maxWords: 120) : gen.message(minWords: 3, maxWords: 40),
                        model: assistant ? model : nil, promptTokens: nil, completionTokens: nil, status: "complete",
                        createdAt: time))
                    parent = id
                }
                batch.conversations.append(ConversationRecord(
                    id: conversationID, owner: owner, createdAt: version.milliseconds, updatedAt: time,
                    title: gen.message(minWords: 2, maxWords: 6), titleVersion: version, pinned: false,
                    pinnedVersion: .zero, currentMessageID: parent, model: model, leafVersion: version,
                    deletedVersion: .zero))
            }
        }
        return batch
    }
    let batches = (options.users + usersPerBatch - 1) / usersPerBatch
    let loadStart = clock.now
    let loadCPU = cpuSeconds()
    var next = makeBatch(0)
    var loaded = 0
    for index in 0..<batches {
        let current = next
        async let applied = corpus.apply(current)
        if index + 1 < batches { next = makeBatch(index + 1) }
        loaded += try await applied.messagesInserted
        if index % 10 == 9 {
            let rate = Double(loaded) / (clock.now - loadStart).seconds
            say(String(format: "  loaded %d messages (%.0f/s)", loaded, rate))
        }
    }
    let loadSeconds = (clock.now - loadStart).seconds
    say(String(format: "corpus: %d messages generated and indexed in %.1f s (%.0f/s, FTS in the same transaction; %.0f µs CPU per message incl. text generation)",
                 loaded, loadSeconds, Double(loaded) / loadSeconds, (cpuSeconds() - loadCPU) / Double(max(1, loaded)) * 1e6))
    _ = FileManager.default.createFile(atPath: marker, contents: Data())
} else {
    say("corpus: reusing \(corpusPath)")
}

if options.optimize {
    let start = clock.now
    try await corpus.optimizeSearchIndex()
    say(String(format: "search index optimized (merged into one segment) in %.1f s", (clock.now - start).seconds))
}

// MARK: 3. Search latency, scoped to one user, one- and two-word queries from the user's own text.
var queryGen = TextGenerator(seed: 99)
var oneWord = Samples()
var twoWords = Samples()
var hitsTotal = 0
var queriesWithHits = 0
var searchCPU = 0.0
var asked: [StoreSearch.Query] = []
for q in 0..<options.queries {
    let owner = String(format: "user-%05d", Int(queryGen.next() % UInt64(options.users)))
    let conversations = try await corpus.listConversations(owner: owner, limit: 50).data
    guard let conversation = conversations.randomElement(using: &queryGen) else { continue }
    let messages = try await corpus.messages(owner: owner, conversationID: conversation.id, limit: 50).data
    guard let message = messages.randomElement(using: &queryGen) else { continue }
    let words = message.content.lowercased().split { !$0.isLetter }.map(String.init).filter { $0.count >= 3 }
    guard !words.isEmpty else { continue }
    let two = q % 2 == 1 && words.count >= 2
    let query = two
        ? words.randomElement(using: &queryGen)! + " " + words.randomElement(using: &queryGen)!
        : words.randomElement(using: &queryGen)!
    asked.append(StoreSearch.Query(owner: owner, text: query, twoWords: two))
    let start = clock.now
    let cpuStart = cpuSeconds()
    let page = try await corpus.search(owner: owner, ConversationSearchRequest(query: query, limit: 20))
    let ms = (clock.now - start).seconds * 1000
    searchCPU += cpuSeconds() - cpuStart
    if two { twoWords.add(ms) } else { oneWord.add(ms) }
    hitsTotal += page.data.count
    queriesWithHits += page.data.isEmpty ? 0 : 1
}
let all = Samples(values: oneWord.values + twoWords.values)
say(String(format: "search (%d queries, %.1f hits avg, %.0f%% with hits, 20 per page, snippets; %.0f µs CPU per query):",
             all.values.count, Double(hitsTotal) / Double(max(1, all.values.count)),
             100 * Double(queriesWithHits) / Double(max(1, all.values.count)),
             searchCPU / Double(max(1, all.values.count)) * 1e6))
say(String(format: "  one word   p50 %.2f ms  p99 %.2f ms", oneWord.percentile(50), oneWord.percentile(99)))
say(String(format: "  two words  p50 %.2f ms  p99 %.2f ms", twoWords.percentile(50), twoWords.percentile(99)))
say(String(format: "  all        p50 %.2f ms  p99 %.2f ms   (reference: FTS5 owner-in-index p99 ≈ 4.5 ms, tantivy p99 ≈ 0.24 ms)",
             all.percentile(50), all.percentile(99)))
let viaStore = try await StoreSearch.measure(asked, corpus: corpus)
let storeOne = Samples(values: viaStore.one), storeTwo = Samples(values: viaStore.two)
let storeAll = Samples(values: viaStore.one + viaStore.two)
say("search through the ConversationStore actor, called from another cluster system over loopback TCP:")
say(String(format: "  one word   p50 %.2f ms  p99 %.2f ms", storeOne.percentile(50), storeOne.percentile(99)))
say(String(format: "  two words  p50 %.2f ms  p99 %.2f ms", storeTwo.percentile(50), storeTwo.percentile(99)))
say(String(format: "  all        p50 %.2f ms  p99 %.2f ms   (goal p99 ≤ 5 ms)", storeAll.percentile(50), storeAll.percentile(99)))

// MARK: 4. Partition snapshots: size vs raw rows, MB/s.
if !options.skipSnapshot {
var raw = 0
var compressed = 0
var snapshotSeconds = 0.0
var chunks: [SnapshotChunk] = []
for partition in 0..<8 {
    let start = cpuSeconds()
    let snapshot = try await corpus.snapshot(partition: partition)
    snapshotSeconds += (cpuSeconds() - start)
    raw += snapshot.rawBytes
    compressed += snapshot.compressedBytes
    chunks += snapshot.chunks
}
var decompressSeconds = 0.0
var compressSeconds = 0.0
var decodeSeconds = 0.0
for chunk in chunks {
    var start = cpuSeconds()
    let rows = try Zstd.decompress(chunk.payload, expectedSize: chunk.rawSize, maxSize: 64 << 20)
    decompressSeconds += (cpuSeconds() - start)
    start = cpuSeconds()
    _ = try Zstd.compress(rows, level: 3)
    compressSeconds += (cpuSeconds() - start)
    start = cpuSeconds()
    _ = try ConversationDatabase.decode(chunk)
    decodeSeconds += (cpuSeconds() - start)
}
let restorePath = options.data + "/restore.sqlite"
for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: restorePath + suffix) }
let restore = try ConversationDatabase(configuration: .init(path: restorePath))
let applyStart = cpuSeconds()
var restoredMessages = 0
for chunk in chunks { restoredMessages += try await restore.applySnapshotChunk(chunk).messagesInserted }
let applySeconds = (cpuSeconds() - applyStart)
var digestsMatch = true
for partition in 0..<8 {
    let a = try await corpus.digest(partition: partition)
    let b = try await restore.digest(partition: partition)
    digestsMatch = digestsMatch && a == b
}
let mb = Double(raw) / 1_048_576
say(String(format: "snapshot (8 partitions, %d chunks): raw %.1f MB → zstd-3 %.1f MB, %.2f× smaller (goal ≥ 3×)",
             chunks.count, mb, Double(compressed) / 1_048_576, Double(raw) / Double(max(1, compressed))))
say(String(format: "  per CPU-second: make snapshot (read+encode+compress) %.0f MB/s; zstd alone: compress %.0f MB/s, decompress %.0f MB/s",
             mb / snapshotSeconds, mb / compressSeconds, mb / decompressSeconds))
say(String(format: "  per CPU-second: verify+decompress+decode %.0f MB/s; apply into an empty node %.0f messages/s; digests equal: %@",
             mb / decodeSeconds, Double(restoredMessages) / applySeconds, digestsMatch ? "yes" : "NO"))
}

// MARK: 5. Local half of catch-up: 100k messages through the change feed into an empty node.
if !options.skipSnapshot {
    let catchUpPath = options.data + "/catchup.sqlite"
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: catchUpPath + suffix) }
    let fresh = try ConversationDatabase(configuration: .init(path: catchUpPath))
    let target = min(100_000, options.messages / 2)
    var moved = 0
    let wallStart = clock.now
    let cpuStart = cpuSeconds()
    var partition = 100
    var readCPU = 0.0
    while moved < target && partition < 256 {
        var after: Int64 = 0
        while true {
            let readStart = cpuSeconds()
            let page = try await corpus.changes(partition: partition, after: after, limit: 5_000)
            readCPU += cpuSeconds() - readStart
            moved += try await fresh.apply(page).messagesInserted
            after = page.lastSeq
            if page.isComplete { break }
        }
        partition += 1
    }
    say(String(format: "catch-up (local half, no network): %d messages via change feed in %.1f s wall, %.1f CPU-s (%.1f reading the feed; goal for 100k incl. network ≤ 10 s)",
               moved, (clock.now - wallStart).seconds, cpuSeconds() - cpuStart, readCPU))
}
say("replicated appends/s and catch-up of 100k messages: measured with the cluster (next phase)")


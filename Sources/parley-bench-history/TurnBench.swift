import Foundation
import ParleyConversation
import ParleyProtocol

/// `--turns`: what one served chat turn costs the conversation store, without the rest of the
/// cluster — the writes the completion flow makes for a request with `store: true` and no
/// `conversation_id` (a new chat with its question and the run's start, then the whole answer's
/// generation log and the stored answer at its end), from `writers` concurrent requests. Run twice:
/// with request ids as a gateway makes them (time first), and with random ones (as an
/// Idempotency-Key's), which put each request's rows on random pages of the indexes. After the
/// first run, it prunes the logs of all its turns (as the log's retention does).
enum TurnBench {
    struct Options {
        var data: String
        var turns = 20_000
        var writers = 64
        var tokens = 16
    }

    static func run(_ options: Options) async throws {
        for timeOrdered in [true, false] {
            try await run(options, timeOrderedIDs: timeOrdered)
        }
    }

    private static func run(_ options: Options, timeOrderedIDs: Bool) async throws {
        let path = options.data + "/turns.sqlite"
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let db = try ConversationDatabase(configuration: .init(path: path))
        let perWriter = max(1, options.turns / options.writers)
        let texts = (0..<options.tokens).map { " token\($0)" }
        // Warm up (statement caches, the first pages).
        try await turns(db, writer: -1, count: 200, texts: texts, timeOrderedIDs: timeOrderedIDs)
        let statsBefore = db.groupCommitStats
        let cpuBefore = cpuSeconds()
        let bytesBefore = bytesWritten()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<options.writers {
                group.addTask {
                    try await turns(db, writer: w, count: perWriter, texts: texts, timeOrderedIDs: timeOrderedIDs)
                }
            }
            try await group.waitForAll()
        }
        let elapsed = (ContinuousClock.now - start).seconds
        let total = Double(perWriter * options.writers)
        let statsAfter = db.groupCommitStats
        let transactions = Double(max(1, statsAfter.transactions - statsBefore.transactions))
        say(String(
            format: "stored turns (new chat, question, run, %d-token answer logged and stored), %d writers, %@ request ids: %.0f turns/s, %.0f µs CPU and %.1f KB written per turn, %.1f writes per transaction",
            options.tokens, options.writers, timeOrderedIDs ? "time-ordered (gateway)" : "random (Idempotency-Key)",
            total / elapsed, (cpuSeconds() - cpuBefore) / total * 1e6, (bytesWritten() - bytesBefore) / total / 1024,
            Double(statsAfter.writes - statsBefore.writes) / transactions))
        // The 200 warm-up turns are pruned too.
        if timeOrderedIDs { try await prune(db, runs: Int(total) + 200, tokens: options.tokens) }
    }

    /// Prunes the logs of every stored turn (as the retention does a day later), in the writes
    /// the conversation role makes (each bounded by a time budget).
    private static func prune(_ db: ConversationDatabase, runs pruned: Int, tokens: Int) async throws {
        let cpuBefore = cpuSeconds()
        let start = ContinuousClock.now
        let writes = db.groupCommitStats.writes
        // Every write prunes: the prune's own, and up to 16 runs more alongside each.
        try await db.pruneGenerations(finishedBefore: Date().addingTimeInterval(1))
        let elapsed = (ContinuousClock.now - start).seconds
        let batches = Double(max(1, db.groupCommitStats.writes - writes))
        say(String(
            format: "pruned the logs of %d finished %d-token answers: %.0f runs/s, %.0f µs CPU per run, %.1f ms and %.0f runs per write (budget %@)",
            pruned, tokens, Double(pruned) / elapsed, (cpuSeconds() - cpuBefore) / Double(max(1, pruned)) * 1e6,
            elapsed / batches * 1000, Double(pruned) / batches, "\(ConversationDatabase.pruneWriteBudget)"))
    }

    /// `count` turns one after another, as one user's requests.
    private static func turns(
        _ db: ConversationDatabase, writer: Int, count: Int, texts: [String], timeOrderedIDs: Bool
    ) async throws {
        let owner = "turn-writer-\(writer)"
        var generator = SystemRandomNumberGenerator()
        for i in 0..<count {
            // The gateway's shape: `chatcmpl-` and 32 hex digits, the first 12 the time (or random).
            let random = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let requestID =
                "chatcmpl-" + (timeOrderedIDs
                    ? TimePrefix.make() + UUIDText.hexString(random.prefix(10)) : UUIDText.hexString(random))
            let turn = TurnStart(
                requestID: requestID, conversationID: nil, newChatTitle: "Question \(i) of writer \(writer)",
                parentID: nil, messages: [MessageDraft(role: .user, content: "Question \(i) of writer \(writer): say something")],
                model: "synthetic", producer: "bench")
            _ = try await db.startTurn(owner: owner, turn)
            _ = try await db.finishGeneration(
                owner: owner, requestID: requestID, appending: texts, fromSeq: 1, status: .complete,
                promptTokens: 12, completionTokens: texts.count)
        }
    }
}

import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// The generation logs of finished answers are pruned after their retention: the answers stay,
/// replicas agree again once all have pruned, and one that has not pruned yet cannot hand a
/// pruned run back.
@Suite struct GenerationPruneTests {
    /// Starts run `id` in `conversation`, logs `texts` and ends it with `status` (nil: left streaming).
    private func run(
        _ db: ConversationDatabase, owner: String = "u", _ id: String, in conversation: String?, _ texts: [String],
        _ status: MessageStatus?
    ) async throws {
        _ = try await db.startGeneration(owner: owner, requestID: id, conversationID: conversation, model: "m", producer: "n")
        try await db.appendGenerationEvents(owner: owner, requestID: id, fromSeq: 1, texts)
        if let status { try await db.finishGeneration(owner: owner, requestID: id, status: status) }
    }

    private func isStored(_ db: ConversationDatabase, owner: String = "u", _ id: String) async throws -> Bool {
        do {
            _ = try await db.readGenerationEvents(owner: owner, requestID: id, afterSeq: 0)
            return true
        } catch let error as ConversationError where error.code == .notFound {
            return false
        }
    }

    /// Two empty replicas on one clock, and the partition of owner `u`.
    private func twoReplicas() throws -> (ManualClock, TemporaryDatabase, TemporaryDatabase, partition: Int) {
        let clock = ManualClock()
        let a = try TemporaryDatabase(clock: clock)
        return (clock, a, try TemporaryDatabase(clock: clock), a.db.partition(ofOwner: "u"))
    }

    @Test func finishedLogsOlderThanTheCutoffGoAndTheirAnswersStay() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "u")
        let c = try await t.db.createConversation(owner: "u")
        try await t.db.appendTurns(owner: "u", conversationID: c.id, ["first question"])
        try await run(t.db, "complete", in: c.id, ["an ", "old ", "answer"], .complete)
        try await run(t.db, "cancelled", in: nil, ["stopped"], .cancelled)
        try await run(t.db, "interrupted", in: nil, ["cut"], .interrupted)
        try await run(t.db, "still-streaming", in: nil, ["old but ", "not finished"], nil)
        let rowsBefore = try await t.db.digest(partition: p).rowCount
        t.clock.advance(seconds: 100)
        try await run(t.db, "recent", in: nil, ["new"], .complete)
        // One run a write (and a few more alongside each write): three runs pruned.
        try await t.db.pruneGenerations(finishedBefore: t.clock.now.addingTimeInterval(-50), runsPerWrite: 1)
        for id in ["complete", "cancelled", "interrupted"] { #expect(try await !isStored(t.db, id)) }
        for id in ["still-streaming", "recent"] { #expect(try await isStored(t.db, id)) }
        let answer = try await t.db.conversation(owner: "u", id: c.id).messages.last
        #expect(answer?.content == "an old answer" && answer?.status == .complete)
        // Three runs with their logs (a span each) left the digest; it matches the rows left.
        #expect(try await t.db.digest(partition: p).rowCount == rowsBefore - 3 - 3 + 2)
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
        // Nothing more to prune; a repeat changes nothing.
        #expect(try await t.db.pruneGenerations(finishedBefore: t.clock.now.addingTimeInterval(-50)) == 0)
    }

    @Test func aWriteStopsOnceItsBudgetIsSpentAndThePruneGoesOnInTheNext() async throws {
        let t = try TemporaryDatabase()
        for n in 0..<5 { try await run(t.db, "r\(n)", in: nil, ["a", "b"], .complete) }
        t.clock.advance(seconds: 100)
        let cutoff = ConversationDatabase.millis(t.clock.now)
        // No time at all for a write: it removes one run and says more remain.
        let writer = t.db.writer
        let first = try await t.db.pool.write { db in
            try writer.pruneGenerationRuns(db, finishedBefore: cutoff, limit: 100, budget: .zero)
        }
        #expect(first.removed == 1 && first.more)
        let rest = try await t.db.pool.write { db in
            try writer.pruneGenerationRuns(db, finishedBefore: cutoff, limit: 100, budget: .seconds(60))
        }
        #expect(rest.removed == 4 && !rest.more)
        for n in 0..<5 { #expect(try await !isStored(t.db, "r\(n)")) }
    }

    @Test func everyWriteTransactionPrunesAFewRunsAlongsideItsOwnWrites() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "u")
        let c = try await t.db.createConversation(owner: "u")
        for n in 0..<40 { try await run(t.db, "r\(n)", in: c.id, ["a", "b"], .complete) }
        t.clock.advance(seconds: 100)
        // A prune is due (as at a node's start), but it is the serving writes that carry it out.
        t.db.refuseGenerations(finishedBefore: t.clock.now)
        func left() async throws -> Int {
            try await t.db.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM generation_runs") ?? 0 }
        }
        // Each write removes some (at most 16, as many as about 2 ms allow), until none is left.
        var writes = 0
        while try await left() > 0 {
            let before = try await left()
            try await t.db.appendTurns(owner: "u", conversationID: c.id, ["write \(writes)"])
            writes += 1
            let after = try await left()
            #expect(after < before && before - after <= StorageWriter.prunedPerTransaction)
            if writes > 40 { break }
        }
        #expect(try await left() == 0)
        #expect(try await t.db.conversation(owner: "u", id: c.id).messages.count == 40 + writes)
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
    }

    @Test func aReplicaThatHasNotPrunedYetCannotHandAPrunedRunBack() async throws {
        let (clock, a, b, p) = try twoReplicas()
        let c = try await a.db.createConversation(owner: "u")
        try await run(a.db, "old", in: c.id, ["pruned ", "soon"], .complete)
        try await run(a.db, "old-streaming", in: c.id, ["a producer ", "that went quiet"], nil)
        clock.advance(seconds: 100)
        let snapshot = try await a.db.snapshot(partition: p, chunkBytes: 1 << 20)
        let feed = try await a.db.changes(partition: p, after: 0)
        let cutoff = clock.now.addingTimeInterval(-50)

        // b prunes first (it holds nothing yet), then a's snapshot and feed arrive: the finished
        // run is refused with its events, the conversation and the run still streaming are taken.
        #expect(try await b.db.pruneGenerations(finishedBefore: cutoff) == 0)
        for chunk in snapshot.chunks { try await b.db.applySnapshotChunk(chunk) }
        let late = try await b.db.apply(feed)
        #expect(late.generationRunsChanged == 0 && late.generationLogSpansInserted == 0)
        #expect(try await !isStored(b.db, "old"))
        #expect(try await isStored(b.db, "old-streaming"))
        #expect(try await b.db.conversation(owner: "u", id: c.id).messages.last?.content == "pruned soon")

        // Once a prunes by the same cutoff, both hold the same rows.
        #expect(try await a.db.digest(partition: p) != b.db.digest(partition: p))
        try await a.db.pruneGenerations(finishedBefore: cutoff)
        #expect(try await !isStored(a.db, "old"))
        #expect(try await a.db.digest(partition: p) == b.db.digest(partition: p))
        #expect(try await b.db.recomputeDigest(partition: p) == b.db.digest(partition: p))
    }

    @Test func aStartingNodeRefusesRunsPastTheRetentionBeforeItPrunes() async throws {
        let (clock, a, b, p) = try twoReplicas()
        try await run(a.db, "old", in: nil, ["x"], .complete)
        clock.advance(seconds: 100)
        try await run(a.db, "new", in: nil, ["y"], .complete)
        b.db.refuseGenerations(finishedBefore: clock.now.addingTimeInterval(-50))
        try await b.db.apply(try await a.db.changes(partition: p, after: 0))
        #expect(try await !isStored(b.db, "old"))
        #expect(try await isStored(b.db, "new"))
        // A lower cutoff later does not let them back in.
        b.db.refuseGenerations(finishedBefore: clock.now.addingTimeInterval(-500))
        try await b.db.apply(try await a.db.changes(partition: p, after: 0))
        #expect(try await !isStored(b.db, "old"))
    }

    @Test func everyNodeComputesTheSameCutoffsAtTheSameMoments() {
        let logs = GenerationLogRetention(retention: .seconds(3600), interval: .seconds(600))
        let base = Date(timeIntervalSince1970: 1_800_000_000)  // a multiple of 600 s
        // Anywhere within one interval the cutoff is the same: the interval's start, less the retention.
        for offset in [0.0, 0.001, 299.5, 599.999] {
            #expect(logs.cutoff(at: base.addingTimeInterval(offset)) == base.addingTimeInterval(-3600))
            #expect(logs.nextPrune(after: base.addingTimeInterval(offset)) == base.addingTimeInterval(600))
        }
        #expect(logs.cutoff(at: base.addingTimeInterval(600)) == base.addingTimeInterval(-3000))
        // The default prunes every quarter of the retention, between 1 second and 10 minutes.
        #expect(GenerationLogRetention().interval == .seconds(600))
        #expect(GenerationLogRetention(retention: .seconds(2)).interval == .seconds(1))
        #expect(GenerationLogRetention(retention: .seconds(60)).interval == .seconds(15))
    }
}

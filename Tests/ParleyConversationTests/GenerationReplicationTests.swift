import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// Generation runs converge like every other row: their merge, their place in the partition
/// digests, the change feed and snapshots.
@Suite struct GenerationReplicationTests {
    /// Every row of `partition` through the change feed, `limit` rows a page.
    private func feed(_ db: ConversationDatabase, partition: Int, after: Int64 = 0, limit: Int = 1000)
        async throws -> [ReplicationBatch]
    {
        var pages: [ReplicationBatch] = []
        var after = after
        while true {
            let page = try await db.changes(partition: partition, after: after, limit: limit)
            pages.append(page)
            after = page.lastSeq
            if page.isComplete { return pages }
        }
    }

    /// The run and all events of `requestID` as `owner` reads them.
    private func log(_ db: ConversationDatabase, owner: String, _ requestID: String) async throws
        -> (run: GenerationRun, events: [GenerationLogEvent])
    {
        try await db.readGenerationEvents(owner: owner, requestID: requestID, afterSeq: 0, limit: 10_000)
    }

    @Test func runMergeIsCommutativeAssociativeIdempotentAndMovesForward() {
        var rng = SplitMix64(seed: 7)
        let states = ["streaming", "interrupted", "cancelled", "complete"]
        func random() -> GenerationRunRow {
            GenerationRunRow(
                requestID: "r", owner: "o", conversationID: ["c", nil][Int(rng.next() % 2)],
                parentID: ["p1", "p2", nil][Int(rng.next() % 3)], messageID: ["m1", "m2"][Int(rng.next() % 2)],
                model: ["x", nil][Int(rng.next() % 2)], producer: ["n1", "n2"][Int(rng.next() % 2)],
                status: states[Int(rng.next() % 4)], lastSeq: Int64(rng.next() % 5), bytes: Int64(rng.next() % 50),
                startedAt: Int64(rng.next() % 3), updatedAt: Int64(rng.next() % 9))
        }
        for _ in 0..<3000 {
            let (a, b, c) = (random(), random(), random())
            let ab = GenerationRunRow.merge(a, b)
            #expect(ab == GenerationRunRow.merge(b, a))
            #expect(GenerationRunRow.merge(ab, c) == GenerationRunRow.merge(a, GenerationRunRow.merge(b, c)))
            #expect(GenerationRunRow.merge(a, a) == a)
            // Never backwards: the log and the state only grow.
            #expect(ab.lastSeq == max(a.lastSeq, b.lastSeq) && ab.bytes == max(a.bytes, b.bytes))
            #expect(GenerationRunRow.rank(ab.status) == max(GenerationRunRow.rank(a.status), GenerationRunRow.rank(b.status)))
            // The start fields come whole from one side.
            #expect([a, b].contains { $0.messageID == ab.messageID && $0.producer == ab.producer && $0.startedAt == ab.startedAt
                && $0.parentID == ab.parentID && $0.model == ab.model && $0.conversationID == ab.conversationID })
        }
        // Between finished states the rank decides, not the time of the change.
        var streaming = random()
        streaming.status = "streaming"
        var complete = streaming
        complete.status = "complete"
        complete.updatedAt = 1
        var interrupted = streaming
        interrupted.status = "interrupted"
        interrupted.updatedAt = 100
        var cancelled = interrupted
        cancelled.status = "cancelled"
        #expect(GenerationRunRow.merge(streaming, interrupted).status == "interrupted")
        #expect(GenerationRunRow.merge(interrupted, complete).status == "complete")
        #expect(GenerationRunRow.merge(cancelled, interrupted).status == "cancelled")
        #expect(GenerationRunRow.merge(complete, cancelled).status == "complete")
    }

    @Test func digestsSeeEveryChangeOfARunAndOfItsLog() async throws {
        let a = try TemporaryDatabase()
        let p = a.db.partition(ofOwner: "u")
        let c = try await a.db.createConversation(owner: "u")
        try await a.db.appendTurns(owner: "u", conversationID: c.id, ["question"])
        var seen = [try await a.db.digest(partition: p)]
        func step() async throws {
            let digest = try await a.db.digest(partition: p)
            #expect(!seen.contains(digest), "a change of the run left the digest as it was")
            #expect(try await a.db.recomputeDigest(partition: p) == digest)
            seen.append(digest)
        }
        _ = try await a.db.startGeneration(owner: "u", requestID: "r1", conversationID: c.id, model: "m", producer: "n1")
        try await step()
        a.clock.advance(seconds: 1)
        try await a.db.appendGenerationEvents(owner: "u", requestID: "r1", fromSeq: 1, ["Hel", "lo"])
        try await step()
        a.clock.advance(seconds: 1)
        try await a.db.appendGenerationEvents(owner: "u", requestID: "r1", fromSeq: 3, ["!"])
        try await step()
        try await a.db.finishGeneration(owner: "u", requestID: "r1", status: .complete)
        try await step()
        #expect(seen.last!.rowCount == 1 + 2 + 1 + 2)  // conversation, two messages, the run, two log spans

        // A replica holding the same run row but missing one span of its log differs.
        let b = try TemporaryDatabase()
        var all = ReplicationBatch(partition: p)
        for page in try await feed(a.db, partition: p) {
            all.conversations += page.conversations
            all.messages += page.messages
            all.generationRuns += page.generationRuns
            all.generationLogSpans += page.generationLogSpans
        }
        let tail = all.generationLogSpans.filter { $0.seq == 3 }
        all.generationLogSpans.removeAll { $0.seq == 3 }
        try await b.db.apply(all)
        #expect(try await log(b.db, owner: "u", "r1").run == log(a.db, owner: "u", "r1").run)
        #expect(try await b.db.digest(partition: p) != a.db.digest(partition: p))
        try await b.db.apply(ReplicationBatch(partition: p, messages: []).with(runs: all.generationRuns, spans: tail))
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await log(b.db, owner: "u", "r1").events.map(\.text) == ["Hel", "lo", "!"])
    }

    @Test func changeFeedPagesCarryRunsWithTheirEvents() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let p = a.db.partition(ofOwner: "u")
        let c = try await a.db.createConversation(owner: "u")
        _ = try await a.db.startGeneration(owner: "u", requestID: "kept", conversationID: c.id, model: nil, producer: "n")
        _ = try await a.db.startGeneration(owner: "u", requestID: "loose", conversationID: nil, model: nil, producer: "n")
        for seq in 1...6 {
            try await a.db.appendGenerationEvents(owner: "u", requestID: "kept", fromSeq: Int64(seq), ["k\(seq) "])
            try await a.db.appendGenerationEvents(owner: "u", requestID: "loose", fromSeq: Int64(seq), ["l\(seq) "])
        }
        try await a.db.finishGeneration(owner: "u", requestID: "kept", status: .complete)
        // One row a page: every page with an event brings the event's run along.
        let pages = try await feed(a.db, partition: p, limit: 1)
        for page in pages where !page.generationLogSpans.isEmpty {
            #expect(Set(page.generationLogSpans.map(\.requestID)).isSubset(of: Set(page.generationRuns.map(\.requestID))))
        }
        // Applied in reverse order, page by page, they still give the same partition.
        for page in pages.reversed() { try await b.db.apply(page) }
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        for id in ["kept", "loose"] {
            #expect(try await log(b.db, owner: "u", id) == log(a.db, owner: "u", id))
        }
        // The feed goes on from where it stopped: only the new tail comes.
        let cursor = pages.last!.lastSeq
        try await a.db.appendGenerationEvents(owner: "u", requestID: "loose", fromSeq: 7, ["tail"])
        let next = try await a.db.changes(partition: p, after: cursor)
        #expect(next.generationLogSpans.map(\.seq) == [7] && next.generationRuns.map(\.requestID) == ["loose"])
        #expect(next.messages.isEmpty && next.conversations.isEmpty)
        try await b.db.apply(next)
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
    }

    @Test func snapshotsCarryRunsAndTheirEvents() async throws {
        let a = try TemporaryDatabase()
        let owner = "snap"
        let p = a.db.partition(ofOwner: owner)
        let c = try await a.db.createConversation(owner: owner)
        try await a.db.appendTurns(owner: owner, conversationID: c.id, ["tell me everything"])
        let words = (0..<400).map { "word\($0) of a long streamed answer, " }
        for (id, conversation) in [("finished", c.id as String?), ("streaming", c.id), ("unstored", nil)] {
            _ = try await a.db.startGeneration(owner: owner, requestID: id, conversationID: conversation, model: "m", producer: "n")
            try await a.db.appendGenerationEvents(owner: owner, requestID: id, fromSeq: 1, words)
        }
        try await a.db.finishGeneration(owner: owner, requestID: "finished", status: .complete)
        try await a.db.finishGeneration(owner: owner, requestID: "unstored", status: .cancelled)
        let snapshot = try await a.db.snapshot(partition: p, chunkBytes: 4096)
        #expect(snapshot.chunks.count > 3)
        // Every chunk is self-contained: the runs of its events are in it.
        for chunk in snapshot.chunks {
            let rows = try ConversationDatabase.decode(chunk)
            #expect(Set(rows.generationLogSpans.map(\.requestID)).isSubset(of: Set(rows.generationRuns.map(\.requestID))))
        }
        let b = try TemporaryDatabase()
        for chunk in snapshot.chunks.reversed() { try await b.db.applySnapshotChunk(chunk) }
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await b.db.recomputeDigest(partition: p) == a.db.digest(partition: p))
        for id in ["finished", "streaming", "unstored"] {
            #expect(try await log(b.db, owner: owner, id) == log(a.db, owner: owner, id))
        }
        #expect(try await log(b.db, owner: owner, "finished").run.status == .complete)
        // The restored replica goes on with the feed after the snapshot.
        try await a.db.appendGenerationEvents(owner: owner, requestID: "streaming", fromSeq: 401, ["the end"])
        try await a.db.finishGeneration(owner: owner, requestID: "streaming", status: .interrupted)
        try await b.db.apply(try await a.db.changes(partition: p, after: snapshot.throughSeq))
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await log(b.db, owner: owner, "streaming").events.last?.text == "the end")
    }

    @Test func aChunkOfAnUnknownFormatIsRefused() async throws {
        var rows = RowWriter()
        rows.write(GenerationLogSpan(requestID: "r", seq: 1, texts: ["x"]))
        let raw = [UInt8(0xF7)] + rows.bytes
        let chunk = SnapshotChunk(partition: 0, index: 0, rawSize: raw.count, payload: try Zstd.compress(raw, level: 1))
        let t = try TemporaryDatabase()
        await expectCode(.corruptData) { try await t.db.applySnapshotChunk(chunk) }
    }

    @Test func aRunOfADeletedConversationDoesNotComeBack() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let p = a.db.partition(ofOwner: "u")
        let c = try await a.db.createConversation(owner: "u")
        _ = try await a.db.startGeneration(owner: "u", requestID: "r", conversationID: c.id, model: nil, producer: "n")
        try await a.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["soon gone"])
        let before = try await a.db.changes(partition: p, after: 0)
        try await a.db.deleteConversation(owner: "u", id: c.id)
        let after = try await a.db.changes(partition: p, after: 0)
        #expect(after.generationRuns.isEmpty && after.generationLogSpans.isEmpty)
        // The tombstone first, the old rows of the run later: the run stays gone.
        try await b.db.apply(after)
        let late = try await b.db.apply(before)
        #expect(late.generationRunsChanged == 0 && late.generationLogSpansInserted == 0)
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        await expectCode(.notFound) { try await b.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0) }
        // The other order: the run is taken, then removed with its conversation.
        let d = try TemporaryDatabase()
        try await d.db.apply(before)
        try await d.db.apply(after)
        #expect(try await d.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await d.db.recomputeDigest(partition: p) == a.db.digest(partition: p))
    }

    @Test func runsStoredBeforeTheyWereReplicatedJoinTheDigestAtOpen() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "old")
        // Rows as the schema before v5 wrote them: no partition, sequence or hash.
        try await t.db.pool.write { db in
            try db.execute(sql: """
                INSERT INTO generation_runs(request_id, owner, message_id, producer, status, last_seq, bytes, started_at, updated_at)
                VALUES ('legacy', 'old', 'm', 'n', 'complete', 2, 6, 1, 2);
                INSERT INTO generation_log_spans(request_id, seq, last_seq, texts)
                VALUES ('legacy', 1, 1, CAST('abc' AS BLOB)), ('legacy', 2, 2, CAST('def' AS BLOB)),
                    ('orphan', 1, 1, CAST('no run' AS BLOB));
                """)
        }
        #expect(try await t.db.digest(partition: p).rowCount == 0)
        let reopened = try t.reopen()
        #expect(try await reopened.digest(partition: p).rowCount == 3)
        #expect(try await reopened.recomputeDigest(partition: p) == reopened.digest(partition: p))
        #expect(try await reopened.changes(partition: p, after: 0).generationLogSpans.count == 2)
        #expect(try await log(reopened, owner: "old", "legacy").events.map(\.text) == ["abc", "def"])
    }
}

extension ReplicationBatch {
    /// The batch with these generation rows.
    func with(runs: [GenerationRunRow], spans: [GenerationLogSpan]) -> ReplicationBatch {
        var batch = self
        batch.generationRuns = runs
        batch.generationLogSpans = spans
        return batch
    }
}

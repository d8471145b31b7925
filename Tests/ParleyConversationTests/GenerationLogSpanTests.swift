import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Testing

/// A run's log is stored as spans of consecutive events, one row per batch a producer logs;
/// readers see it event by event, and replicas converge on it whatever spans each stored.
@Suite struct GenerationLogSpanTests {
    private func log(_ db: ConversationDatabase, _ requestID: String, after: Int64 = 0, limit: Int = 10_000)
        async throws -> [GenerationLogEvent]
    {
        try await db.readGenerationEvents(owner: "u", requestID: requestID, afterSeq: after, limit: limit).events
    }

    private func feed(_ db: ConversationDatabase, partition: Int) async throws -> ReplicationBatch {
        try await db.changes(partition: partition, after: 0, limit: 10_000)
    }

    @Test func aBatchIsOneRowAndIsReadBackEventByEvent() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "u")
        _ = try await t.db.startGeneration(owner: "u", requestID: "r", conversationID: nil, model: nil, producer: "n")
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["a", "b", "c"])
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 4, ["d", "", "f"])
        #expect(try await t.db.digest(partition: p).rowCount == 3)  // the run and two spans
        #expect(try await feed(t.db, partition: p).generationLogSpans.map(\.texts) == [["a", "b", "c"], ["d", "", "f"]])
        #expect(try await log(t.db, "r").map(\.seq) == Array(1...6))
        #expect(try await log(t.db, "r").map(\.text).joined() == "abcdf")
        // Pages start and end inside spans.
        #expect(try await log(t.db, "r", after: 2, limit: 2).map(\.text) == ["c", "d"])
        #expect(try await log(t.db, "r", after: 5, limit: 2).map(\.seq) == [6])
        #expect(try await log(t.db, "r", after: 6).isEmpty)
    }

    @Test func aResentBatchThatOverlapsTheLogAddsOnlyWhatIsNew() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        _ = try await t.db.startGeneration(owner: "u", requestID: "r", conversationID: c.id, model: nil, producer: "n")
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["Hel", "lo"])
        // The producer did not hear back and sends the batch again, with what came since.
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["Hel", "lo", ", ", "you"])
        try await t.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 3, [", ", "you"])
        let answer = try await t.db.finishGeneration(owner: "u", requestID: "r", status: .complete)
        #expect(answer?.content == "Hello, you")
        let read = try await t.db.readGenerationEvents(owner: "u", requestID: "r", afterSeq: 0)
        #expect(read.events.map(\.seq) == [1, 2, 3, 4])
        #expect(read.run.lastSeq == 4 && read.run.bytes == 10)
        #expect(try await log(t.db, "r", after: 1, limit: 2).map(\.text) == ["lo", ", "])
    }

    @Test func replicasThatHoldTheLogInDifferentSpansConverge() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let p = a.db.partition(ofOwner: "u")
        _ = try await a.db.startGeneration(owner: "u", requestID: "r", conversationID: nil, model: nil, producer: "n")
        try await a.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["x", "y"])
        try await a.db.appendGenerationEvents(owner: "u", requestID: "r", fromSeq: 1, ["x", "y", "z", "w"])
        try await a.db.finishGeneration(owner: "u", requestID: "r", status: .complete)
        // `b` missed the first call: it holds the log as one span.
        var missed = try await feed(a.db, partition: p)
        missed.generationLogSpans.removeAll { $0.texts.count == 2 }
        try await b.db.apply(missed)
        #expect(try await log(b.db, "r") == log(a.db, "r"))
        #expect(try await b.db.digest(partition: p) != a.db.digest(partition: p))
        // Anti-entropy exchanges rows both ways: both hold both spans, the log is unchanged.
        try await b.db.apply(try await feed(a.db, partition: p))
        try await a.db.apply(try await feed(b.db, partition: p))
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await b.db.recomputeDigest(partition: p) == b.db.digest(partition: p))
        #expect(try await log(b.db, "r").map(\.text) == ["x", "y", "z", "w"])
    }

    @Test func aSpanOfOneEventHashesAsTheRowOfOneEventDidBeforeSpans() {
        // SHA-256 of tag 4, "r", seq 1, "Hello" (lengths and integers as 8 little-endian bytes),
        // computed outside Swift: digests stored before spans stay valid.
        let expected = "818be3091836eccd4e203967e004878f"
        let hash = GenerationLogSpan(requestID: "r", seq: 1, texts: ["Hello"]).rowHash
        #expect(hash.data.map { String(format: "%02x", $0) }.joined() == expected)
        #expect(GenerationLogSpan(requestID: "r", seq: 1, texts: ["Hel", "lo"]).rowHash != hash)
        #expect(
            GenerationLogSpan(requestID: "r", seq: 1, texts: ["Hel", "lo"]).rowHash
                != GenerationLogSpan(requestID: "r", seq: 1, texts: ["He", "llo"]).rowHash)
    }

    @Test func spansCrossTheWireAndDamageIsRefused() throws {
        let spans = [
            GenerationLogSpan(requestID: "r", seq: 1, texts: ["one"]),
            GenerationLogSpan(requestID: "r", seq: 2, texts: ["two", "", "four"]),
        ]
        var rows = RowWriter()
        for span in spans { rows.write(span) }
        var reader = RowReader(rows.bytes)
        #expect(try reader.readAll(partition: 0).generationLogSpans == spans)
        // A count of texts beyond the bytes that follow, and a truncated span.
        var huge = RowWriter()
        huge.write(GenerationLogSpan(requestID: "r", seq: 2, texts: ["a", "b"]))
        var bytes = huge.bytes
        bytes[bytes.count - 5] = 0x7F  // the count (after tag, "r" and seq): 127 texts in 4 bytes
        var hugeReader = RowReader(bytes)
        #expect(throws: ConversationError.self) { try hugeReader.readAll(partition: 0) }
        var truncated = RowReader(Array(rows.bytes.dropLast(2)))
        #expect(throws: ConversationError.self) { try truncated.readAll(partition: 0) }
    }

    @Test func eventRowsStoredBeforeSpansBecomeSpansOfOne() async throws {
        // A database as the schema before spans left it, with rows not yet hashed.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-v5-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let oldPath = folder.appendingPathComponent("history.sqlite").path
        let queue = try DatabaseQueue(path: oldPath)
        try ConversationSchema.migrator().migrate(queue, upTo: "v5-replicated-generations")
        try await queue.write { db in
            try db.execute(sql: """
                INSERT INTO generation_runs(request_id, owner, message_id, producer, status, last_seq, bytes, started_at, updated_at)
                VALUES ('legacy', 'old', 'm', 'n', 'complete', 3, 7, 1, 2);
                INSERT INTO generation_events(request_id, seq, text)
                VALUES ('legacy', 1, 'ab'), ('legacy', 2, 'cd'), ('legacy', 3, 'efg');
                """)
        }
        try queue.close()
        let upgraded = try ConversationDatabase(configuration: .init(path: oldPath))
        let p = upgraded.partition(ofOwner: "old")
        let read = try await upgraded.readGenerationEvents(owner: "old", requestID: "legacy", afterSeq: 1)
        #expect(read.events.map(\.text) == ["cd", "efg"])
        let spans = try await upgraded.changes(partition: p, after: 0).generationLogSpans
        #expect(spans.map(\.texts) == [["ab"], ["cd"], ["efg"]])
        #expect(try await upgraded.digest(partition: p).rowCount == 4)
        #expect(try await upgraded.recomputeDigest(partition: p) == upgraded.digest(partition: p))
    }
}

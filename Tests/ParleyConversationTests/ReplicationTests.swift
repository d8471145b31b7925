import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Testing

@Suite struct ReplicationTests {
    private func contents(_ db: ConversationDatabase, owner: String) async throws -> [ConversationDetails] {
        var out: [ConversationDetails] = []
        for summary in try await db.listConversations(owner: owner, limit: 200).data {
            out.append(try await db.conversation(owner: owner, id: summary.id))
        }
        return out
    }

    @Test func changeFeedPagesCoverEveryRowOnce() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "alice")
        try await t.db.appendTurns(owner: "alice", conversationID: c.id, (0..<10).map { "m\($0)" })
        let p = t.db.partition(ofOwner: "alice")
        let all = try await everything(t.db, partition: p)
        #expect(all.conversations.map(\.id) == [c.id])  // updated rows appear once, at their last change
        #expect(all.messages.count == 10)
        let later = try await t.db.changes(partition: p, after: all.lastSeq)
        #expect(later.conversations.isEmpty && later.messages.isEmpty && later.isComplete)
        _ = try await t.db.update(owner: "alice", id: c.id, patch: ConversationPatch(title: "x"))
        #expect(try await t.db.changes(partition: p, after: all.lastSeq).conversations.map(\.title) == ["x"])
        #expect(try await t.db.changes(partition: (p + 1) % 256, after: 0).messages.isEmpty)
    }

    @Test func concurrentEditsMergeCommutativelyAndIdempotently() async throws {
        let clockA = ManualClock()
        let clockB = ManualClock()
        let a = try TemporaryDatabase(clock: clockA)
        let b = try TemporaryDatabase(clock: clockB)
        let c = try await a.db.createConversation(owner: "alice", title: "shared")
        let p = a.db.partition(ofOwner: "alice")
        try await b.db.apply(try await everything(a.db, partition: p))
        // Both sides write concurrently: different messages, rename on A, pin + rename on B.
        try await a.db.appendTurns(owner: "alice", conversationID: c.id, ["from A", "answer A"])
        clockB.advance(seconds: 5)
        try await b.db.appendTurns(owner: "alice", conversationID: c.id, ["from B"])
        clockA.advance(seconds: 1)
        _ = try await a.db.update(owner: "alice", id: c.id, patch: ConversationPatch(title: "renamed on A"))
        clockB.advance(seconds: 1)
        _ = try await b.db.update(owner: "alice", id: c.id, patch: ConversationPatch(pinned: true))

        let fromA = try await everything(a.db, partition: p)
        let fromB = try await everything(b.db, partition: p)
        // Apply in both orders on fresh replicas, and twice.
        let x = try TemporaryDatabase()
        let y = try TemporaryDatabase()
        try await x.db.apply(fromA)
        try await x.db.apply(fromB)
        try await y.db.apply(fromB)
        try await y.db.apply(fromA)
        try await y.db.apply(fromA)
        try await a.db.apply(fromB)
        try await b.db.apply(fromA)

        let digests = try await [a.db, b.db, x.db, y.db].asyncMap { try await $0.digest(partition: p) }
        #expect(Set(digests).count == 1)
        #expect(digests[0].rowCount == 4)  // one conversation + three messages
        #expect(try await x.db.recomputeDigest(partition: p) == digests[0])
        let views = try await [a.db, b.db, x.db, y.db].asyncMap { try await self.contents($0, owner: "alice") }
        #expect(views.allSatisfy { $0 == views[0] })
        let merged = views[0][0]
        #expect(merged.messages.count == 3)
        #expect(merged.summary.title == "renamed on A")  // B never renamed: A's newer title version wins
        #expect(merged.summary.pinned)  // pin from B survives A's rename
        #expect(merged.summary.currentMessageID == merged.messages.first { $0.content == "from B" }?.id)  // B's leaf is newer
        // Applying again changes nothing.
        let again = try await x.db.apply(fromA)
        #expect(again == ApplyResult())
    }

    @Test func deletionWinsOverConcurrentWrites() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "u", title: "doomed")
        let p = a.db.partition(ofOwner: "u")
        try await b.db.apply(try await everything(a.db, partition: p))
        a.clock.advance(seconds: 1)
        try await a.db.deleteConversation(owner: "u", id: c.id)
        b.clock.advance(seconds: 60)  // B's edits are *later* in wall time, yet the tombstone wins
        try await b.db.appendTurns(owner: "u", conversationID: c.id, ["written after delete elsewhere"])
        _ = try await b.db.update(owner: "u", id: c.id, patch: ConversationPatch(title: "still here?"))
        let fromA = try await everything(a.db, partition: p)
        let fromB = try await everything(b.db, partition: p)
        try await a.db.apply(fromB)
        try await b.db.apply(fromA)
        #expect(try await a.db.digest(partition: p) == b.db.digest(partition: p))
        for db in [a.db, b.db] {
            await expectCode(.deleted) { try await db.conversation(owner: "u", id: c.id) }
            #expect(try await db.search(owner: "u", ConversationSearchRequest(query: "written")).data.isEmpty)
            #expect(try await db.recomputeDigest(partition: p) == db.digest(partition: p))
        }
    }

    @Test func messagesMayArriveBeforeTheirConversation() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "u")
        try await a.db.appendTurns(owner: "u", conversationID: c.id, ["early bird"])
        let p = a.db.partition(ofOwner: "u")
        let all = try await everything(a.db, partition: p)
        try await b.db.apply(ReplicationBatch(partition: p, messages: all.messages))
        try await b.db.apply(ReplicationBatch(partition: p, conversations: all.conversations))
        #expect(try await b.db.conversation(owner: "u", id: c.id) == a.db.conversation(owner: "u", id: c.id))
        #expect(try await b.db.search(owner: "u", ConversationSearchRequest(query: "bird")).data.count == 1)
    }

    @Test func snapshotRoundTripsAPartition() async throws {
        let a = try TemporaryDatabase()
        let p = a.db.partition(ofOwner: "owner-1")
        for n in 0..<5 {
            let c = try await a.db.createConversation(owner: "owner-1", title: "chat \(n)")
            try await a.db.appendTurns(owner: "owner-1", conversationID: c.id, (0..<40).map {
                "Message \($0) of chat \(n): the quick brown fox jumps over the lazy dog, again and again."
            })
        }
        let gone = try await a.db.createConversation(owner: "owner-1", title: "gone")
        try await a.db.deleteConversation(owner: "owner-1", id: gone.id)
        let snapshot = try await a.db.snapshot(partition: p, chunkBytes: 4096)
        #expect(snapshot.chunks.count > 1)
        #expect(snapshot.compressedBytes * 3 < snapshot.rawBytes)
        let b = try TemporaryDatabase()
        for chunk in snapshot.chunks.reversed() { try await b.db.applySnapshotChunk(chunk) }
        for chunk in snapshot.chunks { try await b.db.applySnapshotChunk(chunk) }  // idempotent
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await contents(b.db, owner: "owner-1") == contents(a.db, owner: "owner-1"))
        await expectCode(.deleted) { try await b.db.conversation(owner: "owner-1", id: gone.id) }
        // Catch up from the snapshot's sequence.
        let c = try await a.db.listConversations(owner: "owner-1").data[0]
        try await a.db.appendTurns(owner: "owner-1", conversationID: c.id, ["after the snapshot"])
        try await b.db.apply(try await a.db.changes(partition: p, after: snapshot.throughSeq))
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
    }

    @Test func damagedChunksAreRefused() async throws {
        let a = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "u")
        try await a.db.appendTurns(owner: "u", conversationID: c.id, ["some text to snapshot"])
        let chunk = try #require(try await a.db.snapshot(partition: a.db.partition(ofOwner: "u")).chunks.first)
        let b = try TemporaryDatabase()
        var flipped = chunk
        flipped.payload[flipped.payload.count / 2] ^= 0x40
        await expectCode(.corruptData) { try await b.db.applySnapshotChunk(flipped) }
        var lying = chunk
        lying.rawSize = 1 << 40
        lying.checksum = SnapshotChunk.checksum(partition: lying.partition, index: lying.index, rawSize: lying.rawSize, payload: lying.payload)
        await expectCode(.corruptData) { try await b.db.applySnapshotChunk(lying) }
        // Valid zstd of garbage rows.
        let garbage = try Zstd.compress([7, 1, 2, 3], level: 1)
        await expectCode(.corruptData) {
            try await b.db.applySnapshotChunk(SnapshotChunk(partition: 0, index: 0, rawSize: 4, payload: garbage))
        }
        var truncated = RowWriter()
        truncated.write(MessageRecord(id: "x", conversationID: "c", owner: "u", parentID: nil, role: "user", body: "hello",
                                      model: nil, promptTokens: nil, completionTokens: nil, status: "complete", createdAt: 1))
        let cut = Array(truncated.bytes.dropLast(3))
        await expectCode(.corruptData) {
            try await b.db.applySnapshotChunk(SnapshotChunk(partition: 0, index: 0, rawSize: cut.count,
                                                            payload: try Zstd.compress(cut, level: 1)))
        }
        #expect(try await b.db.digests().isEmpty)
    }

    @Test func mergeRulesAreCommutativeAssociativeIdempotent() {
        var rng = SplitMix64(seed: 42)
        func random() -> ConversationRecord {
            func v() -> HLCTimestamp { HLCTimestamp(rawValue: Int64(rng.next() % 5)) }
            return ConversationRecord(
                id: "c", owner: "o", createdAt: Int64(rng.next() % 3), updatedAt: Int64(rng.next() % 3),
                title: ["a", "b", "c"][Int(rng.next() % 3)], titleVersion: v(), pinned: rng.next() % 2 == 0,
                pinnedVersion: v(), currentMessageID: ["m1", "m2", nil][Int(rng.next() % 3)],
                model: ["x", nil][Int(rng.next() % 2)], leafVersion: v(), deletedVersion: rng.next() % 4 == 0 ? v() : .zero)
        }
        for _ in 0..<2000 {
            let (a, b, c) = (random(), random(), random())
            #expect(MergeRules.merge(a, b) == MergeRules.merge(b, a))
            #expect(MergeRules.merge(MergeRules.merge(a, b), c) == MergeRules.merge(a, MergeRules.merge(b, c)))
            #expect(MergeRules.merge(a, a) == a)
        }
    }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

@Suite struct ReplicationInputTests {
    @Test func rowsOutsideTheBatchPartitionOrWithNULAreRefused() async throws {
        let t = try TemporaryDatabase()
        let p = t.db.partition(ofOwner: "alice")
        let conversation = ConversationRecord(
            id: "c1", owner: "alice", createdAt: 1, updatedAt: 1, title: "t", titleVersion: HLCTimestamp(rawValue: 1),
            pinned: false, pinnedVersion: .zero, currentMessageID: nil, model: nil, leafVersion: .zero, deletedVersion: .zero)
        await expectCode(.corruptData) {
            try await t.db.apply(ReplicationBatch(partition: (p + 1) % 256, conversations: [conversation]))
        }
        var bad = MessageRecord(id: "m1", conversationID: "c1", owner: "alice", parentID: nil, role: "user", body: "a\u{0}b",
                                model: nil, promptTokens: nil, completionTokens: nil, status: "complete", createdAt: 1)
        await expectCode(.invalidInput) { try await t.db.apply(ReplicationBatch(partition: p, messages: [bad])) }
        bad.body = "fine"
        bad.owner = ""
        await expectCode(.invalidInput) { try await t.db.apply(ReplicationBatch(partition: p, messages: [bad])) }
        #expect(try await t.db.digests().isEmpty)
    }

    @Test func indexMaintenanceKeepsSearchWorking() async throws {
        let t = try TemporaryDatabase()
        let c = try await t.db.createConversation(owner: "u")
        for i in 0..<30 { try await t.db.appendTurns(owner: "u", conversationID: c.id, ["segment \(i) zebra"]) }
        try await t.db.mergeSearchIndex(pages: 50)
        try await t.db.optimizeSearchIndex()
        #expect(try await t.db.search(owner: "u", ConversationSearchRequest(query: "zebra", limit: 100)).data.count == 30)
    }
}

@Suite struct SnapshotTransferTests {
    @Test func pulledChunksPlusChangesSinceConvergeWhileTheSourceKeepsWriting() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let owner = "streamer"
        let p = a.db.partition(ofOwner: owner)
        var conversations: [String] = []
        for n in 0..<4 {
            let c = try await a.db.createConversation(owner: owner, title: "c\(n)")
            conversations.append(c.id)
            try await a.db.appendTurns(owner: owner, conversationID: c.id, (0..<30).map { "row \($0) of \(n) with some padding text" })
        }
        var cursor: SnapshotCursor?
        var throughSeq: Int64 = 0
        var pulled = 0
        repeat {
            let page = try await a.db.snapshotChunk(partition: p, after: cursor, chunkBytes: 4096)
            if let chunk = page.chunk { try await b.db.applySnapshotChunk(chunk) }
            throughSeq = page.throughSeq
            cursor = page.next
            pulled += 1
            // The source keeps changing during the transfer.
            if pulled == 2 {
                try await a.db.appendTurns(owner: owner, conversationID: conversations[0], ["written mid-transfer"])
                _ = try await a.db.update(owner: owner, id: conversations[1], patch: ConversationPatch(title: "renamed"))
                try await a.db.deleteConversation(owner: owner, id: conversations[2])
            }
        } while cursor != nil
        #expect(pulled > 2)
        var after = throughSeq
        while true {
            let page = try await a.db.changes(partition: p, after: after, limit: 10)
            try await b.db.apply(page)
            after = page.lastSeq
            if page.isComplete { break }
        }
        #expect(try await b.db.digest(partition: p) == a.db.digest(partition: p))
        #expect(try await b.db.recomputeDigest(partition: p) == a.db.digest(partition: p))
        #expect(try await b.db.conversation(owner: owner, id: conversations[1]).summary.title == "renamed")
        // An empty partition gives no chunk and no next cursor.
        let empty = try await a.db.snapshotChunk(partition: (p + 1) % 256, after: nil)
        #expect(empty.chunk == nil && empty.next == nil)
    }
}

@Suite struct ReadRepairTests {
    @Test func oneConversationsRowsRepairAReplicaThatMissedThem() async throws {
        let a = try TemporaryDatabase()
        let b = try TemporaryDatabase()
        let c = try await a.db.createConversation(owner: "r", title: "repair me")
        try await a.db.appendTurns(owner: "r", conversationID: c.id, ["one", "two", "three"])
        let rows = try await a.db.replicationRows(conversationID: c.id)
        #expect(rows.conversations.count == 1 && rows.messages.count == 3 && rows.partition == a.db.partition(ofOwner: "r"))
        let result = try await b.db.apply(rows)
        #expect(result.conversationsChanged == 1 && result.messagesInserted == 3)
        #expect(try await b.db.conversation(owner: "r", id: c.id) == a.db.conversation(owner: "r", id: c.id))
        #expect(try await a.db.replicationRows(conversationID: "unknown").conversations.isEmpty)
    }
}

import Foundation
import GRDB
@testable import ParleyConversation
import ParleyProtocol
import Synchronization
import Testing

/// Group commit runs a batch without savepoints first; a failing write makes the batch run again
/// with a savepoint per write. Batches are formed here on purpose: a first write holds the writer
/// connection until the others are queued behind it, so they share the next transaction.
@Suite struct GroupCommitTests {
    struct Boom: Error, Equatable {}

    /// A pool with one table of ordered items, and a queue over it whose `beforeCommit` fails
    /// while `failCommit` is set.
    final class Flags: Sendable {
        let failCommit = Mutex(false)
        let rollbacks = Mutex(0)
        let undone = Mutex(0)
    }

    final class Fixture: Sendable {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-gc-\(UUID().uuidString)")
        let pool: DatabasePool
        let queue: GroupCommitQueue
        let flags = Flags()

        init() throws {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            pool = try DatabasePool(path: folder.appendingPathComponent("gc.sqlite").path)
            try pool.write { db in
                try db.execute(sql: "CREATE TABLE items(seq INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            }
            let flags = self.flags
            queue = GroupCommitQueue(
                pool: pool, maxBatch: 512,
                beforeCommit: { _ in if flags.failCommit.withLock({ $0 }) { throw Boom() } },
                afterRollback: { flags.rollbacks.withLock { $0 += 1 } })
        }

        deinit { try? FileManager.default.removeItem(at: folder) }

        func names() throws -> [String] {
            try pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM items ORDER BY seq") }
        }

        /// Runs `writes` as one batch: a first write holds the writer until all of them are
        /// queued. Returns each write's outcome, in the order given.
        func batch(_ writes: [@Sendable (Database) throws -> String]) async throws -> [Result<String, any Error>] {
            let release = DispatchSemaphore(value: 0)
            let blocker = Task { try await queue.write { _ in release.wait() } }
            while queue.stats.transactions == 0 { await Task.yield() }
            var tasks: [Task<String, any Error>] = []
            for (index, work) in writes.enumerated() {
                tasks.append(Task { try await queue.write(work) })
                // Queued in this order (each is queued before the next starts).
                while queue.pendingCount < index + 1 { await Task.yield() }
            }
            release.signal()
            try await blocker.value
            var results: [Result<String, any Error>] = []
            for task in tasks { results.append(await task.result) }
            return results
        }
    }

    static func insert(_ name: String) -> @Sendable (Database) throws -> String {
        { db in
            try db.execute(sql: "INSERT INTO items(name) VALUES (?)", arguments: [name])
            return name
        }
    }

    @Test func aWriteThatFailsInABatchFailsAloneAndTheOthersCommitInOrder() async throws {
        let f = try Fixture()
        let before = f.queue.stats
        let results = try await f.batch([
            Self.insert("a"), Self.insert("b"),
            { db in
                try db.execute(sql: "INSERT INTO items(name) VALUES ('doomed')")
                throw Boom()
            },
            Self.insert("c"),
            Self.insert("a"),  // a constraint failure of the database, also alone
            Self.insert("d"),
        ])
        #expect(try results[0].get() == "a")
        #expect(try results[1].get() == "b")
        #expect(throws: Boom.self) { try results[2].get() }
        #expect(try results[3].get() == "c")
        #expect(throws: (any Error).self) { try results[4].get() }
        #expect(try results[5].get() == "d")
        #expect(try f.names() == ["a", "b", "c", "d"])
        let stats = f.queue.stats
        #expect(stats.writes - before.writes == 7)  // the blocker and the six
        #expect(stats.retriedBatches - before.retriedBatches == 1)
        #expect(f.flags.rollbacks.withLock { $0 } == 1)  // the attempt without savepoints
    }

    @Test func aBatchWithoutFailuresCommitsOnceWithoutARetry() async throws {
        let f = try Fixture()
        let names = (0..<50).map { "item-\($0)" }
        let results = try await f.batch(names.map { Self.insert($0) })
        #expect(try results.map { try $0.get() } == names)
        #expect(try f.names() == names)
        #expect(f.queue.stats.retriedBatches == 0)
        #expect(f.queue.stats.transactions == 2)  // the blocker's, then the batch's
        #expect(f.flags.rollbacks.withLock { $0 } == 0)
    }

    @Test func aFailedCommitFailsEveryWriteOfTheBatchAndAcknowledgesNone() async throws {
        let f = try Fixture()
        let flags = f.flags
        f.flags.failCommit.withLock { $0 = true }
        let release = DispatchSemaphore(value: 0)
        let blocker = Task { try await f.queue.write { _ in release.wait() } }
        while f.queue.stats.transactions == 0 { await Task.yield() }
        var tasks: [Task<String, any Error>] = []
        for index in 0..<10 {
            let queue = f.queue
            let work = Self.insert("x\(index)")
            tasks.append(Task { try await queue.write(undo: { flags.undone.withLock { $0 += 1 } }, work) })
            while f.queue.pendingCount < index + 1 { await Task.yield() }
        }
        // The blocker's own transaction fails too (its commit is refused): release it first.
        release.signal()
        await #expect(throws: Boom.self) { try await blocker.value }
        for task in tasks {
            await #expect(throws: Boom.self) { try await task.value }
        }
        #expect(try f.names().isEmpty)
        #expect(flags.undone.withLock { $0 } == 10)
        #expect(f.queue.stats.retriedBatches == 0)
        // The queue goes on once commits succeed again.
        f.flags.failCommit.withLock { $0 = false }
        #expect(try await f.queue.write(Self.insert("after")) == "after")
        #expect(try f.names() == ["after"])
    }

    @Test func aRetriedBatchPushesEachCapturedRowOnce() async throws {
        let t = try TemporaryDatabase()
        let conversation = try await t.db.createConversation(owner: "ann", title: "t")
        let release = DispatchSemaphore(value: 0)
        // The blocker must be alone in its batch (the conversation above already made a transaction,
        // so wait for one more): batched with the failing write, it would run again and wait forever.
        let before = t.db.writes.stats.transactions
        let blocker = Task { try await t.db.write { _ in release.wait() } }
        while t.db.writes.stats.transactions == before { await Task.yield() }
        let capture = ChangeCapture()
        let captured = Task {
            try await ChangeCapture.$current.withValue(capture) {
                try await t.db.appendMessage(
                    owner: "ann", conversationID: conversation.id, NewMessage(role: .user, content: "once"))
            }
        }
        while t.db.writes.pendingCount < 1 { await Task.yield() }
        // Fails inside the batch's transaction (no such conversation): the batch runs again.
        let failing = Task {
            try await t.db.appendMessage(owner: "ann", conversationID: "missing", NewMessage(role: .user, content: "no"))
        }
        while t.db.writes.pendingCount < 2 { await Task.yield() }
        release.signal()
        try await blocker.value
        let message = try await captured.value
        await #expect(throws: ConversationError.self) { try await failing.value }
        #expect(t.db.writes.stats.retriedBatches == 1)
        let batch = capture.batch(partition: t.db.partition(ofOwner: "ann"))
        #expect(batch.messages.map(\.id) == [message.id])
        #expect(batch.conversations.count == 1)
        #expect(batch.conversations.first?.currentMessageID == message.id)
        #expect(try await t.db.conversation(owner: "ann", id: conversation.id).messages.map(\.id) == [message.id])
        let p = t.db.partition(ofOwner: "ann")
        #expect(try await t.db.recomputeDigest(partition: p) == t.db.digest(partition: p))
    }

    @Test func concurrentAppendsToOneConversationFormOneChainInCommitOrder() async throws {
        let t = try TemporaryDatabase()
        let conversation = try await t.db.createConversation(owner: "bo", title: "t")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<64 {
                group.addTask {
                    _ = try await t.db.appendMessage(
                        owner: "bo", conversationID: conversation.id, NewMessage(role: .user, content: "turn \(n)"))
                }
            }
            try await group.waitForAll()
        }
        let details = try await t.db.conversation(owner: "bo", id: conversation.id)
        #expect(details.messages.count == 64)
        // Each append's parent is the leaf the previous one (in commit order) left: one chain,
        // whose leaf is the conversation's current message.
        let branch = try await t.db.visibleBranch(owner: "bo", conversationID: conversation.id)
        #expect(branch.count == 64)
        #expect(branch.first?.parentID == nil)
        for (previous, next) in zip(branch, branch.dropFirst()) { #expect(next.parentID == previous.id) }
        #expect(t.db.writes.stats.transactions < 64)  // they did share transactions
    }
}

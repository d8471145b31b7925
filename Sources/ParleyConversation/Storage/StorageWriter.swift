import Foundation
import GRDB
import Synchronization

/// Row-level writes shared by local API calls and replication: every path that changes a row
/// goes through here, so change sequence, partition digest and FTS stay consistent.
/// Only called inside write transactions (the GRDB writer serializes them).
final class StorageWriter: Sendable {
    let partitioner: Partitioner
    let state: Mutex<WriterState>
    let now: @Sendable () -> Date
    /// The capture of the write running now (set around each write by ``ConversationDatabase``).
    private let activeCapture = Mutex<ChangeCapture?>(nil)
    /// The largest message `seq` of the running transaction that is in the search index: rows
    /// above it were inserted by this transaction and are indexed together by
    /// ``indexPendingMessages(_:)`` before it commits. `nil` when the transaction inserted none.
    let indexedThrough = Mutex<Int64?>(nil)
    /// Digest changes and user numbers kept between the row writes of a transaction.
    private let deferred = Mutex(DeferredWrites())
    /// When each partition last changed here (written just before the commit), for anti-entropy.
    private let lastChanges = Mutex<[Int: ContinuousClock.Instant]>([:])
    /// Finished generation runs older than this (Unix milliseconds) are pruned here: a replica
    /// that has not pruned yet cannot hand them back. Only grows.
    private let pruneCutoff = Atomic<Int64>(Int64.min)

    /// Finished runs last updated before this time (Unix milliseconds) are not stored when they
    /// arrive (``mergeGenerationRun(_:_:previous:conversationKnownLive:)``).
    var generationsPrunedBefore: Int64 { pruneCutoff.load(ordering: .relaxed) }

    /// Whether finished runs older than the cutoff may remain: then every write transaction prunes
    /// a few of them too (``pruneAlongside(_:)``).
    private let pruneBacklog = Atomic<Bool>(false)
    /// The most runs a write transaction prunes alongside its own writes.
    static let prunedPerTransaction = 16

    /// Refuses finished runs last updated before `cutoff` from now on (a lower cutoff than the
    /// current one changes nothing), and prunes them alongside the writes that follow.
    func refuseGenerations(finishedBefore cutoff: Int64) {
        pruneCutoff.max(cutoff, ordering: .relaxed)
        pruneBacklog.store(true, ordering: .relaxed)
    }

    init(partitioner: Partitioner, state: WriterState, now: @escaping @Sendable () -> Date) {
        self.partitioner = partitioner
        self.state = Mutex(state)
        self.now = now
    }

    var nowMillis: Int64 { ConversationDatabase.millis(now()) }

    /// Runs one write's `body` (inside its savepoint) with `capture`, if any, recording the rows it
    /// changes; the captured rows and deferred digest changes of a failing body are forgotten.
    /// Writes run one at a time on the writer connection, so one slot suffices.
    func capturing<T>(_ capture: ChangeCapture?, _ body: () throws -> T) throws -> T {
        let deferredMark = deferred.withLock { $0.mark }
        let captureMark = capture?.mark
        if let capture { activeCapture.withLock { $0 = capture } }
        defer { if capture != nil { activeCapture.withLock { $0 = nil } } }
        do {
            return try body()
        } catch {
            if let capture, let captureMark { capture.rollBack(to: captureMark) }
            deferred.withLock { $0.dropChanges(after: deferredMark) }
            throw error
        }
    }

    /// Work deferred to the end of a write transaction, run just before it commits: the search
    /// index of its new messages and its partition digest changes.
    func finishTransaction(_ db: Database) throws {
        pruneAlongside(db)
        try indexPendingMessages(db)
        try flushDigests(db)
    }

    /// While finished runs older than the cutoff remain, a write transaction also removes a few of
    /// them (at most ``prunedPerTransaction``, about 2 ms of work): under load, pruning keeps pace
    /// with the writes instead of waiting for a turn of its own. In a savepoint of its own: should
    /// it fail, the transaction's own writes go on without it.
    private func pruneAlongside(_ db: Database) {
        guard pruneBacklog.load(ordering: .relaxed) else { return }
        let mark = deferred.withLock { $0.mark }
        do {
            var more = true
            try db.inSavepoint {
                more = try pruneGenerationRuns(
                    db, finishedBefore: generationsPrunedBefore, limit: Self.prunedPerTransaction, budget: .milliseconds(2)
                ).more
                return .commit
            }
            if !more { pruneBacklog.store(false, ordering: .relaxed) }
        } catch {
            deferred.withLock { $0.dropChanges(after: mark) }
        }
    }

    /// The transaction rolled back: forgets what it deferred.
    func transactionRolledBack() {
        resetIndexMark()
        deferred.withLock { $0.reset() }
    }

    /// A fresh HLC version for a local change.
    func tick() -> HLCTimestamp {
        let now = nowMillis
        return state.withLock { $0.clock.tick(now: now) }
    }

    /// Advances the HLC past a version received from another replica.
    func observe(_ version: HLCTimestamp) {
        let now = nowMillis
        state.withLock { $0.clock.observe(version, now: now) }
    }

    /// A new time-ordered id.
    func newID() -> String {
        let now = nowMillis
        return state.withLock { state in state.ids.next(now: now, using: &state.random) }
    }

    func nextChangeSeq() -> Int64 {
        state.withLock { state in
            state.changeSeq += 1
            return state.changeSeq
        }
    }

    /// The local number of a user (created on first use); it names the user inside the search
    /// index (`owner_tag` = `u<num>`), built here and never from user input.
    func userNumber(_ db: Database, owner: String) throws -> Int64 {
        if let known = deferred.withLock({ $0.userNumber(owner) }) { return known }
        if let num = try Int64.fetchOne(db.cachedStatement(sql: "SELECT num FROM users WHERE id = ?"), arguments: [owner]) {
            deferred.withLock { $0.remember(owner: owner, number: num) }
            return num
        }
        try db.cachedStatement(sql: "INSERT INTO users(id, created_at) VALUES (?, ?)").execute(arguments: [owner, nowMillis])
        return db.lastInsertedRowID
    }

    /// The capture of the write running now, if its caller bound one.
    var currentCapture: ChangeCapture? { activeCapture.withLock { $0 } }

    func loadConversation(_ db: Database, id: String) throws -> ConversationRecord? {
        try Self.decodeFirst(
            db.cachedStatement(sql: ConversationRecord.selectByID), arguments: [id],
            ConversationRecord.init(row:))
    }

    /// The first row of `statement` decoded in place by `decode` (`Row.fetchOne` copies the row
    /// first); the row is only valid while the cursor lives.
    static func decodeFirst<T>(_ statement: Statement, arguments: StatementArguments, _ decode: (Row) -> T) throws -> T? {
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        return try withExtendedLifetime(cursor) { try cursor.next().map(decode) }
    }

    /// Merges `incoming` into the stored row (or stores it); returns whether anything changed.
    /// A newly tombstoned conversation loses its messages and generation log here.
    @discardableResult
    func mergeConversation(_ db: Database, _ incoming: ConversationRecord) throws -> Bool {
        try mergeConversation(db, incoming, previous: try loadConversation(db, id: incoming.id))
    }

    /// As above, with the stored row already loaded in this transaction by the caller.
    @discardableResult
    func mergeConversation(_ db: Database, _ incoming: ConversationRecord, previous: ConversationRecord?) throws -> Bool {
        let merged = previous.map { MergeRules.merge($0, incoming) } ?? incoming
        if merged == previous { return false }
        let partition = partitioner.partition(ofOwner: merged.owner)
        let hash = merged.rowHash
        let arguments: StatementArguments = [
            merged.owner, merged.createdAt, merged.updatedAt, merged.title, merged.titleVersion.rawValue, merged.pinned,
            merged.pinnedVersion.rawValue, merged.currentMessageID, merged.model, merged.leafVersion.rawValue,
            merged.deletedVersion.rawValue, partition, nextChangeSeq(), hash.data, merged.id,
        ]
        if previous == nil {
            try db.cachedStatement(sql: """
                    INSERT INTO conversations(owner, created_at, updated_at, title, title_version, pinned, pinned_version,
                        current_message_id, model, leaf_version, deleted_version, partition, change_seq, row_hash, id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: arguments)
        } else {
            // The row is there (read in this transaction): a plain update skips the insert attempt.
            try db.cachedStatement(sql: """
                    UPDATE conversations SET owner = ?, created_at = ?, updated_at = ?, title = ?, title_version = ?,
                        pinned = ?, pinned_version = ?, current_message_id = ?, model = ?, leaf_version = ?,
                        deleted_version = ?, partition = ?, change_seq = ?, row_hash = ?
                    WHERE id = ?
                    """).execute(arguments: arguments)
        }
        activeCapture.withLock { $0 }?.record(merged)
        var delta = hash
        var rows: Int64 = 1
        if let previous {
            delta = delta ^ previous.rowHash
            rows = 0
        }
        try updateDigest(db, partition: partition, delta: delta, rows: rows)
        if merged.isDeleted && !(previous?.isDeleted ?? false) {
            try purgeContents(db, conversationID: merged.id, partition: partition)
        }
        return true
    }

    /// Stores an immutable message unless it is already there (union merge) or its conversation
    /// is a tombstone. Returns whether it was inserted.
    @discardableResult
    func insertMessage(_ db: Database, _ message: MessageRecord, conversationKnownLive: Bool = false) throws -> Bool {
        try insertMessages(db, [message], conversationsKnownLive: conversationKnownLive) == 1
    }

    private static let insertMessageSQL = """
        INSERT INTO messages(\(MessageRecord.columns), owner_num, partition, change_seq, row_hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO NOTHING
        """

    /// Stores many messages in the current transaction (replication batches, snapshots, imports):
    /// tombstone and user lookups are cached per conversation/owner for the batch (digest changes
    /// are summed per partition at commit, ``flushDigests(_:)``). Returns how many were new.
    /// `knownDeleted` holds conversations whose state the caller read in this transaction.
    func insertMessages(
        _ db: Database, _ messages: [MessageRecord], conversationsKnownLive: Bool = false,
        knownDeleted: [String: Bool] = [:]
    ) throws -> Int {
        var deleted = knownDeleted
        var owners: [String: Int64] = [:]
        let insert = try db.cachedStatement(sql: Self.insertMessageSQL)
        var inserted = 0
        let capture = activeCapture.withLock { $0 }
        try markUnindexedMessages(db)
        for message in messages {
            if !conversationsKnownLive {
                let isDeleted: Bool
                if let known = deleted[message.conversationID] {
                    isDeleted = known
                } else {
                    isDeleted = try Bool.fetchOne(
                        db.cachedStatement(sql: "SELECT deleted_version > 0 FROM conversations WHERE id = ?"),
                        arguments: [message.conversationID]) ?? false
                    deleted[message.conversationID] = isDeleted
                }
                if isDeleted { continue }
            }
            let ownerNum: Int64
            if let known = owners[message.owner] {
                ownerNum = known
            } else {
                ownerNum = try userNumber(db, owner: message.owner)
                owners[message.owner] = ownerNum
            }
            let partition = partitioner.partition(ofOwner: message.owner)
            let hash = message.rowHash
            try insert.execute(arguments: [
                message.id, message.conversationID, message.owner, message.parentID, message.role, message.body,
                message.model, message.promptTokens, message.completionTokens, message.status, message.createdAt,
                ownerNum, partition, nextChangeSeq(), hash.data,
            ])
            guard db.changesCount > 0 else {
                // Already stored: the same version (nothing to do) or another one (one wins).
                if let winner = try replaceIfWinning(db, message) { capture?.record(winner) }
                continue
            }
            capture?.record(message)
            inserted += 1
            try updateDigest(db, partition: partition, delta: hash, rows: 1)
        }
        return inserted
    }

    /// Notes, before the transaction's first message insert, the largest `seq` stored so far (every
    /// row up to it is indexed; new rows get larger ones, `seq` being the rowid).
    private func markUnindexedMessages(_ db: Database) throws {
        guard indexedThrough.withLock({ $0 }) == nil else { return }
        let mark = try Int64.fetchOne(db.cachedStatement(sql: "SELECT coalesce(max(seq), 0) FROM messages")) ?? 0
        indexedThrough.withLock { $0 = mark }
    }

    /// Adds the messages this transaction inserted to the search index, in one statement. Runs
    /// last in every write transaction (``GroupCommitQueue``), so the index commits with the rows.
    ///
    /// Indexing per transaction instead of per row (an insert trigger) matters: FTS5 writes its
    /// pending terms out as a new segment at every statement savepoint, and each insert that fires
    /// a trigger opens one, so the index grew by a segment (and merge work) per message.
    func indexPendingMessages(_ db: Database) throws {
        guard let mark = indexedThrough.withLock({ $0 }) else { return }
        try db.cachedStatement(sql: """
            INSERT INTO messages_fts(rowid, owner_tag, body) SELECT seq, owner_tag, body FROM messages WHERE seq > ?
            """).execute(arguments: [mark])
        indexedThrough.withLock { $0 = nil }
    }

    /// Forgets the transaction's mark (the transaction rolled back: its rows are gone).
    func resetIndexMark() {
        indexedThrough.withLock { $0 = nil }
    }

    /// Removes a deleted conversation's messages (and their index entries) and generation log.
    /// Rows this transaction inserted are not indexed yet, so only older rows leave the index.
    private func purgeContents(_ db: Database, conversationID: String, partition: Int) throws {
        var delta = RowHash.zero
        var count: Int64 = 0
        let hashes = try Data.fetchAll(
            db.cachedStatement(sql: "SELECT row_hash FROM messages WHERE conversation_id = ?"), arguments: [conversationID])
        for data in hashes {
            delta = delta ^ RowHash(data: data)
            count += 1
        }
        let indexed = indexedThrough.withLock { $0 } ?? Int64.max
        try db.cachedStatement(sql: """
                INSERT INTO messages_fts(messages_fts, rowid, owner_tag, body)
                    SELECT 'delete', seq, owner_tag, body FROM messages WHERE conversation_id = ? AND seq <= ?
                """).execute(arguments: [conversationID, indexed])
        try db.cachedStatement(sql: "DELETE FROM messages WHERE conversation_id = ?").execute(arguments: [conversationID])
        try deleteGenerationRuns(db, where: "conversation_id = ?", [conversationID])
        if count > 0 { try updateDigest(db, partition: partition, delta: delta, rows: -count) }
    }

    /// Adds a change to a partition's digest; written with the transaction's other changes of that
    /// partition just before it commits (``flushDigests(_:)``).
    func updateDigest(_ db: Database, partition: Int, delta: RowHash, rows: Int64) throws {
        deferred.withLock { $0.addDigestChange(partition: partition, delta: delta, rows: rows) }
    }

    /// When `partition` last changed here since the process started (`nil`: not since then).
    func lastChange(partition: Int) -> ContinuousClock.Instant? {
        lastChanges.withLock { $0[partition] }
    }

    /// Writes the transaction's digest changes, one row per partition. Runs last in every write
    /// transaction (and after the backfill at open).
    func flushDigests(_ db: Database) throws {
        let sums = deferred.withLock { $0.takeDigestChanges() }
        guard !sums.isEmpty else { return }
        let now = ContinuousClock.now
        lastChanges.withLock { for partition in sums.keys { $0[partition] = now } }
        // SQLite has no XOR operator: a ^ b == (a | b) & ~(a & b).
        // The sequence is the writer's latest: every change of the partition up to it is in this
        // or an earlier (committed) transaction.
        let seq = state.withLock { $0.changeSeq }
        let upsert = try db.cachedStatement(sql: """
                INSERT INTO partition_digests(partition, digest_high, digest_low, row_count, last_change_seq)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(partition) DO UPDATE SET
                    digest_high = (digest_high | excluded.digest_high) & ~(digest_high & excluded.digest_high),
                    digest_low = (digest_low | excluded.digest_low) & ~(digest_low & excluded.digest_low),
                    row_count = row_count + excluded.row_count,
                    last_change_seq = max(last_change_seq, excluded.last_change_seq)
                """)
        for (partition, delta) in sums {
            try upsert.execute(arguments: [partition, delta.hash.high, delta.hash.low, delta.rows, seq])
        }
    }
}

extension RowHash {
    var data: Data {
        // Big-endian high then low, written in one go (byte-wise `Data` subscripts showed in profiles).
        var words = (UInt64(bitPattern: high).bigEndian, UInt64(bitPattern: low).bigEndian)
        return withUnsafeBytes(of: &words) { Data($0) }
    }

    init(data: Data) {
        self.init(digest: Array(data) + [UInt8](repeating: 0, count: max(0, 16 - data.count)))
    }
}

import Foundation
import GRDB
package import Logging
import ParleyProtocol
import Synchronization

/// One node's durable conversation history: SQLite through GRDB (WAL, one writer, concurrent
/// readers) with full-text search kept in the same transaction as each message write.
///
/// Every user-facing call is scoped by `owner`: another owner's conversations answer
/// `notFound`, exactly like ids that do not exist. A write returns only after its transaction
/// has committed (group commit batches concurrent writes into one transaction).
package final class ConversationDatabase: Sendable {
    package let configuration: Configuration
    let pool: DatabasePool
    let writes: GroupCommitQueue
    let writer: StorageWriter
    let logger: Logger
    /// When a full disk was last logged (``reportFullDisk()``).
    private let lastFullDiskReport = Mutex<ContinuousClock.Instant?>(nil)
    /// This database's identity: a random id made when it was created, the key peers keep their
    /// change-feed cursors under (a wiped and recreated database is a new identity).
    package let identity: String

    /// Opens (creating if needed) the database at `configuration.path` and migrates its schema.
    package init(configuration: Configuration, logger: Logger = Logger(label: "parley.conversation")) throws {
        self.configuration = configuration
        self.logger = logger
        let folder = URL(fileURLWithPath: configuration.path).deletingLastPathComponent()
        let storageWriter: StorageWriter
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var config = GRDB.Configuration()
            config.maximumReaderCount = max(1, configuration.maximumReaderCount)
            config.prepareDatabase { db in
                // WAL + NORMAL: a commit survives a process kill (not a power cut) without an
                // fsync per transaction. Larger checkpoints and cache cut write amplification;
                // in-memory temp storage keeps the per-write savepoints' statement journals off disk.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                try db.execute(sql: "PRAGMA temp_store = MEMORY")
                let cacheKiB = db.configuration.readonly ? configuration.readerCacheKiB : configuration.writerCacheKiB
                try db.execute(sql: "PRAGMA cache_size = -\(max(64, cacheKiB))")
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(1, configuration.walAutocheckpointPages))")
                try UserScopedRank.register(db)
            }
            pool = try DatabasePool(path: configuration.path, configuration: config)
            try ConversationSchema.migrator().migrate(pool)
            let recovered = try pool.read { db in try WriterState.recover(db) }
            identity = try pool.write { db in
                if let known = try String.fetchOne(db, sql: "SELECT value FROM replica_meta WHERE key = 'identity'") {
                    return known
                }
                let made = UUID().uuidString.lowercased()
                try db.execute(sql: "INSERT INTO replica_meta(key, value) VALUES ('identity', ?)", arguments: [made])
                return made
            }
            storageWriter = StorageWriter(
                partitioner: Partitioner(count: configuration.partitionCount),
                state: recovered,
                now: configuration.now
            )
            try pool.write { db in
                try storageWriter.backfillGenerationRows(db)
                try storageWriter.flushDigests(db)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw ConversationError(.storageFull, "cannot open the conversation database: its disk is full", cause: error)
        } catch {
            throw ConversationError(.storageFailure, "cannot open the conversation database", cause: error)
        }
        writer = storageWriter
        writes = GroupCommitQueue(
            pool: pool, maxBatch: configuration.maxWritesPerTransaction,
            beforeCommit: { db in try storageWriter.finishTransaction(db) },
            afterRollback: { storageWriter.transactionRolledBack() })
        logger.debug("conversation database open", metadata: ["db.path": "\(configuration.path)"])
    }

    /// Group-commit counters since open: writes and the transactions that carried them.
    package var groupCommitStats: (transactions: Int, writes: Int) {
        let stats = writes.stats
        return (stats.transactions, stats.writes)
    }

    /// The partition an owner's conversations belong to.
    package func partition(ofOwner owner: String) -> Int {
        writer.partitioner.partition(ofOwner: owner)
    }

    /// Runs a write through group commit, mapping storage errors to ``ConversationError``.
    /// The rows it changes are recorded into the caller's ``ChangeCapture`` if one is bound.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let capture = ChangeCapture.current
        let writer = self.writer
        // The capture's rows before this write: a run whose transaction rolled back (the write may
        // run again, see `GroupCommitQueue`) is cut back to them. A task waits for its write, so
        // no other write of this capture runs meanwhile.
        let mark = capture?.mark
        do {
            return try await writes.write(undo: {
                if let capture, let mark { capture.rollBack(to: mark) }
            }) { db in try writer.capturing(capture) { try work(db) } }
        } catch let error as ConversationError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            reportFullDisk()
            throw ConversationError(.storageFull, "the conversation store's disk is full; nothing was stored", cause: error)
        } catch {
            throw ConversationError(.storageFailure, "write failed", cause: error)
        }
    }

    /// Logs that the database's disk is full, at most once every 10 seconds (every write fails
    /// until there is room again).
    private func reportFullDisk() {
        let now = ContinuousClock.now
        let due = lastFullDiskReport.withLock { last in
            guard last.map({ now - $0 >= .seconds(10) }) ?? true else { return false }
            last = now
            return true
        }
        if due {
            logger.error(
                "the disk holding the conversation database is full: writes fail until there is room",
                metadata: ["db.path": "\(configuration.path)"])
        }
    }

    /// Runs a read on a reader connection, mapping storage errors to ``ConversationError``.
    /// `work` must return Sendable values (never GRDB rows; see NOTES-libraries).
    func read<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(work)
        } catch let error as ConversationError {
            throw error
        } catch {
            throw ConversationError(.storageFailure, "read failed", cause: error)
        }
    }

    /// Current wall time in Unix milliseconds.
    var nowMillis: Int64 { Self.millis(configuration.now()) }

    static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    static func date(_ millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}

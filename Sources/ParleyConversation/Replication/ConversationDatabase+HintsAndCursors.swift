import Foundation
import GRDB

/// A write kept for a replica that missed it (hinted hand-off), as stored.
struct StoredHint: Sendable {
    var id: Int64
    var batch: ReplicaBatchWire
}

extension ConversationDatabase {
    /// Stores `batches` as hints for the replica at `address` (durable on return), keeping at most
    /// `limit` hints for it: older ones are dropped (anti-entropy still repairs what they carried).
    func storeHints(_ batches: [ReplicaBatchWire], for address: String, limit: Int) async throws {
        guard !batches.isEmpty else { return }
        try await write { db in
            let insert = try db.cachedStatement(sql: "INSERT INTO replica_hints(address, partition, rows) VALUES (?, ?, ?)")
            for batch in batches {
                try insert.execute(arguments: [address, batch.partition, Data(batch.rows)])
            }
            try db.cachedStatement(sql: """
                DELETE FROM replica_hints WHERE address = ? AND id <= (
                    SELECT id FROM replica_hints WHERE address = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                """).execute(arguments: [address, address, max(1, limit)])
        }
    }

    /// Addresses that have hints waiting.
    func hintAddresses() async throws -> [String] {
        try await read { db in
            try String.fetchAll(db.cachedStatement(sql: "SELECT DISTINCT address FROM replica_hints"))
        }
    }

    /// The oldest `limit` hints for `address`.
    func hints(for address: String, limit: Int) async throws -> [StoredHint] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, partition, rows FROM replica_hints WHERE address = ? ORDER BY id LIMIT ?"),
                arguments: [address, max(1, limit)]
            ).map { row in
                StoredHint(
                    id: row[0],
                    batch: ReplicaBatchWire(partition: row[1], rows: [UInt8](row[2] as Data), lastSeq: 0, isComplete: true))
            }
        }
    }

    /// Removes delivered hints.
    func deleteHints(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await write { db in
            let delete = try db.cachedStatement(sql: "DELETE FROM replica_hints WHERE id = ?")
            for id in ids { try delete.execute(arguments: [id]) }
        }
    }

    /// Hints waiting, over all replicas.
    package func pendingHintCount() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM replica_hints") ?? 0 }
    }
}

extension ConversationDatabase {
    /// The change-feed positions pulled so far from the peer database `peer`, by partition.
    func replicaCursors(peer: String) async throws -> [Int: Int64] {
        try await read { db in
            var cursors: [Int: Int64] = [:]
            for row in try Row.fetchAll(
                db.cachedStatement(sql: "SELECT partition, seq FROM replica_cursors WHERE peer = ?"), arguments: [peer])
            {
                cursors[row[0]] = row[1]
            }
            return cursors
        }
    }

    /// Remembers that everything of `partition` up to `seq` of the peer database `peer` is applied
    /// here (call only after it is).
    func saveReplicaCursor(peer: String, partition: Int, seq: Int64) async throws {
        try await saveReplicaCursors(peer: peer, [(partition, seq)])
    }

    /// Several cursors of one peer database in one write.
    func saveReplicaCursors(peer: String, _ positions: [(partition: Int, seq: Int64)]) async throws {
        guard !positions.isEmpty else { return }
        try await write { db in
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO replica_cursors(peer, partition, seq) VALUES (?, ?, ?)
                ON CONFLICT(peer, partition) DO UPDATE SET seq = max(seq, excluded.seq)
                """)
            for position in positions { try upsert.execute(arguments: [peer, position.partition, position.seq]) }
        }
    }
}

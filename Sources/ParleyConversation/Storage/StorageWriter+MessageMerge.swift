import Foundation
import GRDB
import Synchronization

extension StorageWriter {
    /// Replaces the stored version of `incoming`'s message when `incoming` wins by
    /// ``MergeRules/merge(_:_:)-(MessageRecord,MessageRecord)``, keeping the search index, the
    /// change feed and the partition digest in step. Returns the new version when it replaced
    /// the stored one. Runs inside the write transaction that tried to insert `incoming`.
    func replaceIfWinning(_ db: Database, _ incoming: MessageRecord) throws -> MessageRecord? {
        guard let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(MessageRecord.columns), seq, row_hash, partition FROM messages WHERE id = ?"),
            arguments: [incoming.id])
        else { return nil }
        let stored = MessageRecord(row: row)
        guard MergeRules.winsOver(incoming, stored) else { return nil }
        let seq: Int64 = row[11]
        let oldHash = RowHash(data: row[12])
        let partition: Int = row[13]
        let newHash = incoming.rowHash
        // Rows up to the transaction's mark are in the search index already; later ones are
        // indexed at commit from their current body.
        let indexed = seq <= (indexedThrough.withLock { $0 } ?? Int64.max)
        if indexed {
            try db.cachedStatement(sql: """
                INSERT INTO messages_fts(messages_fts, rowid, owner_tag, body)
                    SELECT 'delete', seq, owner_tag, body FROM messages WHERE seq = ?
                """).execute(arguments: [seq])
        }
        try db.cachedStatement(sql: """
            UPDATE messages SET body = ?, model = ?, prompt_tokens = ?, completion_tokens = ?, status = ?,
                change_seq = ?, row_hash = ?
            WHERE seq = ?
            """).execute(arguments: [
                incoming.body, incoming.model, incoming.promptTokens, incoming.completionTokens, incoming.status,
                nextChangeSeq(), newHash.data, seq,
            ])
        if indexed {
            try db.cachedStatement(sql: """
                INSERT INTO messages_fts(rowid, owner_tag, body) SELECT seq, owner_tag, body FROM messages WHERE seq = ?
                """).execute(arguments: [seq])
        }
        try updateDigest(db, partition: partition, delta: oldHash ^ newHash, rows: 0)
        return incoming
    }
}

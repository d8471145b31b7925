import GRDB

/// The on-disk schema, as GRDB migrations. Times are Unix milliseconds; versions are HLC
/// timestamps (`HLCTimestamp.rawValue`); `change_seq` is a node-local sequence that orders every
/// row change for the per-partition change feed; `row_hash` feeds the partition digest.
enum ConversationSchema {
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE users(
                    num INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE conversations(
                    id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    partition INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    title_version INTEGER NOT NULL,
                    pinned INTEGER NOT NULL,
                    pinned_version INTEGER NOT NULL,
                    current_message_id TEXT,
                    model TEXT,
                    leaf_version INTEGER NOT NULL,
                    deleted_version INTEGER NOT NULL,
                    change_seq INTEGER NOT NULL,
                    row_hash BLOB NOT NULL
                );
                CREATE INDEX conversations_list
                    ON conversations(owner, pinned DESC, updated_at DESC, id DESC) WHERE deleted_version = 0;
                CREATE INDEX conversations_changes ON conversations(partition, change_seq);
                CREATE TABLE messages(
                    seq INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    conversation_id TEXT NOT NULL,
                    parent_id TEXT,
                    role TEXT NOT NULL,
                    body TEXT NOT NULL,
                    model TEXT,
                    prompt_tokens INTEGER,
                    completion_tokens INTEGER,
                    status TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    owner TEXT NOT NULL,
                    owner_num INTEGER NOT NULL,
                    owner_tag TEXT GENERATED ALWAYS AS ('u' || owner_num) VIRTUAL,
                    partition INTEGER NOT NULL,
                    change_seq INTEGER NOT NULL,
                    row_hash BLOB NOT NULL
                );
                CREATE INDEX messages_by_conversation ON messages(conversation_id, created_at, id);
                CREATE INDEX messages_changes ON messages(partition, change_seq);
                CREATE VIRTUAL TABLE messages_fts USING fts5(
                    owner_tag, body,
                    content='messages', content_rowid='seq',
                    tokenize='unicode61 remove_diacritics 2'
                );
                CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
                    INSERT INTO messages_fts(rowid, owner_tag, body) VALUES (new.seq, new.owner_tag, new.body);
                END;
                CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
                    INSERT INTO messages_fts(messages_fts, rowid, owner_tag, body)
                        VALUES ('delete', old.seq, old.owner_tag, old.body);
                END;
                CREATE TABLE partition_digests(
                    partition INTEGER PRIMARY KEY,
                    digest_high INTEGER NOT NULL,
                    digest_low INTEGER NOT NULL,
                    row_count INTEGER NOT NULL
                );
                CREATE TABLE generation_runs(
                    request_id TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL,
                    conversation_id TEXT,
                    parent_id TEXT,
                    message_id TEXT NOT NULL,
                    model TEXT,
                    producer TEXT NOT NULL,
                    status TEXT NOT NULL,
                    last_seq INTEGER NOT NULL,
                    bytes INTEGER NOT NULL,
                    started_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                );
                CREATE INDEX generation_runs_streaming ON generation_runs(status, updated_at);
                CREATE TABLE generation_events(
                    request_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    text TEXT NOT NULL,
                    PRIMARY KEY(request_id, seq)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-durable-hints") { db in
            // Writes a replica missed (hinted hand-off), kept until that replica takes them, so a
            // coordinator restarted in between still hands them over.
            try db.execute(sql: """
                CREATE TABLE replica_hints(
                    id INTEGER PRIMARY KEY,
                    address TEXT NOT NULL,
                    partition INTEGER NOT NULL,
                    rows BLOB NOT NULL
                );
                CREATE INDEX replica_hints_by_address ON replica_hints(address, id);
                """)
        }
        migrator.registerMigration("v3-replica-cursors") { db in
            // The database's identity (a random id made once), and how far this node has pulled
            // each peer database's change feed per partition, so a restart resumes the feed
            // instead of pulling whole snapshots again. A digest row also keeps the change
            // sequence of the partition's last change: a peer whose digest equals it holds every
            // row up to that sequence.
            try db.execute(sql: """
                CREATE TABLE replica_meta(
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                );
                CREATE TABLE replica_cursors(
                    peer TEXT NOT NULL,
                    partition INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY(peer, partition)
                ) WITHOUT ROWID;
                ALTER TABLE partition_digests ADD COLUMN last_change_seq INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v4-index-per-transaction") { db in
            // The search index is written once per transaction by the storage writer (see
            // `StorageWriter.indexPendingMessages`), no longer by a trigger per row.
            try db.execute(sql: """
                DROP TRIGGER messages_fts_insert;
                DROP TRIGGER messages_fts_delete;
                """)
        }
        migrator.registerMigration("v5-replicated-generations") { db in
            // Generation runs and their events replicate like conversations and messages: each row
            // keeps its partition, a change sequence (change feed, snapshots) and a row hash
            // (partition digest). Rows stored before get them at open
            // (`StorageWriter.backfillGenerationRows`), which needs the partitioner.
            try db.execute(sql: """
                ALTER TABLE generation_runs ADD COLUMN partition INTEGER NOT NULL DEFAULT -1;
                ALTER TABLE generation_runs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE generation_runs ADD COLUMN row_hash BLOB;
                CREATE INDEX generation_runs_changes ON generation_runs(partition, change_seq);
                ALTER TABLE generation_events ADD COLUMN partition INTEGER NOT NULL DEFAULT -1;
                ALTER TABLE generation_events ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE generation_events ADD COLUMN row_hash BLOB;
                CREATE INDEX generation_events_changes ON generation_events(partition, change_seq);
                """)
        }
        migrator.registerMigration("v6-generation-log-spans") { db in
            // A run's log is stored as spans of consecutive events (a producer's batch), one row
            // each, instead of a row per event (`GenerationLogSpan`). Every stored event becomes a
            // span of one: the same partition, change sequence and row hash, so digests, change
            // feed cursors and other replicas are unaffected.
            try db.execute(sql: """
                CREATE TABLE generation_log_spans(
                    request_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    last_seq INTEGER NOT NULL,
                    texts BLOB NOT NULL,
                    partition INTEGER NOT NULL DEFAULT -1,
                    change_seq INTEGER NOT NULL DEFAULT 0,
                    row_hash BLOB,
                    PRIMARY KEY(request_id, seq, last_seq)
                ) WITHOUT ROWID;
                INSERT INTO generation_log_spans
                    SELECT request_id, seq, seq, CAST(text AS BLOB), partition, change_seq, row_hash FROM generation_events;
                DROP TABLE generation_events;
                CREATE INDEX generation_log_spans_changes ON generation_log_spans(partition, change_seq);
                """)
        }
        return migrator
    }
}

import GRDB

extension ConversationDatabase {
    /// Merges the full-text index's segments into one (FTS5 `optimize`). Every write
    /// transaction adds a small segment and FTS5 merges them only gradually; queries cost grows
    /// with the number of segments. Run after bulk loads (import, snapshot restore) or at idle.
    /// Holds the writer for its duration (seconds at a million messages).
    package func optimizeSearchIndex() async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
        }
    }

    /// Does a bounded amount of incremental index merging (FTS5 `merge`, `pages` leaf pages of
    /// work); cheap enough to run after every few hundred writes or from a background service.
    package func mergeSearchIndex(pages: Int = 500) async throws {
        try await write { db in
            try db.execute(sql: "INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', ?)", arguments: [pages])
        }
    }
}

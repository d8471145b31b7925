package import Foundation

extension ConversationDatabase {
    /// Settings of one node's conversation database. Every field has a documented default.
    package struct Configuration: Sendable {
        /// Path of the SQLite file (WAL files live beside it). Its folder is created if missing.
        package var path: String
        /// Number of owner partitions (replication and snapshot unit); default 256. Never change it
        /// for existing data.
        package var partitionCount: Int = 256
        /// Most writes the group commit puts into one transaction; default 512.
        package var maxWritesPerTransaction: Int = 512
        /// Reader connections of the pool; default 4.
        package var maximumReaderCount: Int = 4
        /// WAL pages after which a commit copies the WAL into the database file (SQLite's
        /// `wal_autocheckpoint`); default 32,768 pages (128 MiB). A checkpoint writes every page
        /// changed since the last one and syncs the file, so rarer checkpoints write a hot page
        /// (indexes, conversation rows) once for many commits. Durability does not depend on it.
        package var walAutocheckpointPages: Int = 32_768
        /// Page cache of the writer connection in KiB (SQLite's `cache_size`); default 8,192 (8 MiB).
        /// A B-tree insert that splits pages renumbers a cached page to the lock-byte page's number
        /// for a moment (262,145 with 4 KiB pages), so each commit then drops cached pages above the
        /// file's end by visiting every page of the cache (SQLite 3.40 here; seen with gdb). While the file is under
        /// 1 GiB that happens at nearly every commit, at a cost that grows with the cache: about
        /// 6.5% of a node's CPU in the replicated benchmark with 32 MiB, 2.4% with 8 MiB. 8 MiB
        /// still holds the write path's hot pages (index tails and interior pages, digests).
        package var writerCacheKiB: Int = 8_192
        /// Page cache of each reader connection in KiB; default 32,768 (32 MiB). Readers commit
        /// nothing, and a larger cache keeps search's index pages between queries.
        package var readerCacheKiB: Int = 32_768
        /// Search ranking and snippets.
        package var search = Search()
        /// Wall clock; tests pass a manual one. Default `Date.init`.
        package var now: @Sendable () -> Date = { Date() }

        package init(path: String) {
            self.path = path
        }

        /// Search ranking and snippet settings.
        package struct Search: Sendable {
            /// Weight of the recency boost: a message from right now scores `1 + recencyWeight` times
            /// its BM25 relevance, an old one about 1 times. Default 0.5.
            package var recencyWeight: Double = 0.5
            /// Age in days at which the recency boost has fallen to half; default 30 days.
            package var recencyHalfLifeDays: Double = 30
            /// Tokens of context a snippet shows around the matches; default 16.
            package var snippetTokens: Int = 16
            /// Most distinct terms taken from a query; the rest is ignored. Default 16.
            package var maxQueryTerms: Int = 16

            package init() {}
        }
    }
}

import GRDB

/// In-memory state of the single writer: the HLC, the id generator and the change sequence (over
/// every replicated table, ``FeedRow/tables``).
/// Recovered at open from the stored maxima, so neither goes backwards after a restart.
struct WriterState {
    var clock = HybridLogicalClock()
    var ids = UUIDv7Generator()
    var changeSeq: Int64 = 0
    var random = SystemRandomNumberGenerator()

    static func recover(_ db: Database) throws -> WriterState {
        var state = WriterState()
        let maxSeq = try Int64.fetchOne(db.cachedStatement(sql: FeedRow.maxChangeSeqSQL)) ?? 0
        state.changeSeq = maxSeq
        let maxVersion = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT max(max(title_version), max(pinned_version), max(leaf_version), max(deleted_version))
            FROM conversations
            """)) ?? 0
        state.clock.observe(HLCTimestamp(rawValue: maxVersion), now: 0)
        return state
    }
}

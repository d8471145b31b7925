/// Coordination-free merge rules. `merge` is commutative, associative and idempotent, so
/// replicas that saw the same rows in any order end up with identical rows.
package enum MergeRules {
    /// Merges two versions of the same conversation (same `id`):
    /// - `createdAt`: minimum; `updatedAt`: maximum;
    /// - title, pinned and leaf (current message + model): each by its own version, ties broken
    ///   by comparing the values, so the choice is the same everywhere;
    /// - `deletedVersion`: maximum, so a tombstone wins over any concurrent edit.
    package static func merge(_ a: ConversationRecord, _ b: ConversationRecord) -> ConversationRecord {
        var out = a
        out.owner = min(a.owner, b.owner)
        out.createdAt = min(a.createdAt, b.createdAt)
        out.updatedAt = max(a.updatedAt, b.updatedAt)
        if (b.titleVersion, b.title) > (a.titleVersion, a.title) {
            out.title = b.title
            out.titleVersion = b.titleVersion
        }
        if (b.pinnedVersion, b.pinned ? 1 : 0) > (a.pinnedVersion, a.pinned ? 1 : 0) {
            out.pinned = b.pinned
            out.pinnedVersion = b.pinnedVersion
        }
        let leafA = (a.leafVersion, a.currentMessageID ?? "", a.model ?? "")
        let leafB = (b.leafVersion, b.currentMessageID ?? "", b.model ?? "")
        if leafB > leafA {
            out.currentMessageID = b.currentMessageID
            out.model = b.model
            out.leafVersion = b.leafVersion
        }
        out.deletedVersion = max(a.deletedVersion, b.deletedVersion)
        return out
    }
}

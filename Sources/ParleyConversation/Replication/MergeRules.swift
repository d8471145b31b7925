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

    /// Picks between two versions of the same message (same `id`) that replicas stored differently
    /// — an answer one side kept as `interrupted` and the other as `complete`, say. Messages are
    /// written once, so this happens only when a stream was cut off from part of its replicas. A
    /// whole version wins, never a mix: the more finished status (withdrawn — a tombstone —,
    /// complete or truncated, cancelled, interrupted, streaming), then the longer body, then the larger row hash,
    /// so every replica picks the same.
    package static func merge(_ a: MessageRecord, _ b: MessageRecord) -> MessageRecord {
        winsOver(b, a) ? b : a
    }

    /// Whether `b` replaces `a`: the two must be the same message (id, conversation, owner, role,
    /// parent and creation time); a version that differs in those is never taken.
    package static func winsOver(_ b: MessageRecord, _ a: MessageRecord) -> Bool {
        guard a.id == b.id, a.conversationID == b.conversationID, a.owner == b.owner, a.role == b.role,
            a.parentID == b.parentID, a.createdAt == b.createdAt, a != b
        else { return false }
        let hashA = a.rowHash
        let hashB = b.rowHash
        return (statusRank(b.status), b.body.utf8.count, hashB.high, hashB.low)
            > (statusRank(a.status), a.body.utf8.count, hashA.high, hashA.low)
    }

    private static func statusRank(_ status: String) -> Int {
        switch status {
        case MessageRecord.withdrawnStatus: 5
        case "complete", "truncated": 4
        case "cancelled": 3
        case "interrupted": 2
        case "streaming": 1
        default: 0
        }
    }
}

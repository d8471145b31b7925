package import Foundation
package import ParleyProtocol

/// One answer being generated: its token events are logged with sequence numbers so a client can
/// resume from `Last-Event-ID` on any gateway, and a run whose producer vanished can be found
/// and marked interrupted.
package struct GenerationRun: Hashable, Sendable {
    package var requestID: String
    package var owner: String
    /// Conversation the answer belongs to (`nil` for `store: false` requests).
    package var conversationID: String?
    /// The message the answer replies to.
    package var parentID: String?
    /// Id the finished answer is stored under.
    package var messageID: String
    package var model: String?
    /// Who produces the tokens (e.g. the completion node's name); used to find orphaned runs.
    package var producer: String
    /// `streaming` until finished.
    package var status: MessageStatus
    /// Sequence number of the last logged event; 0 before the first.
    package var lastSeq: Int64
    /// UTF-8 bytes logged so far.
    package var bytes: Int64
    package var startedAt: Date
    /// Time of the last event or state change.
    package var updatedAt: Date
}

/// One logged piece of an answer (usually a batch of tokens).
package struct GenerationLogEvent: Hashable, Sendable {
    /// 1-based, consecutive within a run; the SSE `id:`.
    package var seq: Int64
    package var text: String

    package init(seq: Int64, text: String) {
        self.seq = seq
        self.text = text
    }
}

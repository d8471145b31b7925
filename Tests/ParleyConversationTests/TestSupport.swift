import Foundation
@testable import ParleyConversation
import ParleyProtocol
import Synchronization

/// A manual wall clock: tests advance it explicitly.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(seconds: Double) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A database in a fresh temporary folder, removed when the value is released.
final class TemporaryDatabase: Sendable {
    let folder: URL
    let clock: ManualClock
    let db: ConversationDatabase

    var path: String { folder.appendingPathComponent("history.sqlite").path }

    init(clock: ManualClock = ManualClock(), configure: (inout ConversationDatabase.Configuration) -> Void = { _ in })
        throws
    {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-conv-\(UUID().uuidString)")
        self.clock = clock
        var configuration = ConversationDatabase.Configuration(
            path: folder.appendingPathComponent("history.sqlite").path)
        configuration.now = { clock.now }
        configure(&configuration)
        db = try ConversationDatabase(configuration: configuration)
    }

    /// Opens a second handle on the same file (as a restarted process would).
    func reopen() throws -> ConversationDatabase {
        var configuration = db.configuration
        configuration.now = { [clock] in clock.now }
        return try ConversationDatabase(configuration: configuration)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Everything a replica holds for `partition`, read through the change feed in pages of `limit`.
func everything(_ db: ConversationDatabase, partition: Int, limit: Int = 7) async throws -> ReplicationBatch {
    var all = ReplicationBatch(partition: partition)
    var after: Int64 = 0
    while true {
        let page = try await db.changes(partition: partition, after: after, limit: limit)
        all.conversations += page.conversations
        all.messages += page.messages
        after = page.lastSeq
        all.lastSeq = page.lastSeq
        if page.isComplete { break }
    }
    return all
}

extension ConversationDatabase {
    /// Appends user/assistant turns on the current branch; returns the messages.
    @discardableResult
    func appendTurns(owner: String, conversationID: String, _ texts: [String]) async throws -> [ConversationMessage] {
        var out: [ConversationMessage] = []
        for (i, text) in texts.enumerated() {
            let role: MessageRole = i % 2 == 0 ? .user : .assistant
            out.append(try await appendMessage(
                owner: owner, conversationID: conversationID,
                NewMessage(role: role, content: text, model: role == .assistant ? "smollm2" : nil)))
        }
        return out
    }
}

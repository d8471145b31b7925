import GRDB
package import ParleyProtocol

extension ConversationDatabase {
    /// Stores a turn's start in one transaction (see `TurnStart`): a new chat's conversation (the
    /// one `conversationForRequest` answers; `notFound` once deleted), the request's messages, the
    /// first replying to `parentID` (a root when nil) and each later one to the one before, and the
    /// generation run, whose answer replies to the last of them (else to `parentID`).
    ///
    /// A request id the owner started before answers its run with `created: false` and writes
    /// nothing (a retried request); another owner's answers `conflict`. A failure writes nothing.
    package func startTurn(owner: String, _ turn: TurnStart) async throws -> (run: GenerationRun, created: Bool) {
        try Self.validate(owner: owner, turn)
        let writer = self.writer
        return try await write { db in
            if let existing = try Self.startedRun(db, owner: owner, requestID: turn.requestID) { return (existing, false) }
            // The conversation is read once; each append answers it as it is then stored. A new
            // chat's row is stored once, with its messages appended.
            var conversation: ConversationRecord?
            var isNew = false
            if let title = turn.newChatTitle {
                (conversation, isNew) = try Self.chatOfRequest(
                    db, writer: writer, owner: owner, requestID: turn.requestID, title: title)
            } else {
                conversation = try turn.conversationID.map { try Self.ownedConversation(db, owner: owner, id: $0) }
            }
            var parentID = turn.parentID
            if var stored = conversation {
                try Self.checkTurnParent(db, conversationID: stored.id, turn)
                for draft in turn.messages {
                    let appended = try Self.append(
                        db, writer: writer, to: stored,
                        NewMessage(
                            role: draft.role, content: draft.content,
                            parent: parentID.map(MessageParent.message) ?? .root, model: draft.model),
                        storesConversation: !isNew)
                    stored = appended.conversation
                    parentID = appended.message.id
                }
                if isNew { try writer.mergeConversation(db, stored, previous: nil) }
            }
            let run = try Self.insertRun(
                db, writer: writer,
                GenerationStart(
                    owner: owner, requestID: turn.requestID, conversationID: conversation?.id, parentID: parentID,
                    model: turn.model, producer: turn.producer))
            return (run, true)
        }
    }

    /// A turn without messages still needs the message its answer replies to (the conversation
    /// was read owned and live); with messages, appending the first one checks it.
    private static func checkTurnParent(_ db: Database, conversationID: String, _ turn: TurnStart) throws {
        guard turn.messages.isEmpty, let parentID = turn.parentID else { return }
        if try !containsMessage(db, id: parentID, conversationID: conversationID) {
            throw ConversationError(.notFound, "the parent message is not in this conversation")
        }
    }

    /// The checks of `conversationForRequest`, `appendMessage` and `startGeneration` on a turn,
    /// and its shape: a new chat or an existing conversation, not both; messages only in one.
    private static func validate(owner: String, _ turn: TurnStart) throws {
        try Validation.owner(owner)
        try Validation.model(turn.model)
        try Validation.runStart(requestID: turn.requestID, producer: turn.producer)
        for id in [turn.conversationID, turn.parentID] {
            if let id { try Validation.noNUL(id) }
        }
        if let title = turn.newChatTitle {
            guard turn.conversationID == nil else {
                throw ConversationError(.invalidInput, "a turn starts a new chat or continues a conversation, not both")
            }
            try Validation.title(title)
        } else if turn.conversationID == nil, !turn.messages.isEmpty {
            throw ConversationError(.invalidInput, "a turn stored in no conversation has no messages to store")
        }
        for draft in turn.messages {
            try Validation.content(draft.content)
            try Validation.role(draft.role)
            try Validation.model(draft.model)
        }
    }
}

extension ConversationDatabase {
    /// Withdraws the turn of `requestID` whose request the model refused before its answer started
    /// (an invalid request, a prompt longer than the context): its answer, if stored, and the
    /// `storedMessages` messages the request stored above it become tombstones — status
    /// ``MessageRecord/withdrawnStatus``, body emptied — which no read shows and which win every
    /// merge, so replicas agree they are gone. A current leaf among them moves back to the message
    /// the turn followed. Withdrawing again changes nothing.
    package func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws {
        let writer = self.writer
        try await write { db in
            let run = try Self.ownedRunRow(db, owner: owner, requestID: requestID)
            guard let conversationID = run.conversationID else { return }
            var conversation = try Self.ownedConversation(db, owner: owner, id: conversationID)
            func stored(_ id: String) throws -> MessageRecord? {
                try Row.fetchOne(db.cachedStatement(sql: MessageRecord.selectByID), arguments: [id])
                    .map(MessageRecord.init(row:)).flatMap { $0.conversationID == conversationID ? $0 : nil }
            }
            // The answer (stored at the run's end, so maybe not), then the request's messages upwards.
            var chain = try stored(run.messageID).map { [$0] } ?? []
            var next = run.parentID
            for _ in 0..<max(0, storedMessages) {  // a count from the wire: never trap on it
                guard let id = next, let message = try stored(id) else { break }
                chain.append(message)
                next = message.parentID
            }
            for message in chain where message.status != MessageRecord.withdrawnStatus {
                var tombstone = message
                tombstone.status = MessageRecord.withdrawnStatus
                tombstone.body = ""
                tombstone.promptTokens = nil
                tombstone.completionTokens = nil
                _ = try writer.replaceIfWinning(db, tombstone)
            }
            if let leaf = conversation.currentMessageID, chain.contains(where: { $0.id == leaf }) {
                conversation.currentMessageID = next
                conversation.leafVersion = writer.tick()
                _ = try writer.mergeConversation(db, conversation)
            }
        }
    }
}

package import Foundation
import Logging
import GRDB
package import ParleyProtocol

extension ConversationDatabase {
    private static let runColumns = """
        request_id, owner, conversation_id, parent_id, message_id, model, producer, status, last_seq, bytes, \
        started_at, updated_at
        """

    static func run(_ row: GenerationRunRow) -> GenerationRun {
        GenerationRun(
            requestID: row.requestID, owner: row.owner, conversationID: row.conversationID, parentID: row.parentID,
            messageID: row.messageID, model: row.model, producer: row.producer,
            status: MessageStatus(rawValue: row.status) ?? .interrupted, lastSeq: row.lastSeq, bytes: row.bytes,
            startedAt: date(row.startedAt), updatedAt: date(row.updatedAt))
    }

    private static func run(_ row: Row) -> GenerationRun {
        GenerationRun(
            requestID: row[0], owner: row[1], conversationID: row[2], parentID: row[3], messageID: row[4],
            model: row[5], producer: row[6], status: MessageStatus(rawValue: row[7]) ?? .interrupted,
            lastSeq: row[8], bytes: row[9], startedAt: date(row[10]), updatedAt: date(row[11]))
    }

    private static func ownedRun(_ db: Database, owner: String, requestID: String) throws -> GenerationRun {
        Self.run(try ownedRunRow(db, owner: owner, requestID: requestID))
    }

    /// The stored row of the owner's run `requestID` (`notFound` if there is none).
    static func ownedRunRow(_ db: Database, owner: String, requestID: String) throws -> GenerationRunRow {
        guard let row = try GenerationRunRow.load(db, requestID: requestID), row.owner == owner else {
            throw ConversationError(
                .notFound, "no such generation (an unknown request id, or a finished answer whose log was pruned)")
        }
        return row
    }

    /// Starts logging a generation (idempotent: starting an existing run returns it). When
    /// `conversationID` is given the finished answer is stored there as a message replying to
    /// `parentID` (default: the current leaf at start).
    package func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String? = nil, model: String?,
        producer: String
    ) async throws -> GenerationRun {
        try Validation.owner(owner)
        try Validation.model(model)
        try Validation.runStart(requestID: requestID, producer: producer)
        let writer = self.writer
        return try await write { db in
            if let existing = try Self.startedRun(db, owner: owner, requestID: requestID) { return existing }
            var parent = parentID
            if let conversationID {
                let conversation = try Self.ownedConversation(db, owner: owner, id: conversationID)
                parent = parent ?? conversation.currentMessageID
            }
            return try Self.insertRun(
                db, writer: writer,
                GenerationStart(
                    owner: owner, requestID: requestID, conversationID: conversationID, parentID: parent, model: model,
                    producer: producer))
        }
    }

    /// The run already started under `requestID`, nil if none; `conflict` if another owner's.
    static func startedRun(_ db: Database, owner: String, requestID: String) throws -> GenerationRun? {
        guard let existing = try GenerationRunRow.load(db, requestID: requestID).map(Self.run) else { return nil }
        guard existing.owner == owner else { throw ConversationError(.conflict, "request id in use") }
        return existing
    }

    /// The fixed fields of a run being started (its answer replies to `parentID`).
    struct GenerationStart {
        var owner: String
        var requestID: String
        var conversationID: String?
        var parentID: String?
        var model: String?
        var producer: String
    }

    /// Stores a new `streaming` run with an empty log and a new answer id (the caller checked in
    /// this transaction that no run has its request id, and read its conversation, if any, live).
    static func insertRun(_ db: Database, writer: StorageWriter, _ start: GenerationStart) throws -> GenerationRun {
        let now = writer.nowMillis
        let row = GenerationRunRow(
            requestID: start.requestID, owner: start.owner, conversationID: start.conversationID,
            parentID: start.parentID, messageID: writer.newID(), model: start.model, producer: start.producer,
            status: MessageStatus.streaming.rawValue, lastSeq: 0, bytes: 0, startedAt: now, updatedAt: now)
        try writer.mergeGenerationRun(db, row, previous: nil, conversationKnownLive: true)
        return Self.run(row)
    }

    /// Logs `texts` as events `fromSeq`, `fromSeq + 1`, …; events already logged are ignored, so a
    /// producer may resend a batch after a failure. A gap (first new seq beyond `lastSeq + 1`)
    /// or a finished run answers `conflict`. Returns the run's last sequence number.
    @discardableResult
    package func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, _ texts: [String])
        async throws -> Int64
    {
        try Self.validateEvents(fromSeq: fromSeq, texts)
        let writer = self.writer
        return try await write { db in
            try Self.logEvents(
                db, writer: writer, run: try Self.ownedRunRow(db, owner: owner, requestID: requestID), fromSeq: fromSeq,
                texts
            ).lastSeq
        }
    }

    /// Checks a batch of events before its write: sequence numbers start at 1, texts carry no NUL.
    private static func validateEvents(fromSeq: Int64, _ texts: [String]) throws {
        guard fromSeq >= 1 else { throw ConversationError(.invalidInput, "sequence numbers start at 1") }
        for text in texts { try Validation.noNUL(text) }
    }

    /// Logs `texts` as events `fromSeq`, … of `run` (its row as this transaction read it; the rules
    /// of `appendGenerationEvents`), updates the run's length and answers its last sequence number
    /// and whether every event was new; with `finishing`, the same run update also ends the run with
    /// that status (one row write instead of two).
    private static func logEvents(
        _ db: Database, writer: StorageWriter, run: GenerationRunRow, fromSeq: Int64, _ texts: [String],
        finishing: MessageStatus? = nil
    ) throws -> (lastSeq: Int64, allNew: Bool) {
        guard run.isStreaming else { throw ConversationError(.conflict, "the generation has finished") }
        guard fromSeq <= run.lastSeq + 1 else {
            throw ConversationError(.conflict, "events must follow seq \(run.lastSeq) without a gap")
        }
        var updated = run
        for (offset, text) in texts.enumerated() {
            // Events up to `lastSeq` are stored already (kept as they are; a reader takes the
            // first span holding an event), unless a replica learnt the run's length before its
            // events: logging them again fills the hole.
            guard fromSeq + Int64(offset) > updated.lastSeq else { continue }
            updated.bytes += Int64(text.utf8.count)
            guard updated.bytes <= ConversationLimits.maxContentBytes else {
                throw ConversationError(.tooLarge, "an answer is limited to \(ConversationLimits.maxContentBytes) bytes")
            }
            updated.lastSeq = fromSeq + Int64(offset)
        }
        let inserted = texts.isEmpty ? 0 : try writer.insertGenerationLogSpans(
            db, [GenerationLogSpan(requestID: run.requestID, seq: fromSeq, texts: texts)],
            knownPartitions: [run.requestID: writer.partitioner.partition(ofOwner: run.owner)])
        updated.updatedAt = writer.nowMillis
        if let finishing { updated.status = finishing.rawValue }
        try writer.mergeGenerationRun(db, updated, previous: run)
        return (updated.lastSeq, inserted == 1 && fromSeq > run.lastSeq)
    }

    /// The logged events of `requestID` after `afterSeq`, each once, at most `limit`.
    static func loggedEvents(_ db: Database, requestID: String, afterSeq: Int64 = 0, limit: Int = .max) throws
        -> [(seq: Int64, text: String)]
    {
        // A span holds at least one event: `limit` spans hold at least `limit` events.
        let spans = try GenerationLogSpan.stored(
            db, requestID: requestID, endingAfter: afterSeq, limit: limit == .max ? nil : limit)
        return GenerationLogSpan.events(in: spans, after: afterSeq, limit: limit)
    }

    /// The run and its events after `afterSeq` (the client's `Last-Event-ID`, 0 for all), at most
    /// `limit` of them.
    package func readGenerationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int = 1000)
        async throws -> (run: GenerationRun, events: [GenerationLogEvent])
    {
        try await read { db in
            let run = try Self.ownedRun(db, owner: owner, requestID: requestID)
            let events = try Self.loggedEvents(db, requestID: requestID, afterSeq: afterSeq, limit: max(1, limit))
                .map { GenerationLogEvent(seq: $0.seq, text: $0.text) }
            return (run, events)
        }
    }

    /// Ends a run as `complete`, `truncated`, `cancelled` or `interrupted`. If it belongs to a conversation,
    /// the logged text is stored there as the answer (status included). Finishing again returns
    /// the stored answer unchanged.
    @discardableResult
    package func finishGeneration(
        owner: String, requestID: String, status: MessageStatus, promptTokens: Int? = nil,
        completionTokens: Int? = nil
    ) async throws -> ConversationMessage? {
        try await finishGeneration(
            owner: owner, requestID: requestID, appending: [], fromSeq: 1, status: status, promptTokens: promptTokens,
            completionTokens: completionTokens)
    }

    /// Logs `texts` as events `fromSeq`, … (the rules of `appendGenerationEvents`), then ends the
    /// run as `finishGeneration` does, in one transaction: if either step fails, neither is
    /// stored. Finishing again returns the stored answer, so a repeated call (its texts all
    /// logged already, or none) is idempotent; texts beyond a finished run's log answer `conflict`.
    @discardableResult
    package func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        promptTokens: Int? = nil, completionTokens: Int? = nil
    ) async throws -> ConversationMessage? {
        guard status != .streaming else { throw ConversationError(.invalidInput, "a finished run cannot be streaming") }
        if !texts.isEmpty { try Self.validateEvents(fromSeq: fromSeq, texts) }
        let writer = self.writer
        return try await write { db in
            let run = try Self.ownedRunRow(db, owner: owner, requestID: requestID)
            let repeated = !run.isStreaming && fromSeq + Int64(texts.count) - 1 <= run.lastSeq
            let logged = !texts.isEmpty && !repeated
            // A log this call wrote whole (from its first event, none stored before) is `texts`: no
            // need to read it back.
            var wholeLog: [String]?
            if logged {
                let written = try Self.logEvents(db, writer: writer, run: run, fromSeq: fromSeq, texts, finishing: status)
                if fromSeq == 1 && written.allNew { wholeLog = texts }
            }
            return try Self.finish(
                db, writer: writer, run: run, status: status, promptTokens: promptTokens,
                completionTokens: completionTokens, runEnded: logged, wholeLog: wholeLog)
        }
    }

    /// Ends `run` (its row as it was before this transaction) with `status` unless `runEnded` says
    /// the transaction did already, and stores its answer: the text of `wholeLog` when the caller
    /// has the whole log at hand, else the logged events.
    private static func finish(
        _ db: Database, writer: StorageWriter, run: GenerationRunRow, status: MessageStatus, promptTokens: Int?,
        completionTokens: Int?, runEnded: Bool = false, wholeLog: [String]? = nil
    ) throws -> ConversationMessage? {
        if run.isStreaming, !runEnded {
            var ended = run
            ended.status = status.rawValue
            ended.updatedAt = writer.nowMillis
            try writer.mergeGenerationRun(db, ended, previous: run)
        }
        guard let conversationID = run.conversationID else { return nil }
        if let stored = try Row.fetchOne(
            db.cachedStatement(sql: MessageRecord.selectByID), arguments: [run.messageID]
        ).map(MessageRecord.init(row:)) {
            return stored.message
        }
        guard run.isStreaming else { return nil }
        let text = try wholeLog?.joined() ?? loggedEvents(db, requestID: run.requestID).map(\.text).joined()
        let message = NewMessage(
            role: .assistant, content: text, parent: run.parentID.map(MessageParent.message) ?? .root,
            model: run.model, promptTokens: promptTokens, completionTokens: completionTokens,
            status: status, id: run.messageID)
        do {
            // The answer's id was looked up above: no message has it.
            let conversation = try ownedConversation(db, owner: run.owner, id: conversationID)
            return try append(db, writer: writer, to: conversation, message, idIsNew: true).message
        } catch let error as ConversationError where error.code == .deleted || error.code == .notFound {
            return nil  // the conversation was deleted meanwhile: nothing to store
        }
    }

    /// Runs still `streaming` that logged nothing for `idleTimeout`, or whose producer is not in
    /// `liveProducers` and logged nothing for `goneGrace` — their producer is gone. The grace
    /// covers a producer this node has not seen alive yet: a node restarted under its old name
    /// serves (and starts runs) before every member has heard that it is back.
    package func orphanedGenerations(
        liveProducers: Set<String>, idleTimeout: Duration, goneGrace: Duration
    ) async throws -> [GenerationRun] {
        let cutoff = nowMillis - idleTimeout.wholeMilliseconds
        let goneCutoff = nowMillis - goneGrace.wholeMilliseconds
        let runs = try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(Self.runColumns) FROM generation_runs WHERE status = ? ORDER BY updated_at"),
                arguments: [MessageStatus.streaming.rawValue]
            ).map(Self.run)
        }
        return runs.filter { run in
            let updated = Self.millis(run.updatedAt)
            return updated < cutoff || (!liveProducers.contains(run.producer) && updated < goneCutoff)
        }
    }

    /// Marks the orphaned runs `interrupted` (storing their partial answers); returns their ids.
    @discardableResult
    package func interruptOrphanedGenerations(
        liveProducers: Set<String>, idleTimeout: Duration, goneGrace: Duration
    ) async throws -> [String] {
        let orphans = try await orphanedGenerations(liveProducers: liveProducers, idleTimeout: idleTimeout, goneGrace: goneGrace)
        var interrupted: [String] = []
        for run in orphans {
            _ = try await finishGeneration(owner: run.owner, requestID: run.requestID, status: .interrupted)
            interrupted.append(run.requestID)
        }
        if !interrupted.isEmpty {
            logger.info("interrupted orphaned generations", metadata: ["generation.count": "\(interrupted.count)"])
        }
        return interrupted
    }

    /// Refuses finished runs last changed before `cutoff` when replicas send them, as a prune
    /// with that cutoff does, before the prune has run (a node that starts up calls it before it
    /// pulls from other replicas).
    package func refuseGenerations(finishedBefore cutoff: Date) {
        writer.refuseGenerations(finishedBefore: Self.millis(cutoff))
    }

    /// What one write of a prune may spend: it removes runs until this much time has passed (or
    /// `pruneRunsPerWrite` runs), so the serving writes that share or follow it wait no longer.
    package static let pruneWriteBudget = Duration.milliseconds(5)
    /// The most runs one write of a prune removes.
    package static let pruneRunsPerWrite = 256

    /// Drops the logs of runs that finished before `finishedBefore` (their answers stay stored in
    /// their conversations), in writes of at most `runsPerWrite` runs and `writeBudget` of work so
    /// that serving writes go on in between; returns how many runs its own writes dropped (every
    /// write transaction drops a few more alongside, ``StorageWriter/prunedPerTransaction``).
    /// From now on such runs are refused when a replica sends them
    /// (``StorageWriter/refuseGenerations(finishedBefore:)``), so a replica that prunes a little
    /// later, by the same cutoff, cannot hand them back by a snapshot or its change feed. Every
    /// replica prunes by the same rule on the same merged rows: once all have pruned with one
    /// cutoff, their digests agree again (``GenerationLogRetention`` gives all nodes the same cutoffs).
    @discardableResult
    package func pruneGenerations(
        finishedBefore: Date, runsPerWrite: Int = pruneRunsPerWrite, writeBudget: Duration = pruneWriteBudget
    ) async throws -> Int {
        let cutoff = Self.millis(finishedBefore)
        let writer = self.writer
        writer.refuseGenerations(finishedBefore: cutoff)
        var pruned = 0
        while true {
            let step = try await write { db in
                try writer.pruneGenerationRuns(db, finishedBefore: cutoff, limit: max(1, runsPerWrite), budget: writeBudget)
            }
            pruned += step.removed
            // A node shutting down stops between writes; the next prune goes on from there.
            if !step.more || Task.isCancelled { break }
        }
        if pruned > 0 {
            logger.info("pruned generation logs", metadata: ["generation.count": "\(pruned)"])
        }
        return pruned
    }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

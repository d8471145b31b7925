import ParleyProtocol
import Synchronization

@testable import ParleyCompletion

/// A conversation store kept in memory, for tests only: one branch per conversation.
final class InMemoryHistoryStore: HistoryStore, HistoryStoreLocator {
    struct StoredMessage: Hashable, Sendable {
        var id: String
        var parentID: String?
        var message: ChatMessage
        var status: MessageStatus
    }

    struct Run: Sendable {
        var owner: String
        var handle: GenerationLogHandle
        var events: [Int64: String] = [:]
        var status: MessageStatus = .streaming
    }

    private struct State {
        var conversations: [String: (owner: String, messages: [StoredMessage])] = [:]
        var runs: [String: Run] = [:]
        var nextID = 1
        var discarded: Set<String> = []
        /// Turns withdrawn by ``withdrawTurn(owner:requestID:storedMessages:)``: request id, messages.
        var withdrawn: [String: Int] = [:]
        /// Empty appends (a run saying it is alive), by request id.
        var keepAlives: [String: Int] = [:]
        /// Calls of `appendGenerationEvents` (the events a finish carries are not counted).
        var appendCalls = 0
        /// Once a run's log reaches `at`, it falls back to `to` (a replica that died before passing
        /// on its last batches; the next write reaches one that is behind).
        var fallBack: (at: Int64, to: Int64)?
        /// While true, `startTurn` and `startGeneration` wait (see `holdStarts()`).
        var holdingStarts = false
        var heldStarts: [CheckedContinuation<Void, Never>] = []
        /// `startTurn` and `startGeneration` throw this.
        var startFailure: (any Error)?
        /// The next `writeFailures.count` log writes and finishes throw `writeFailures.error`.
        var writeFailures: (count: Int, error: any Error)?
        /// Calls of `finishGeneration`, failed ones included.
        var finishCalls = 0

        mutating func newID(_ prefix: String) -> String {
            defer { nextID += 1 }
            return "\(prefix)\(nextID)"
        }
    }

    private let state = Mutex(State())
    /// One element per finished generation: its request id and status.
    let (finished, finishedContinuation) = AsyncStream<(String, MessageStatus)>.makeStream()

    func currentStore() -> (any HistoryStore)? { self }

    /// Makes `startTurn` and `startGeneration` wait until `releaseStarts()`.
    func holdStarts() { state.withLock { $0.holdingStarts = true } }

    /// Lets held and later starts go on.
    func releaseStarts() {
        let held = state.withLock { state in
            state.holdingStarts = false
            defer { state.heldStarts = [] }
            return state.heldStarts
        }
        for continuation in held { continuation.resume() }
    }

    /// Whether starts are being held.
    var holdingStarts: Bool { state.withLock { $0.holdingStarts } }

    /// Makes `startTurn` and `startGeneration` throw `error` (nil: succeed again).
    func failStarts(with error: (any Error)?) { state.withLock { $0.startFailure = error } }

    func messages(of conversationID: String) -> [StoredMessage] {
        state.withLock { $0.conversations[conversationID]?.messages ?? [] }
    }

    func run(_ requestID: String) -> Run? { state.withLock { $0.runs[requestID] } }

    /// Calls of `appendGenerationEvents` so far.
    var appendCalls: Int { state.withLock { $0.appendCalls } }

    /// Makes the next `count` log writes and finishes throw `error` (a disk that fills, say).
    func failWrites(_ count: Int, with error: any Error) { state.withLock { $0.writeFailures = (count, error) } }

    /// Calls of `finishGeneration` so far, failed ones included.
    var finishCalls: Int { state.withLock { $0.finishCalls } }

    /// Throws the next injected write failure, if any is left.
    private func injectedWriteFailure() throws {
        try state.withLock { state in
            guard let failures = state.writeFailures, failures.count > 0 else { return }
            state.writeFailures = failures.count > 1 ? (failures.count - 1, failures.error) : nil
            throw failures.error
        }
    }

    /// Makes the next run's log fall back to `to` once it reaches `at` (see `State.fallBack`).
    func fallBack(at: Int64, to: Int64) { state.withLock { $0.fallBack = (at, to) } }

    /// Ids of the conversations `owner` has.
    func conversationIDs(of owner: String) -> [String] {
        state.withLock { $0.conversations.filter { $0.value.owner == owner }.map(\.key).sorted() }
    }

    func visibleBranch(owner: String, conversationID: String) async throws -> StoredBranch {
        try state.withLock { state in
            guard let conversation = state.conversations[conversationID], conversation.owner == owner else {
                throw ServingError(ServingError.notFound, "no such conversation")
            }
            return StoredBranch(messages: conversation.messages.map(\.message), leafID: conversation.messages.last?.id)
        }
    }

    func branch(owner: String, conversationID: String, endingAt messageID: String) async throws -> StoredBranch {
        try state.withLock { state in
            guard let conversation = state.conversations[conversationID], conversation.owner == owner,
                let branch = StoredBranch.walk(
                    to: messageID, in: conversation.messages, id: \.id, parentID: \.parentID, chat: \.message)
            else { throw ServingError(ServingError.notFound, "no such message") }
            return branch
        }
    }

    func appendMessage(
        owner: String, conversationID: String, parentID: String?, message: ChatMessage, model: String?
    ) async throws -> StoredMessageRef {
        state.withLock { state in
            let id = conversationID
            let messageID = state.newID("m")
            var conversation = state.conversations[id] ?? (owner, [])
            conversation.messages.append(StoredMessage(id: messageID, parentID: parentID, message: message, status: .complete))
            state.conversations[id] = conversation
            return StoredMessageRef(conversationID: id, messageID: messageID)
        }
    }

    func discardNewChat(owner: String, conversationID: String) async throws {
        state.withLock { state in
            guard state.conversations[conversationID]?.owner == owner else { return }
            state.conversations[conversationID] = nil
            state.discarded.insert(conversationID)
        }
    }

    func withdrawTurn(owner: String, requestID: String, storedMessages: Int) async throws {
        state.withLock { state in
            guard let run = state.runs[requestID], run.owner == owner, let id = run.handle.conversationID else { return }
            state.withdrawn[requestID] = storedMessages
            // One branch per conversation: the turn is its end, the answer (when stored) last.
            var messages = state.conversations[id]?.messages ?? []
            if messages.last?.id == run.handle.messageID { messages.removeLast() }
            messages.removeLast(min(storedMessages, messages.count))
            state.conversations[id]?.messages = messages
        }
    }

    /// Turns withdrawn, by request id: how many stored messages each took along.
    var withdrawn: [String: Int] { state.withLock { $0.withdrawn } }

    /// How often run `requestID` said it is alive without logging anything.
    func keepAlives(of requestID: String) -> Int { state.withLock { $0.keepAlives[requestID] ?? 0 } }

    /// Conversations deleted by ``discardNewChat(owner:conversationID:)``.
    var discarded: Set<String> { state.withLock { $0.discarded } }

    func conversationForRequest(owner: String, requestID: String, title: String) async throws -> String {
        state.withLock { state in
            let id = "c-\(owner)-\(requestID)"
            if state.conversations[id] == nil { state.conversations[id] = (owner, []) }
            return id
        }
    }

    func generationExists(owner: String, requestID: String) async throws -> Bool {
        state.withLock { $0.runs[requestID] != nil }
    }

    /// Waits while starts are held.
    private func awaitStartRelease() async {
        await withCheckedContinuation { continuation in
            let wait = state.withLock { state in
                if state.holdingStarts { state.heldStarts.append(continuation) }
                return state.holdingStarts
            }
            if !wait { continuation.resume() }
        }
    }

    func startTurn(owner: String, _ turn: TurnStart) async throws -> TurnStarted {
        await awaitStartRelease()
        return try state.withLock { state in
            if let failure = state.startFailure { throw failure }
            func info(_ handle: GenerationLogHandle) -> GenerationInfo {
                GenerationInfo(
                    requestID: turn.requestID, conversationID: handle.conversationID, parentID: handle.parentID,
                    messageID: handle.messageID, model: turn.model, status: .streaming, lastSeq: handle.lastSeq)
            }
            if let run = state.runs[turn.requestID] { return TurnStarted(run: info(run.handle), created: false) }
            let conversationID = turn.conversationID ?? turn.newChatTitle.map { _ in "c-\(owner)-\(turn.requestID)" }
            var parentID = turn.parentID
            if let id = conversationID {
                var conversation = state.conversations[id] ?? (owner, [])
                for draft in turn.messages {
                    let messageID = state.newID("m")
                    conversation.messages.append(
                        StoredMessage(
                            id: messageID, parentID: parentID,
                            message: ChatMessage(role: draft.role.rawValue, content: draft.content), status: .complete))
                    parentID = messageID
                }
                state.conversations[id] = conversation
            }
            let handle = GenerationLogHandle(
                messageID: state.newID("m"), conversationID: conversationID, parentID: parentID, lastSeq: 0,
                loggedBytes: 0)
            state.runs[turn.requestID] = Run(owner: owner, handle: handle)
            return TurnStarted(run: info(handle), created: true)
        }
    }

    func startGeneration(
        owner: String, requestID: String, conversationID: String?, parentID: String?, model: String, producer: String
    ) async throws -> GenerationLogHandle {
        await awaitStartRelease()
        return try state.withLock { state in
            if let failure = state.startFailure { throw failure }
            if let run = state.runs[requestID] { return run.handle }
            let handle = GenerationLogHandle(
                messageID: state.newID("m"), conversationID: conversationID, parentID: parentID, lastSeq: 0,
                loggedBytes: 0)
            state.runs[requestID] = Run(owner: owner, handle: handle)
            return handle
        }
    }

    func appendGenerationEvents(owner: String, requestID: String, fromSeq: Int64, texts: [String]) async throws {
        state.withLock {
            $0.appendCalls += 1
            if texts.isEmpty { $0.keepAlives[requestID, default: 0] += 1 }
        }
        try injectedWriteFailure()
        try log(requestID: requestID, fromSeq: fromSeq, texts: texts)
    }

    private func log(requestID: String, fromSeq: Int64, texts: [String]) throws {
        try state.withLock { state in
            guard var run = state.runs[requestID], run.status == .streaming else {
                throw ServingError(ServingError.notFound, "no such generation")
            }
            guard fromSeq <= run.handle.lastSeq + 1 else { throw ServingError("conflict", "gap in the log") }
            for (offset, text) in texts.enumerated() where fromSeq + Int64(offset) > run.handle.lastSeq {
                run.events[fromSeq + Int64(offset)] = text
                run.handle.loggedBytes += Int64(text.utf8.count)
            }
            run.handle.lastSeq = max(run.handle.lastSeq, fromSeq + Int64(texts.count) - 1)
            if let fallBack = state.fallBack, run.handle.lastSeq >= fallBack.at {
                state.fallBack = nil
                run.events = run.events.filter { $0.key <= fallBack.to }
                run.handle.lastSeq = fallBack.to
            }
            state.runs[requestID] = run
        }
    }

    func finishGeneration(
        owner: String, requestID: String, appending texts: [String], fromSeq: Int64, status: MessageStatus,
        usage: TokenUsage?
    ) async throws {
        state.withLock { $0.finishCalls += 1 }
        try injectedWriteFailure()
        if !texts.isEmpty { try log(requestID: requestID, fromSeq: fromSeq, texts: texts) }
        state.withLock { state in
            guard var run = state.runs[requestID] else { return }
            run.status = status
            state.runs[requestID] = run
            if let id = run.handle.conversationID {
                let text = run.events.keys.sorted().compactMap { run.events[$0] }.joined()
                state.conversations[id]?.messages.append(
                    StoredMessage(
                        id: run.handle.messageID, parentID: run.handle.parentID,
                        message: ChatMessage(role: "assistant", content: text), status: status))
            }
        }
        finishedContinuation.yield((requestID, status))
    }
}

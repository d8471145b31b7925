import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import ParleyGateway
import ParleyProtocol
import Synchronization

/// A completion backend whose answers the test scripts: each request gets the events of
/// `script(request)`, optionally paced, and the backend records what it saw.
final class ScriptedCompletions: CompletionBackend {
    enum Step: Sendable {
        case event(CompletionEvent)
        case fail(any Error)
        /// Waits until the test releases the gate.
        case wait(AsyncStream<Void>)
    }

    struct Record {
        var requests: [CompletionRequest] = []
        var cancels: [(String, String)] = []
        var terminated: [String] = []
    }

    let script: @Sendable (CompletionRequest) -> [Step]
    let modelList: [ModelInfo]
    let record = Mutex(Record())
    let (terminations, terminationContinuation) = AsyncStream<String>.makeStream()

    init(models: [ModelInfo] = [ModelInfo(id: "synthetic", backend: "synthetic")], script: @escaping @Sendable (CompletionRequest) -> [Step]) {
        self.script = script
        self.modelList = models
    }

    /// `started`, the tokens, `finished(.stop)`.
    static func answer(_ words: [String], conversationID: String? = "conv-1") -> @Sendable (CompletionRequest) -> [Step] {
        { _ in
            [.event(.started(conversationID: conversationID, userMessageID: "m1", assistantMessageID: "m2"))]
                + words.enumerated().map { .event(.token(index: $0.offset, text: $0.element)) }
                + [.event(.finished(.stop, TokenUsage(promptTokens: 7, completionTokens: words.count)))]
        }
    }

    /// `started` and the token `first`, then nothing until `gate` yields, then `second` and the end.
    static func pausing(_ first: String, then second: String, until gate: AsyncStream<Void>)
        -> @Sendable (CompletionRequest) -> [Step]
    {
        { _ in
            [.event(.started(conversationID: nil, userMessageID: nil, assistantMessageID: nil)),
             .event(.token(index: 0, text: first)), .wait(gate),
             .event(.token(index: 1, text: second)), .event(.finished(.stop, TokenUsage(promptTokens: 1, completionTokens: 2)))]
        }
    }

    func complete(_ request: CompletionRequest) -> EventIterator {
        record.withLock { $0.requests.append(request) }
        let steps = script(request)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: CompletionEvent.self)
        let task = Task {
            for step in steps {
                switch step {
                case .event(let event): continuation.yield(event)
                case .fail(let error):
                    continuation.finish(throwing: error)
                    return
                case .wait(let gate):
                    for await _ in gate { break }
                    if Task.isCancelled { return }
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { [self] reason in
            task.cancel()
            if case .cancelled = reason {
                record.withLock { $0.terminated.append(request.requestID) }
                terminationContinuation.yield(request.requestID)
            }
        }
        return EventIterator(stream)
    }

    func cancel(requestID: String, userID: String) async throws -> Bool {
        record.withLock { $0.cancels.append((requestID, userID)) }
        return requestID.hasPrefix("chatcmpl-")
    }

    func models() async throws -> [ModelInfo] { modelList }
}

/// A conversation backend keeping a few conversations per owner in memory, enough to check that
/// the handlers pass the authenticated user and map answers and errors.
final class RecordingConversations: ConversationBackend {
    struct State {
        var conversations: [String: [String: ConversationDetails]] = [:]
        var owners: [String] = []
        var imports: [[UInt8]] = []
        var generation: [String: GenerationEventsPage] = [:]
        var generationReads = 0
    }

    let state = Mutex(State())
    /// Yields the running count of generation-log reads.
    let (reads, readsContinuation) = AsyncStream<Int>.makeStream(bufferingPolicy: .bufferingNewest(100))

    func add(owner: String, id: String, title: String) {
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let summary = ConversationSummary(
            id: id, title: title, model: "synthetic", createdAt: now, updatedAt: now, pinned: false,
            currentMessageID: "\(id)-m1")
        let message = ConversationMessage(
            id: "\(id)-m1", conversationID: id, parentID: nil, role: .user, content: "hello <b>", createdAt: now)
        state.withLock { $0.conversations[owner, default: [:]][id] = ConversationDetails(summary: summary, messages: [message]) }
    }

    private func details(owner: String, id: String) throws -> ConversationDetails {
        try state.withLock { state in
            state.owners.append(owner)
            guard let details = state.conversations[owner]?[id] else {
                throw ConversationError(.notFound, "no such conversation")
            }
            return details
        }
    }

    func list(owner: String, limit: Int?, cursor: String?) async throws -> ConversationPage<ConversationSummary> {
        state.withLock { state in
            state.owners.append(owner)
            let all = (state.conversations[owner] ?? [:]).values.map(\.summary).sorted { $0.id > $1.id }
            return ConversationPage(data: Array(all.prefix(limit ?? 50)), nextCursor: all.count > (limit ?? 50) ? "next" : nil)
        }
    }

    func conversation(owner: String, id: String) async throws -> ConversationDetails { try details(owner: owner, id: id) }

    func messages(owner: String, conversationID: String, order: MessageOrder, limit: Int?, cursor: String?)
        async throws -> ConversationPage<ConversationMessage>
    {
        ConversationPage(data: try details(owner: owner, id: conversationID).messages, nextCursor: nil)
    }

    func search(owner: String, _ request: ConversationSearchRequest) async throws -> ConversationPage<ConversationSearchHit> {
        state.withLock { $0.owners.append(owner) }
        guard request.query != "boom" else { throw ConversationError(.invalidCursor, "bad cursor") }
        return ConversationPage(
            data: [
                ConversationSearchHit(
                    conversationID: "c1", messageID: "c1-m1", role: .user, createdAt: Date(timeIntervalSince1970: 1_700_000_000),
                    score: 1.5, snippet: "say <mark>\(request.query)</mark>")
            ], nextCursor: nil)
    }

    func update(owner: String, id: String, patch: ConversationPatch) async throws -> ConversationSummary {
        var summary = try details(owner: owner, id: id).summary
        if let title = patch.title { summary.title = title }
        return summary
    }

    func delete(owner: String, id: String) async throws {
        _ = try details(owner: owner, id: id)
        state.withLock { _ = $0.conversations[owner]?.removeValue(forKey: id) }
    }

    func importChatGPT(owner: String, json: [UInt8]) async throws -> ConversationImportResult {
        state.withLock { $0.imports.append(json) }
        return ConversationImportResult(conversationsImported: 1, messagesImported: 2)
    }

    func exportChatGPT(owner: String, id: String) async throws -> [UInt8] {
        _ = try details(owner: owner, id: id)
        return Array(#"[{"title":"x","mapping":{}}]"#.utf8)
    }

    /// Serves a scripted generation log: each read returns the next page of `pages` (the last repeats).
    func generationEvents(owner: String, requestID: String, afterSeq: Int64, limit: Int) async throws -> GenerationEventsPage {
        try state.withLock { state in
            state.owners.append(owner)
            state.generationReads += 1
            readsContinuation.yield(state.generationReads)
            guard var page = state.generation["\(owner)/\(requestID)"] else {
                throw ConversationError(.notFound, "no such generation")
            }
            page.events = page.events.filter { $0.seq > afterSeq }.prefix(limit).map { $0 }
            return page
        }
    }
}

struct FixedStatus: NodeStatusProvider {
    var ready = true
    func clusterStatus() async -> ClusterStatus {
        ClusterStatus(
            self: "gw-1",
            members: [
                .init(name: "gw-1", address: "127.0.0.1:7001", roles: ["gateway"], status: "alive", incarnation: 0, region: "default")
            ])
    }
    func isReady() -> Bool { ready }
}

let testKey = "sk-test-alice-0001"
let otherKey = "sk-test-bob-000002"

/// An application over the given backends with two API keys (alice, bob).
func makeTestApplication(
    completions: any CompletionBackend = ScriptedCompletions(script: ScriptedCompletions.answer(["Hel", "lo", "!"])),
    conversations: RecordingConversations = RecordingConversations(),
    configure: (inout GatewayConfiguration) -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    var configuration = GatewayConfiguration(port: 0)
    configuration.auth.apiKeys = [testKey: "alice", otherKey: "bob"]
    configuration.streaming.heartbeatInterval = .milliseconds(50)
    configure(&configuration)
    let routes = try await GatewayRoutes(
        configuration: configuration, completions: completions, conversations: conversations, status: FixedStatus(),
        metrics: GatewayMetrics(), registry: nil, logger: Logger(label: "test"))
    return GatewayService.application(routes: routes, configuration: configuration, logger: Logger(label: "test"), onListening: { _ in })
}

extension HTTPFields {
    static func auth(_ key: String = testKey) -> HTTPFields { [.authorization: "Bearer \(key)", .contentType: "application/json"] }
}

/// Parses an OpenAI error body.
func errorBody(_ response: TestResponse) throws -> (message: String, type: String, param: String?, code: String?) {
    let object = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
    let error = try #require(object?["error"] as? [String: Any])
    return (error["message"] as? String ?? "", error["type"] as? String ?? "", error["param"] as? String, error["code"] as? String)
}

import Testing

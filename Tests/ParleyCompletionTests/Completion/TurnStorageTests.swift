import ParleyCluster
import ParleyProtocol
import Synchronization
import Testing

@testable import ParleyCompletion

/// The turn is stored while the model starts: the model's first token does not wait for the store,
/// the caller's first event does.
@Suite("Storing a turn while the model starts", .serialized)
struct TurnStorageTests {
    @Test func theModelStartsWhileTheTurnIsStoredAndNoEventPrecedesTheStore() async throws {
        try await withHarness { harness in
            harness.store.holdStarts()
            let completion = try harness.completion()
            let storedBeforeFirstEvent = Mutex<Bool?>(nil)
            let store = harness.store
            let caller = Task {
                var collected = CollectedCompletion()
                for try await event in try await completion.complete(request("r1", maxTokens: 8)) {
                    storedBeforeFirstEvent.withLock { $0 = $0 ?? !store.holdingStarts }
                    collected.add(event)
                }
                return collected
            }
            // The model produces while the generation log's start is still held.
            try await first(of: harness.probe.firstToken)
            #expect(harness.store.holdingStarts)
            harness.store.releaseStarts()
            let collected = try await caller.value
            #expect(storedBeforeFirstEvent.withLock { $0 } == true)
            #expect(collected.eventsBeforeStart == 0)
            #expect(collected.indexes == Array(0..<8))
            guard case .started(let conversationID?, let userMessageID?, _, _) = collected.started else {
                Issue.record("no started event with ids: \(String(describing: collected.started))")
                return
            }
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            #expect(harness.store.messages(of: conversationID).map(\.id).first == userMessageID)
        }
    }

    @Test func aTurnThatCannotBeStoredFailsBeforeAnyEventAndStopsTheModel() async throws {
        try await withHarness(tokenDelay: .milliseconds(20)) { harness in
            harness.store.holdStarts()
            harness.store.failStarts(with: ServingError(ServingError.invalidRequest, "the store refused the turn"))
            let completion = try harness.completion()
            let caller = Task {
                var events: [CompletionEvent] = []
                do {
                    for try await event in try await completion.complete(request("r1", maxTokens: 100_000)) {
                        events.append(event)
                    }
                    return (events, nil as ClusterError?)
                } catch let error as ClusterError {
                    return (events, error)
                }
            }
            try await first(of: harness.probe.firstToken)
            harness.store.releaseStarts()
            let (events, error) = try await caller.value
            #expect(events.isEmpty)
            #expect(error?.code.rawValue == ServingError.invalidRequest)
            #expect(error?.message.contains("refused the turn") == true)
            // The model was asked for 100,000 tokens 20 ms apart; it stops instead.
            _ = try await first(of: harness.probe.stoppedEarly)
            // The store takes turns again: the next request is served.
            harness.store.failStarts(with: nil)
            var collected = CollectedCompletion()
            for try await event in try await completion.complete(request("r2", maxTokens: 2)) { collected.add(event) }
            #expect(collected.indexes == [0, 1])
        }
    }

    @Test func aStoreThatBecomesUnreachableWhileTheTurnIsStoredLeavesTheAnswerUnstored() async throws {
        try await withHarness { harness in
            harness.store.failStarts(with: ClusterError(.nodeDown, "the conversation node died"))
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r1", maxTokens: 6)) {
                collected.add(event)
            }
            // The answer streams whole; it is neither logged nor reported as stored.
            #expect(collected.indexes == Array(0..<6))
            #expect(collected.finished?.0 == .length)
            guard case .started(_, nil, nil, _) = collected.started else {
                Issue.record("an unstored answer reported ids: \(String(describing: collected.started))")
                return
            }
            #expect(harness.store.run("r1") == nil)
        }
    }

    @Test func aRequestSentAgainUnderItsIdempotencyKeyIsRefusedAsADuplicateAndStoresNothing() async throws {
        try await withHarness { harness in
            var first = request("key-1", maxTokens: 4)
            first.idempotent = true
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(first) { collected.add(event) }
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation: \(String(describing: collected.started))")
                return
            }
            let stored = harness.store.messages(of: conversationID)
            #expect(stored.count == 2)
            // Sent again, with other text even: refused before any event, nothing stored again.
            var again = request("key-1", maxTokens: 4, text: "something else")
            again.idempotent = true
            let (events, failure) = try await Self.run(again, on: harness.completion())
            #expect(events.isEmpty)
            #expect(failure?.code.rawValue == ServingError.duplicateRequest)
            #expect(harness.store.messages(of: conversationID) == stored)
            #expect(harness.store.conversationIDs(of: "u") == [conversationID])
        }
    }

    /// The client of a refused request gets an error and never the new chat's id: the chat (its
    /// question and empty answer) must not stay in the history; in a continued chat the refused
    /// turn is withdrawn, and the chat goes on from where it was.
    @Test func aNewChatRefusedByTheModelLeavesNothingInTheHistory() async throws {
        try await withHarness { harness in
            var refused = request("r1", maxTokens: 4)
            refused.model = TokenProxy.refusingModel
            let (events, failure) = try await Self.run(refused, on: harness.completion())
            #expect(events.isEmpty)
            #expect(failure?.code.rawValue == ServingError.invalidRequest)
            #expect(harness.store.conversationIDs(of: "u").isEmpty)
            #expect(harness.store.discarded.count == 1)

            // An existing chat: the chat stays, the refused turn is withdrawn.
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r2", maxTokens: 2)) { collected.add(event) }
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation: \(String(describing: collected.started))")
                return
            }
            var continued = request("r3", maxTokens: 4, conversationID: conversationID)
            continued.model = TokenProxy.refusingModel
            let (_, continuedFailure) = try await Self.run(continued, on: harness.completion())
            #expect(continuedFailure?.code.rawValue == ServingError.invalidRequest)
            #expect(harness.store.conversationIDs(of: "u") == [conversationID])
            #expect(harness.store.discarded.count == 1)
            #expect(harness.store.withdrawn == ["r3": 1])
            #expect(harness.store.messages(of: conversationID).map(\.message) == [
                ChatMessage(role: "user", content: "hello"), ChatMessage(role: "assistant", content: TokenProxy.answer(2)),
            ])
            // Refused for a full queue or a dead node instead, a turn stays (a resubmission continues it).
            #expect(!CompletionRun.isRefusal(ServingError(ServingError.noBackend, "no worker")))
        }
    }

    /// A model that takes long before its first token (a long prompt on a slow machine) logs
    /// nothing meanwhile; the run tells the store it is alive, or the store's orphan sweep (a run
    /// silent for 60 s) would end it and the finished answer could not be stored.
    @Test func aRunWaitingLongForItsFirstTokenTellsTheStoreItIsAlive() async throws {
        var configuration = CompletionConfiguration()
        configuration.logKeepAliveInterval = .milliseconds(100)
        try await withHarness(tokenDelay: .milliseconds(700), configuration: configuration) { harness in
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("slow", maxTokens: 2)) {
                collected.add(event)
            }
            #expect(collected.indexes == [0, 1])
            #expect(try await first(of: harness.store.finished) == ("slow", .truncated))
            // About 7 ticks before the first token, each writing when nothing was written for 50 ms.
            let keepAlives = harness.store.keepAlives(of: "slow")
            #expect(keepAlives >= 4, "\(keepAlives) keep-alives in 1.4 s")
        }
        // A run that logs tokens often needs none.
        var quiet = CompletionConfiguration()
        quiet.logKeepAliveInterval = .seconds(10)
        try await withHarness(configuration: quiet) { harness in
            for try await _ in try await harness.completion().complete(request("quick", maxTokens: 8)) {}
            #expect(harness.store.keepAlives(of: "quick") == 0)
        }
    }

    @Test func anIdempotentRequestIsRefusedWhileNoStoreCanCheckItsKey() async throws {
        try await withHarness { harness in
            harness.store.failStarts(with: ClusterError(.nodeDown, "the conversation node died"))
            var keyed = request("key-2", maxTokens: 4)
            keyed.idempotent = true
            let (events, failure) = try await Self.run(keyed, on: harness.completion())
            // Run unstored, a repeat could not be recognised: refused instead, before any event.
            #expect(events.isEmpty)
            #expect(failure?.code.rawValue == ServingError.storeUnavailable)
        }
    }

    @Test func anAnswerThatFitsOneLogBatchIsLoggedAndStoredByTheFinishAlone() async throws {
        try await withHarness { harness in
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r1", maxTokens: 8)) {
                collected.add(event)
            }
            guard case .started(let conversationID?, _, let answerID?, _) = collected.started else {
                Issue.record("no ids: \(String(describing: collected.started))")
                return
            }
            // 8 tokens within the batch's 32 tokens and 250 ms: no separate log write.
            #expect(harness.store.appendCalls == 0)
            #expect(harness.store.run("r1")?.events.count == 8)
            let answer = harness.store.messages(of: conversationID).last
            #expect(answer?.id == answerID)
            #expect(answer?.message.content == collected.text)
            #expect(answer?.status == .truncated)
        }
    }

    @Test func anAnswerLongerThanABatchIsLoggedAsItStreamsAndEndedWithItsLastBatch() async throws {
        try await withHarness(configuration: CompletionConfiguration(logBatchTokens: 4)) { harness in
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r1", maxTokens: 10)) {
                collected.add(event)
            }
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation: \(String(describing: collected.started))")
                return
            }
            // Tokens 1-4 and 5-8 are written as they come; 9-10 go with the finish.
            #expect(harness.store.appendCalls == 2)
            #expect(harness.store.run("r1")?.events.keys.sorted() == Array(1...10))
            #expect(harness.store.messages(of: conversationID).last?.message.content == collected.text)
        }
    }

    /// The events of `request` and the cluster error that ended it, if one did.
    private static func run(_ request: CompletionRequest, on completion: $CompletionServiceProtocol) async throws
        -> ([CompletionEvent], ClusterError?)
    {
        var events: [CompletionEvent] = []
        do {
            for try await event in try await completion.complete(request) { events.append(event) }
            return (events, nil)
        } catch let error as ClusterError {
            return (events, error)
        }
    }
}

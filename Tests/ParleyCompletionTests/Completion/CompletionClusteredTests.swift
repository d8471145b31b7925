import ParleyCluster
import ParleyProtocol
import Synchronization
import Testing

@testable import ParleyCompletion

@Suite("Completion service across nodes", .serialized)
struct CompletionClusteredTests {
    @Test func streamsEveryTokenOnceAndStoresTheTurn() async throws {
        try await withHarness { harness in
            let completion = try harness.completion()
            var collected = CollectedCompletion()
            for try await event in try await completion.complete(request("r1", maxTokens: 20)) { collected.add(event) }
            guard case .started(let conversationID?, let userMessageID?, let assistantMessageID?, let rateLimit?) = collected.started
            else {
                Issue.record("no started event with ids: \(String(describing: collected.started))")
                return
            }
            #expect(collected.eventsBeforeStart == 0)
            #expect(collected.indexes == Array(0..<20))
            #expect(rateLimit.allowed && rateLimit.limit == 60 && rateLimit.remaining == 59)
            #expect(collected.text == TokenProxy.answer(20))
            #expect(collected.finished?.0 == .length)
            #expect(collected.finished?.1 == TokenUsage(promptTokens: 3, completionTokens: 20))

            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            let stored = harness.store.messages(of: conversationID)
            #expect(stored.map(\.id) == [userMessageID, assistantMessageID])
            #expect(stored.map(\.message) == [
                ChatMessage(role: "user", content: "hello"), ChatMessage(role: "assistant", content: TokenProxy.answer(20)),
            ])
            #expect(stored.last?.parentID == userMessageID)
            let run = try #require(harness.store.run("r1"))
            #expect(run.events.keys.sorted() == (1...20).map(Int64.init))

            // The next turn sends the stored history to the model.
            var next = CollectedCompletion()
            let turn = request("r2", maxTokens: 2, conversationID: conversationID, text: "more")
            for try await event in try await completion.complete(turn) { next.add(event) }
            #expect(next.indexes == [0, 1])
            #expect(harness.probe.lastMessages == [
                ChatMessage(role: "user", content: "hello"), ChatMessage(role: "assistant", content: TokenProxy.answer(20)),
                ChatMessage(role: "user", content: "more"),
            ])
            // The first two came from the store: a model with a short context may leave them out.
            #expect(harness.probe.lastHistoryCount == 2)

            // Regenerate the first answer: a new reply to the first user message, sent with only
            // the branch up to that message.
            var regenerate = request("r3", maxTokens: 2, conversationID: conversationID)
            regenerate.messages = []
            regenerate.parentMessageID = userMessageID
            var again = CollectedCompletion()
            for try await event in try await completion.complete(regenerate) { again.add(event) }
            #expect(again.indexes == [0, 1])
            #expect(harness.probe.lastMessages == [ChatMessage(role: "user", content: "hello")])
            #expect(harness.probe.lastHistoryCount == 1)
            guard case .started(_, let parent, let answerID?, _) = again.started else {
                Issue.record("no started event")
                return
            }
            #expect(parent == userMessageID)
            #expect(try await first(of: harness.store.finished) == ("r2", .truncated))
            #expect(try await first(of: harness.store.finished) == ("r3", .truncated))
            let siblings = harness.store.messages(of: conversationID).filter { $0.parentID == userMessageID }
            #expect(siblings.map(\.id).contains(answerID))
            #expect(siblings.count == 2)

            // A parent that is not in the conversation is refused.
            var stray = request("r4", conversationID: conversationID)
            stray.parentMessageID = "no-such-message"
            await #expect(throws: (any Error).self) {
                for try await _ in try await completion.complete(stray) {}
            }
        }
    }

    /// A request's instructions (the Responses API's) are the model's first message and are never
    /// stored; each turn gives its own.
    @Test func instructionsGoFirstToTheModelAndAreNeverStored() async throws {
        try await withHarness { harness in
            let completion = try harness.completion()
            var opening = request("i1", maxTokens: 2)
            opening.instructions = "Be brief."
            var collected = CollectedCompletion()
            for try await event in try await completion.complete(opening) { collected.add(event) }
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no started event with a conversation")
                return
            }
            #expect(harness.probe.lastMessages == [
                ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "hello"),
            ])
            // Counted with the history (HistoryWindow keeps leading system messages).
            #expect(harness.probe.lastHistoryCount == 1)
            #expect(try await first(of: harness.store.finished) == ("i1", .truncated))

            // The next turn's own instructions replace them; the stored chat holds neither.
            var next = request("i2", maxTokens: 2, conversationID: conversationID, text: "more")
            next.instructions = "Be kind."
            for try await _ in try await completion.complete(next) {}
            #expect(harness.probe.lastMessages.map(\.content) == ["Be kind.", "hello", TokenProxy.answer(2), "more"])
            #expect(harness.probe.lastHistoryCount == 3)
            #expect(try await first(of: harness.store.finished) == ("i2", .truncated))
            #expect(harness.store.messages(of: conversationID).map(\.message.role) == ["user", "assistant", "user", "assistant"])
        }
    }

    /// How far the model has read the prompt reaches the caller after `started`, before the first
    /// token, through the worker; it is not logged as part of the answer.
    @Test func promptProgressReachesTheCallerBeforeTheFirstToken() async throws {
        try await withHarness { harness in
            var collected = CollectedCompletion()
            var reading = request("read-1", maxTokens: 3)
            reading.model = TokenProxy.readingModel
            for try await event in try await harness.completion().complete(reading) { collected.add(event) }
            #expect(collected.eventsBeforeStart == 0)
            #expect(collected.promptProgress.map(\.computed) == [100, 200, 300])
            #expect(collected.promptProgress.allSatisfy { $0.total == 300 && $0.tokensBefore == 0 })
            #expect(collected.text == TokenProxy.answer(3))
            #expect(try await first(of: harness.store.finished) == ("read-1", .truncated))
            #expect(try #require(harness.store.run("read-1")).events.keys.sorted() == [1, 2, 3])
        }
    }

    @Test func aLogThatFellBehindIsWrittenAgainSoTheStoredAnswerIsWhole() async throws {
        var configuration = CompletionConfiguration()
        configuration.logBatchTokens = 4
        try await withHarness(configuration: configuration) { harness in
            // After 8 logged events the store answers from a replica that has only 4: the next
            // batch (from 9) finds a gap, and the run sends its log again from event 1.
            harness.store.fallBack(at: 8, to: 4)
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r1", maxTokens: 20)) { collected.add(event) }
            #expect(collected.text == TokenProxy.answer(20))
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            let run = try #require(harness.store.run("r1"))
            #expect(run.events.keys.sorted() == (1...20).map(Int64.init))
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation")
                return
            }
            #expect(harness.store.messages(of: conversationID).last?.message.content == TokenProxy.answer(20))
        }
    }

    @Test func notStoredWhenAskedNotTo() async throws {
        try await withHarness { harness in
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(request("r1", maxTokens: 3, store: false)) {
                collected.add(event)
            }
            guard case .started(nil, nil, nil, .some) = collected.started else {
                Issue.record("started without ids but with the rate-limit standing expected: \(String(describing: collected.started))")
                return
            }
            #expect(collected.indexes == [0, 1, 2])
            // The generation is still logged (for resuming through another gateway), outside any conversation.
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            #expect(harness.store.run("r1")?.handle.conversationID == nil)
        }
    }

    @Test func workerDeathMidStreamCompletesExactlyOnce() async throws {
        let tokens = 150
        try await withHarness(workers: 2, tokenDelay: .milliseconds(4)) { harness in
            var collected = CollectedCompletion()
            var killed: String?
            for try await event in try await harness.completion().complete(request("r1", maxTokens: tokens)) {
                collected.add(event)
                if killed == nil, collected.indexes.count == 30 {
                    for name in harness.workers.keys.sorted() where try await harness.workers[name]!.pool.status().busy > 0 {
                        killed = name
                        await harness.cluster.stop(name)
                        break
                    }
                    #expect(killed != nil)
                }
            }
            #expect(collected.indexes == Array(0..<tokens))
            #expect(collected.text == TokenProxy.answer(tokens))
            #expect(collected.finished?.0 == .length)
            let resumes = harness.probe.resumePoints.compactMap { $0 }
            #expect(resumes.count == 1)
            #expect((resumes.first?.tokenCount ?? 0) >= 30)
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            let run = try #require(harness.store.run("r1"))
            #expect(run.events.keys.sorted() == (1...tokens).map(Int64.init))
        }
    }

    /// The caller waits for `complete` to answer with a deadline; the run it starts outlives that
    /// deadline, and so must its own calls: a failover long after the caller's deadline still works.
    @Test func aRunOutlivesTheDeadlineOfTheCallThatStartedIt() async throws {
        let tokens = 150
        try await withHarness(workers: 2, tokenDelay: .milliseconds(6)) { harness in
            var collected = CollectedCompletion()
            var killed: String?
            let completion = try harness.completion()
            let stream = try await ClusterSystem.withCallTimeout(.milliseconds(300)) {
                try await completion.complete(request("r1", maxTokens: tokens))
            }
            let started = ContinuousClock.now
            for try await event in stream {
                collected.add(event)
                if killed == nil, collected.indexes.count >= 30, ContinuousClock.now - started > .milliseconds(400) {
                    for name in harness.workers.keys.sorted() where try await harness.workers[name]!.pool.status().busy > 0 {
                        killed = name
                        await harness.cluster.stop(name)
                        break
                    }
                    #expect(killed != nil)
                }
            }
            #expect(killed != nil)
            #expect(collected.indexes == Array(0..<tokens))
            #expect(collected.finished?.0 == .length)
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
        }
    }

    @Test func proxyDeathMidStreamCompletesExactlyOnce() async throws {
        let tokens = 150
        try await withHarness(proxies: 2, tokenDelay: .milliseconds(4)) { harness in
            var collected = CollectedCompletion()
            var killed: String?
            for try await event in try await harness.completion().complete(request("r1", maxTokens: tokens)) {
                collected.add(event)
                if killed == nil, collected.indexes.count == 30 {
                    killed = harness.probes.first { $0.value.calls.load(ordering: .relaxed) > 0 }?.key
                    await harness.cluster.stop(try #require(killed))
                }
            }
            #expect(collected.indexes == Array(0..<tokens))
            #expect(collected.text == TokenProxy.answer(tokens))
            let survivor = try #require(harness.probes.first { $0.key != killed }?.value)
            #expect((survivor.resumePoints.first??.tokenCount ?? 0) >= 30)
        }
    }

    @Test func aFullWorkerFailsTheStreamBeforeAnyEvent() async throws {
        let workers = WorkerPoolConfiguration(slotsPerModel: 1, maxQueuedPerModel: 0)
        try await withHarness(tokenDelay: .milliseconds(5), workerConfiguration: workers) { harness in
            let completion = try harness.completion()
            var running = try await completion.complete(request("r1", maxTokens: 100_000)).makeAsyncIterator()
            _ = try await running.next()
            var events: [CompletionEvent] = []
            let error = await #expect(throws: ClusterError.self) {
                for try await event in try await completion.complete(request("r2")) { events.append(event) }
            }
            #expect(events.isEmpty)
            #expect(error?.code.rawValue == ServingError.overloaded)
            #expect(error?.message.contains("retry after") == true)
            #expect(try await completion.cancel(requestID: "r1", userID: "u"))
        }
    }

    @Test func cancelReachesTheModelQuickly() async throws {
        try await withHarness(tokenDelay: .milliseconds(10)) { harness in
            let completion = try harness.completion()
            var collected = CollectedCompletion()
            var cancelledAt: ContinuousClock.Instant?
            for try await event in try await completion.complete(request("r1", maxTokens: 100_000)) {
                collected.add(event)
                if cancelledAt == nil, collected.indexes.count == 5 {
                    cancelledAt = .now
                    #expect(try await completion.cancel(requestID: "r1", userID: "someone-else") == false)
                    #expect(try await completion.cancel(requestID: "r1", userID: "u"))
                }
            }
            let stoppedAt = try await first(of: harness.probe.stoppedEarly)
            let latency = try #require(cancelledAt).duration(to: stoppedAt)
            print("cancel → producer stopped: \(latency)")
            #expect(latency < .milliseconds(100))
            #expect(collected.finished?.0 == .cancelled)
            #expect(try await first(of: harness.store.finished) == ("r1", .cancelled))
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation")
                return
            }
            let answer = harness.store.messages(of: conversationID).last
            #expect(answer?.status == .cancelled)
            #expect(answer?.message.content == collected.text)
        }
    }

    @Test func aCallerThatStopsReadingCancelsTheModel() async throws {
        try await withHarness(tokenDelay: .milliseconds(10)) { harness in
            let stream = try await harness.completion().complete(request("r1", maxTokens: 100_000))
            var seen = 0
            for try await event in stream {
                if case .token = event { seen += 1 }
                if seen == 3 { break }
            }
            _ = try await first(of: harness.probe.stoppedEarly)
            #expect(try await first(of: harness.store.finished) == ("r1", .cancelled))
        }
    }

    @Test func aResubmissionAnswersWhereItsFirstAttemptStoredTheTurn() async throws {
        try await withHarness { harness in
            // The first attempt stored the turn in a new conversation and started the log, then its
            // node died before anything reached the client; the gateway resubmits at token 0.
            let original = request("r1", maxTokens: 6)
            let conversation = try await harness.store.conversationForRequest(owner: "u", requestID: "r1", title: "t")
            let stored = try await harness.store.appendMessage(
                owner: "u", conversationID: conversation, parentID: nil, message: original.messages[0], model: nil)
            _ = try await harness.store.startGeneration(
                owner: "u", requestID: "r1", conversationID: stored.conversationID, parentID: stored.messageID,
                model: "m", producer: "dead-node")
            var resubmitted = original
            resubmitted.resume = ResumePoint(tokenCount: 0, text: "")
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(resubmitted) { collected.add(event) }
            guard case .started(let conversationID, let userMessageID, _, _) = collected.started else {
                Issue.record("no started event")
                return
            }
            // The client is told the conversation that holds the turn and gets the answer, and
            // the turn is not stored a second time.
            #expect(conversationID == stored.conversationID)
            #expect(userMessageID == stored.messageID)
            #expect(collected.indexes == Array(0..<6))
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            #expect(harness.store.conversationIDs(of: "u") == [stored.conversationID])
            #expect(harness.store.messages(of: stored.conversationID).map(\.message.role) == ["user", "assistant"])
        }
    }

    @Test func aResubmissionWhoseFirstAttemptStoredNothingStoresTheTurn() async throws {
        try await withHarness { harness in
            var resubmitted = request("r1", maxTokens: 4)
            resubmitted.resume = ResumePoint(tokenCount: 0, text: "")
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(resubmitted) { collected.add(event) }
            guard case .started(let conversationID?, _, _, _) = collected.started else {
                Issue.record("no conversation in the started event")
                return
            }
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            #expect(harness.store.conversationIDs(of: "u") == [conversationID])
            #expect(harness.store.messages(of: conversationID).map(\.message.role) == ["user", "assistant"])
        }
    }

    @Test func aResubmissionWhoseFirstAttemptDiedBeforeTheLogKeepsOneConversation() async throws {
        try await withHarness { harness in
            // The first attempt created the new chat and stored its turn, then its node died before
            // it started the generation log.
            let original = request("r1", maxTokens: 4)
            let conversation = try await harness.store.conversationForRequest(owner: "u", requestID: "r1", title: "t")
            let stored = try await harness.store.appendMessage(
                owner: "u", conversationID: conversation, parentID: nil, message: original.messages[0], model: nil)
            var resubmitted = original
            resubmitted.resume = ResumePoint(tokenCount: 0, text: "")
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(resubmitted) { collected.add(event) }
            guard case .started(let conversationID, let userMessageID, _, _) = collected.started else {
                Issue.record("no started event")
                return
            }
            #expect(conversationID == conversation)
            #expect(userMessageID == stored.messageID)
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            #expect(harness.store.conversationIDs(of: "u") == [conversation])
            #expect(harness.store.messages(of: conversation).map(\.message.role) == ["user", "assistant"])
        }
    }

    @Test func aResubmissionContinuesAfterTheResumePoint() async throws {
        try await withHarness { harness in
            var resumed = request("r1", maxTokens: 10)
            resumed.resume = ResumePoint(tokenCount: 4, text: TokenProxy.answer(4))
            var collected = CollectedCompletion()
            for try await event in try await harness.completion().complete(resumed) { collected.add(event) }
            #expect(collected.started != nil)
            #expect(collected.indexes == Array(4..<10))
            #expect(harness.probe.resumePoints.last == resumed.resume)
            #expect(try await first(of: harness.store.finished) == ("r1", .truncated))
            let run = try #require(harness.store.run("r1"))
            // The lost part of the log is filled from the resume point; numbering stays token index + 1.
            #expect(run.events.keys.sorted() == (1...10).map(Int64.init))
            #expect(run.events.keys.sorted().compactMap { run.events[$0] }.joined() == TokenProxy.answer(10))
        }
    }
}

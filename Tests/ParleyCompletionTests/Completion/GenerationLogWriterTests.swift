import Logging
import ParleyCluster
import ParleyProtocol
import Testing

@testable import ParleyCompletion

/// An answer whose store refuses writes mid-answer: every event is kept, and the whole answer is
/// stored once the store takes writes again — unless the refusal cannot pass.
@Suite struct GenerationLogWriterTests {
    typealias Batch = GenerationLogBatcher<ContinuousClock.Instant>.Batch

    /// A store with a started run `r` of owner `u` whose answer goes to a conversation.
    func started() async throws -> (InMemoryHistoryStore, conversationID: String, GenerationLogWriter) {
        let store = InMemoryHistoryStore()
        let conversationID = try await store.conversationForRequest(owner: "u", requestID: "r", title: "t")
        _ = try await store.startGeneration(
            owner: "u", requestID: "r", conversationID: conversationID, parentID: nil, model: "m", producer: "p")
        let writer = GenerationLogWriter(
            store: store, owner: "u", requestID: "r", timeout: .seconds(3), logger: Logger(label: "test"))
        return (store, conversationID, writer)
    }

    @Test func aDiskThatFillsMidAnswerAndHasRoomAgainLosesNothing() async throws {
        var (store, conversationID, writer) = try await started()
        await writer.write(Batch(fromSeq: 1, texts: ["Once", " upon"]))
        // The disk fills: the next batch, the end and its fallbacks, and the first retry fail.
        store.failWrites(5, with: ConversationError(.storageFull, "the disk is full"))
        await writer.write(Batch(fromSeq: 3, texts: [" a"]))
        let failure = try #require(await writer.finish(Batch(fromSeq: 4, texts: [" time"]), status: .complete, usage: nil))
        #expect(GenerationLogWriter.isPassing(failure))
        #expect(store.run("r")?.status == .streaming && store.messages(of: conversationID).isEmpty)

        // Room again: the whole answer is stored, every event of it.
        let stored = await writer.retryFinish(
            status: .complete, usage: nil, within: .seconds(20), firstDelay: .milliseconds(10))
        #expect(stored)
        #expect(store.run("r")?.status == .complete)
        #expect(store.messages(of: conversationID).map(\.message.content) == ["Once upon a time"])
    }

    @Test func aRefusalThatCannotPassIsNotTriedAgain() async throws {
        var (store, _, writer) = try await started()
        store.failWrites(100, with: ConversationError(.conflict, "the generation has finished"))
        let failure = try #require(await writer.finish(Batch(fromSeq: 1, texts: ["late"]), status: .complete, usage: nil))
        #expect(!GenerationLogWriter.isPassing(failure))
        let calls = store.finishCalls
        let start = ContinuousClock.now
        #expect(!(await writer.retryFinish(status: .complete, usage: nil, within: .seconds(20), firstDelay: .milliseconds(10))))
        #expect(store.finishCalls == calls + 1)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func passingRefusalsAreTheStoresRoomAndReach() {
        #expect(GenerationLogWriter.isPassing(ConversationError(.storageFull, "full")))
        #expect(GenerationLogWriter.isPassing(ClusterError(.nodeDown, "gone")))
        #expect(GenerationLogWriter.isPassing(ClusterError(.init(rawValue: "storage_full"), "remote full")))
        #expect(!GenerationLogWriter.isPassing(ConversationError(.tooLarge, "too long")))
        #expect(!GenerationLogWriter.isPassing(CancellationError()))
    }
}

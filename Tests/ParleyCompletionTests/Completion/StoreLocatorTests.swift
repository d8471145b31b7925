import Distributed
import ParleyCluster
import ParleyProtocol
import Testing

@testable import ParleyCompletion

/// A completion node that has just (re)started knows the conversation nodes before it hears of
/// their stores: a request then waits for the registration instead of going on unstored.
@Suite("Conversation store locator")
struct StoreLocatorTests {
    /// Stands in for a conversation store in the receptionist (the locator only looks it up).
    distributed actor Placeholder {
        typealias ActorSystem = ClusterSystem
    }

    static func start(_ name: String, roles: [String], seed: ClusterSystem?) async throws -> ClusterSystem {
        var settings = ClusterSettings(name: name, seeds: seed.map { [$0.node.address] } ?? [])
        settings.roles = roles
        return try await ClusterSystem.start(settings: settings, logger: quietLogger)
    }

    @Test(.timeLimit(.minutes(1))) func aRequestWaitsForTheStoreOfALiveConversationNode() async throws {
        let completion = try await Self.start("completion", roles: [NodeRoles.completion], seed: nil)
        let conversation = try await Self.start("conversation", roles: [NodeRoles.conversation], seed: completion)
        let known = { completion.members.contains { $0.node == conversation.node && $0.status == .alive } }
        for await _ in completion.membershipEvents where known() { break }
        let locator = ReceptionistHistoryStoreLocator(system: completion, registrationWait: .seconds(10))
        let lookup = Task { await locator.currentStore() != nil }
        // The store registers a moment after its node is known.
        try await Task.sleep(for: .milliseconds(200))
        let store = Placeholder(actorSystem: conversation)
        conversation.receptionist.register(store, key: ServiceKeys.conversationStore)
        #expect(await lookup.value)
        await conversation.shutdown()
        await completion.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func withoutAConversationNodeThereIsNoStoreAtOnce() async throws {
        let completion = try await Self.start("completion", roles: [NodeRoles.completion], seed: nil)
        let locator = ReceptionistHistoryStoreLocator(system: completion, registrationWait: .seconds(10))
        let started = ContinuousClock.now
        #expect(await locator.currentStore() == nil)
        #expect(started.duration(to: .now) < .seconds(5))
        await completion.shutdown()
    }
}

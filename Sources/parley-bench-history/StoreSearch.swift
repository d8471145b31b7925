import Foundation
import Logging
import ParleyCluster
import ParleyConversation
import ParleyProtocol

/// Search latency through the service's entry point: the same queries sent to a `ConversationStore`
/// actor over `corpus`, called from a second cluster system over loopback TCP, as a gateway calls a
/// conversation node (encoding, the network round trip and the actor hop included).
enum StoreSearch {
    struct Query {
        let owner: String
        let text: String
        let twoWords: Bool
    }

    /// Latencies in milliseconds of one- and two-word queries.
    static func measure(_ queries: [Query], corpus: ConversationDatabase) async throws -> (one: [Double], two: [Double]) {
        let quiet = Logger(label: "bench-store", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = try await ClusterSystem.start(settings: ClusterSettings(name: "bench-store"), logger: quiet)
        let caller = try await ClusterSystem.start(settings: ClusterSettings(name: "bench-caller"), logger: quiet)
        server.allowParleyProtocols()
        let node = ConversationNode(system: server, database: corpus, logger: quiet)
        let store = try $ConversationStoreProtocol.resolve(
            id: ClusterActorID(node: server.node, path: ConversationStore.path), using: caller)
        let measured: Result<(one: [Double], two: [Double]), any Error>
        do {
            measured = .success(try await search(queries, through: store))
        } catch {
            measured = .failure(error)
        }
        withExtendedLifetime(node) {}  // the system holds its actors weakly
        await caller.shutdown()
        await server.shutdown()
        return try measured.get()
    }

    private static func search(_ queries: [Query], through store: $ConversationStoreProtocol) async throws
        -> (one: [Double], two: [Double])
    {
        let clock = ContinuousClock()
        var one: [Double] = []
        var two: [Double] = []
        for query in queries {
            let start = clock.now
            _ = try await store.search(owner: query.owner, ConversationSearchRequest(query: query.text, limit: 20))
            let ms = start.duration(to: clock.now).seconds * 1000
            if query.twoWords { two.append(ms) } else { one.append(ms) }
        }
        return (one, two)
    }
}

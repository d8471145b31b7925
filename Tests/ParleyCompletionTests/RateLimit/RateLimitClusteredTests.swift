import Distributed
import ParleyCluster
import ParleyProtocol
import Testing

@testable import ParleyCompletion

@Suite("Rate limits across nodes", .serialized)
struct RateLimitClusteredTests {
    static let configuration = CompletionConfiguration(
        rateLimits: RateLimitConfiguration(requestsPerMinute: 60, concurrentRequests: 1000))

    @Test func sixtyFirstRequestIsRefusedWhicheverNodeItReaches() async throws {
        try await withHarness(completions: 2, configuration: Self.configuration) { harness in
            let nodes = [try harness.completion("c1"), try harness.completion("c2")]
            for number in 0..<60 {
                let stream = try await nodes[number % 2].complete(request("r\(number)", maxTokens: 1, store: false))
                for try await _ in stream {}
            }
            for node in nodes {
                let error = await #expect(throws: ClusterError.self) {
                    _ = try await node.complete(request("r60", maxTokens: 1, store: false))
                }
                #expect(error?.code.rawValue == ServingError.rateLimited)
                #expect(error?.message.contains("retry after") == true)
            }
            // Another user has a budget of its own.
            for try await _ in try await nodes[1].complete(request("v0", user: "v", maxTokens: 1, store: false)) {}
            // Exactly one shard holds the user's state.
            let shards = harness.completions.values.map(\.rateLimiter)
            var tracking = 0
            for shard in shards where try await shard.trackedUsers() > 0 { tracking += 1 }
            #expect(tracking >= 1 && tracking <= 2)
        }
    }

    @Test func usersFollowTheRingAndMoveWhenTheirShardDies() async throws {
        try await withCluster(["a", "b", "c"]) { cluster in
            let limits = RateLimitConfiguration(requestsPerMinute: 2, concurrentRequests: 1000)
            // Each node's client decides for its own shard's users directly, and asks the others.
            let limitsByNode = ["a", "b", "c"].map { _ in RateLimitShard(configuration: limits) }
            let shards = ["a", "b", "c"].enumerated().map {
                RateLimiter(actorSystem: cluster[$0.element], shard: limitsByNode[$0.offset])
            }
            for shard in shards { cluster[shard.id.node.name].receptionist.register(shard, key: ServiceKeys.rateLimiter) }
            for name in ["a", "b", "c"] { try await waitForRegistrations(ServiceKeys.rateLimiter, count: 3, on: cluster[name]) }
            let clients = ["a", "b", "c"].enumerated().map {
                RateLimitClient(system: cluster[$0.element], logger: quietLogger, localShard: limitsByNode[$0.offset])
            }
            // Every node agrees on each user's owner.
            for user in (0..<20).map({ "user\($0)" }) {
                let owners = Set(clients.map { $0.shards(for: user).first?.node })
                #expect(owners.count == 1)
            }
            let owner = try #require(clients[0].shards(for: "u").first?.node)
            #expect(try await clients[0].acquire(userID: "u", requestID: "1").allowed)
            #expect(try await clients[1].acquire(userID: "u", requestID: "2").allowed)
            #expect(try await !clients[2].acquire(userID: "u", requestID: "3").allowed)
            // The owner dies: the next node on the ring answers, with fresh limits.
            await cluster.stop(owner.name)
            let survivor = try #require(["a", "b", "c"].firstIndex { $0 != owner.name })
            let start = ContinuousClock.now
            #expect(try await clients[survivor].acquire(userID: "u", requestID: "4").allowed)
            #expect(start.duration(to: .now) < .seconds(1))
        }
    }
}

import CoreMetrics
import Distributed
import Logging
import ParleyCluster
import ParleyProtocol

/// The completion side of the cluster as the gateway sees it: `CompletionService` actors found
/// through the receptionist, with failover of broken streams (see ``CompletionRelayState``).
struct ClusterCompletionBackend: CompletionBackend {
    let system: ClusterSystem
    let streaming: GatewayConfiguration.Streaming
    let callTimeout: Duration
    let metrics: GatewayMetrics
    let logger: Logger

    func complete(_ request: CompletionRequest) -> EventIterator {
        let relay = CompletionRelay(backend: self, request: request)
        return EventIterator { try await relay.next() }
    }

    /// A live completion node not known to have failed this request: this node's own if it has
    /// one, else one picked by the request id (spreads load, stable per request).
    func chooseCompletionNode(for request: CompletionRequest, excluding failed: Set<ClusterNode>) async throws
        -> ClusterActorID
    {
        // A gateway that has just started may not have heard of the completion nodes yet.
        let all = await system.receptionist.lookup(ServiceKeys.completion, waitingUpTo: .seconds(3))
            .sorted { $0.description < $1.description }
        guard !all.isEmpty else {
            throw ServingError(ServingError.noBackend, "no completion node is available", retryAfterSeconds: 1)
        }
        let candidates = all.filter { !failed.contains($0.node) }
        let pool = candidates.isEmpty ? all : candidates
        if let local = pool.first(where: { $0.node == system.node }) { return local }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in request.requestID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return pool[Int(hash % UInt64(pool.count))]
    }

    func cancel(requestID: String, userID: String) async throws -> Bool {
        let ids = system.receptionist.lookup(ServiceKeys.completion)
        guard !ids.isEmpty else {
            throw ServingError(ServingError.noBackend, "no completion node is available", retryAfterSeconds: 1)
        }
        return await withTaskGroup(of: Bool.self) { group in
            for id in ids {
                group.addTask {
                    guard
                        let service = try? system.reference(to: id, as: (any CompletionServiceProtocol).self, remote: {
                            try $CompletionServiceProtocol.resolve(id: $0, using: system)
                        })
                    else { return false }
                    return (try? await ClusterSystem.withCallTimeout(callTimeout) {
                        try await service.cancel(requestID: requestID, userID: userID)
                    }) ?? false
                }
            }
            var cancelled = false
            for await result in group { cancelled = cancelled || result }
            return cancelled
        }
    }

    func models() async throws -> [ModelInfo] {
        let ids = system.receptionist.lookup(ServiceKeys.modelAPI)
        let lists = await withTaskGroup(of: [ModelInfo].self) { group in
            for id in ids {
                group.addTask {
                    guard
                        let api = try? system.reference(to: id, as: (any ModelAPIProtocol).self, remote: {
                            try $ModelAPIProtocol.resolve(id: $0, using: system)
                        })
                    else { return [] }
                    return (try? await ClusterSystem.withCallTimeout(callTimeout) { try await api.models() }) ?? []
                }
            }
            var all: [[ModelInfo]] = []
            for await list in group { all.append(list) }
            return all
        }
        return Self.merged(lists)
    }

    /// One entry per model id, sorted by id. A model served by several endpoints is served since the
    /// earliest of them, with the context the smallest one holds (what every endpoint can take).
    static func merged(_ lists: [[ModelInfo]]) -> [ModelInfo] {
        var byID: [String: ModelInfo] = [:]
        for model in lists.joined() {
            guard var known = byID[model.id] else {
                byID[model.id] = model
                continue
            }
            known.created = [known.created, model.created].compactMap { $0 }.min()
            known.contextLength = [known.contextLength, model.contextLength].compactMap { $0 }.min()
            byID[model.id] = known
        }
        return byID.values.sorted { $0.id < $1.id }
    }
}

/// Membership and readiness from the cluster system.
struct ClusterNodeStatus: NodeStatusProvider {
    let system: ClusterSystem

    func clusterStatus() async -> ClusterStatus { await ClusterStatus(system: system) }

    func isReady() -> Bool {
        system.selfMember?.status == .alive
            && !system.receptionist.lookup(ServiceKeys.completion).isEmpty
    }
}

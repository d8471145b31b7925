import Logging
import Synchronization

/// What one node reports about the cluster (`parley cluster status`).
public struct ClusterStatusReport: Sendable {
    /// The node that answered.
    public var responder: ClusterNode
    /// Every member it knows, itself included, sorted by address.
    public var members: [Membership.Member]
}

extension ClusterSystem {
    /// Asks the node listening at `seed` for its member list, over the cluster protocol, without
    /// joining: a short-lived, non-member system (no membership, an ephemeral loopback listener)
    /// handshakes with the seed — so `settings` must carry the cluster key and TLS material — sends a
    /// read-only status request and waits for the answer until `timeout`.
    ///
    /// Throws `.rejected` when the handshake is refused (wrong cluster key), `.nodeDown` when nothing
    /// answers at `seed`, `.timedOut` when no answer arrives in time.
    package static func fetchStatus(
        from seed: NodeAddress, settings: ClusterSettings, timeout: Duration = .seconds(5)
    ) async throws -> ClusterStatusReport {
        var settings = settings
        settings.runsMembership = false
        settings.seeds = []
        settings.listen = NodeAddress(host: "127.0.0.1", port: 0)
        settings.connectTimeout = min(settings.connectTimeout, timeout)
        var logger = Logger(label: "parley.cluster.status")
        logger.logLevel = .error
        let client = try await ClusterSystem.start(settings: settings, logger: logger)
        let (replies, continuation) = AsyncStream<ClusterStatusReport>.makeStream()
        client.setSystemMessageHandler(channel: ClusterMembership.membershipChannel) { peer, bytes in
            guard let message = try? BinaryDecoder().decode(Membership.Message.self, from: bytes),
                case .joinReply(.welcome(let members, _)) = message
            else { return }
            continuation.yield(ClusterStatusReport(responder: peer, members: members.map(\.member)))
        }
        do {
            let request = try BinaryEncoder().encode(Membership.Message.statusRequest)
            let report = try await withThrowingTaskGroup(of: ClusterStatusReport?.self) { group in
                group.addTask {
                    try await client.sendSystemMessage(
                        channel: ClusterMembership.membershipChannel, toAddress: seed, request)
                    for await report in replies { return report }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let report = try await group.next() ?? nil else {
                    throw ClusterError(.timedOut, "no status from \(seed) within \(timeout)")
                }
                return report
            }
            await client.shutdown()
            return report
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

public import Logging
public import ParleyCluster
public import ParleyProtocol
import Synchronization

/// The shell around a proxy's ``RoutingTable``: holds it behind a lock, reads the continuous clock,
/// logs breaker transitions, and keeps the table in step with the receptionist and membership
/// (``follow()``). Shared by the `ModelProxy` actor and its relay streams, which use it without
/// hopping onto the actor.
public final class Router: Sendable {
    public let system: ClusterSystem
    public let settings: ProxySettings
    let logger: Logger
    private let clock = ContinuousClock()
    private let table: Mutex<RoutingTable<ContinuousClock.Instant>>

    public init(
        system: ClusterSystem, settings: ProxySettings = .init(), logger: Logger = Logger(label: "parley.proxy")
    ) {
        self.system = system
        self.settings = settings
        self.logger = logger
        self.table = Mutex(RoutingTable(policy: settings.policy, breakerSettings: settings.breaker))
    }

    var now: ContinuousClock.Instant { clock.now }

    /// The endpoints that may serve `model` now, best first.
    func rank(model: String, region: String?, conversationID: String?, excluding: Set<ClusterActorID>)
        -> [ClusterActorID]
    {
        let candidates = system.receptionist.lookup(ServiceKeys.modelAPI(model))
        let now = self.now
        return table.withLock {
            $0.rank(candidates, region: region, conversationID: conversationID, excluding: excluding, now: now)
        }
    }

    /// Whether any live endpoint is registered for `model` (whatever its health).
    func serves(model: String) -> Bool {
        !system.receptionist.lookup(ServiceKeys.modelAPI(model)).isEmpty
    }

    func begin(_ id: ClusterActorID) -> CircuitBreaker<ContinuousClock.Instant>.Decision {
        let now = self.now
        let (decision, transition) = table.withLock { $0.begin(id, now: now) }
        log(transition, id)
        return decision
    }

    func firstToken(_ id: ClusterActorID, after duration: Duration) {
        table.withLock { $0.firstToken(id, afterMillis: duration.milliseconds) }
    }

    func end(
        _ id: ClusterActorID, outcome: RoutingTable<ContinuousClock.Instant>.Outcome, wasProbe: Bool,
        interTokenMillis: Double?, conversationID: String?
    ) {
        let now = self.now
        let transition = table.withLock {
            $0.end(
                id, outcome: outcome, wasProbe: wasProbe, interTokenMillis: interTokenMillis,
                conversationID: conversationID, now: now)
        }
        log(transition, id)
    }

    func markDown(_ node: ClusterNode) {
        table.withLock { $0.markDown(node) }
    }

    /// Every known endpoint with its measurements.
    public func statuses() -> [EndpointStatus] {
        table.withLock { $0.statuses() }
    }

    // MARK: Following the cluster

    /// Keeps the table in step with the cluster until cancelled or the system shuts down: the
    /// endpoint list from the receptionist (`ServiceKeys.modelAPI`), each endpoint's models (one
    /// `models()` call per new endpoint) and each node's region from membership.
    public func follow() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.followListing() }
            group.addTask { await self.followMembership() }
        }
    }

    private func followListing() async {
        for await ids in system.receptionist.listing(ServiceKeys.modelAPI) {
            let unknown = table.withLock { table in
                table.setListing(ids)
                return table.endpointsWithoutModels
            }
            logger.debug("model endpoints changed", metadata: ["endpoint.count": "\(ids.count)"])
            for id in unknown {
                guard
                    let api = try? system.reference(to: id, as: (any ModelAPIProtocol).self, remote: {
                        try $ModelAPIProtocol.resolve(id: $0, using: system)
                    }),
                    let models = try? await ClusterSystem.withCallTimeout(
                        settings.discoveryTimeout, { try await api.models() })
                else { continue }
                table.withLock { $0.setModels(models.map(\.id), of: id) }
            }
        }
    }

    private func followMembership() async {
        for await event in system.membershipEvents {
            let member = event.member
            table.withLock { table in
                if member.status.isTerminal {
                    table.setRegion(nil, of: member.node)
                    table.markDown(member.node)
                } else {
                    table.setRegion(member.region, of: member.node)
                }
            }
        }
    }

    private func log(_ transition: CircuitBreaker<ContinuousClock.Instant>.Transition?, _ id: ClusterActorID) {
        guard let transition else { return }
        let level: Logger.Level = transition == .opened ? .warning : .info
        logger.log(level: level, "circuit \(transition)", metadata: ["endpoint.id": "\(id)"])
    }
}

extension Duration {
    /// This duration in (fractional) milliseconds.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

import Synchronization
public import ServiceLifecycle

/// A node's cluster runtime as a swift-service-lifecycle `Service`, to run in a `ServiceGroup` with
/// the node's other services.
///
/// Create the system first (other services need it to host their actors), then hand it here.
/// `run()` returns when the group shuts down gracefully (SIGTERM, when the group is configured with
/// it): the node then leaves the cluster (announces `left`, drains) and the system shuts down.
/// If the cluster declares this node dead, the system stops on its own and `run()` throws, so the
/// group ends and the process exits; its supervisor starts it again with a new identity.
public struct ClusterService: Service {
    /// The system this service runs.
    public let system: ClusterSystem
    /// How long a graceful leave keeps answering pings before shutting down; `nil`: one probe interval.
    public var leaveDrain: Duration?

    public init(system: ClusterSystem, leaveDrain: Duration? = nil) {
        self.system = system
        self.leaveDrain = leaveDrain
    }

    public func run() async throws {
        let system = self.system
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await gracefulShutdown() }
            group.addTask { await system.waitUntilStopped() }
            await group.next()
            group.cancelAll()
        }
        if system.wasDeclaredDead {
            await system.shutdown()
            throw ClusterError(.shutDown, "the cluster declared \(system.node) dead")
        }
        await system.leave(drain: leaveDrain)
    }
}

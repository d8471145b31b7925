import Distributed
package import Logging
package import ParleyCluster
import ParleyProtocol

/// The actors of one conversation node over its database: the public ``ConversationStore`` (at a
/// well-known path, registered under `ServiceKeys.conversationStore`), the internal replica peer
/// and the ``ReplicaRouter``. Keep the value alive as long as the node serves: the system holds
/// its actors weakly.
package struct ConversationNode: Sendable {
    package let database: ConversationDatabase
    package let router: ReplicaRouter
    package let store: ConversationStore
    let peer: ReplicaPeer

    /// Creates and registers the actors on `system`.
    package init(
        system: ClusterSystem, database: ConversationDatabase, settings: ReplicationSettings = ReplicationSettings(),
        logger: Logger
    ) {
        let router = ReplicaRouter(system: system, database: database, settings: settings, logger: logger)
        self.database = database
        self.router = router
        self.peer = system.withWellKnownPath(ReplicaPeer.path) {
            ReplicaPeer(actorSystem: system, database: database, generationLogRetention: settings.generationLogRetention)
        }
        self.store = system.withWellKnownPath(ConversationStore.path) {
            ConversationStore(actorSystem: system, database: database, router: router)
        }
        system.receptionist.register(peer, key: ReplicaPeer.key)
        system.receptionist.register(store, key: ServiceKeys.conversationStore)
    }
}

public import ParleyCluster

/// Parley's application API version: nodes with a different one refuse each other at the
/// handshake. Bump it on any incompatible change to this module's types or protocols.
public let parleyAPIVersion = "parley-api-8"

extension ClusterSystem {
    /// Allows the stub types of Parley's actor protocols as generic substitutions of incoming calls.
    public func allowParleyProtocols() {
        allowGenericSubstitution($ModelAPIProtocol.self)
        allowGenericSubstitution($ModelProxyProtocol.self)
        allowGenericSubstitution($WorkerPoolProtocol.self)
        allowGenericSubstitution($CompletionServiceProtocol.self)
        allowGenericSubstitution($RateLimiterProtocol.self)
        allowGenericSubstitution($ConversationStoreProtocol.self)
    }
}

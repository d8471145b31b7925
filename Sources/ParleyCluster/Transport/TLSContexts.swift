import NIOCore
import NIOSSL

/// The TLS contexts of a node with mutual TLS: both sides present a certificate and verify the
/// peer's against the configured trust roots. Host names are not checked (nodes are addressed by
/// IP); the trust roots decide who may join.
struct TLSContexts: Sendable {
    let server: NIOSSLContext
    let client: NIOSSLContext

    init(_ tls: ClusterSettings.TLS) throws {
        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: tls.certificateChain.map { .certificate($0) }, privateKey: .privateKey(tls.privateKey))
        server.trustRoots = .certificates(tls.trustRoots)
        server.certificateVerification = .noHostnameVerification
        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = tls.certificateChain.map { .certificate($0) }
        client.privateKey = .privateKey(tls.privateKey)
        client.trustRoots = .certificates(tls.trustRoots)
        client.certificateVerification = .noHostnameVerification
        self.server = try NIOSSLContext(configuration: server)
        self.client = try NIOSSLContext(configuration: client)
    }

    func handler(role: HandshakeStateMachine.Role) throws -> any ChannelHandler {
        switch role {
        case .server: NIOSSLServerHandler(context: server)
        case .client: try NIOSSLClientHandler(context: client, serverHostname: nil)
        }
    }
}

import Crypto

/// The connection handshake as a pure state machine: feed it messages, carry out its actions.
///
/// Both sides prove that they hold the cluster key without sending it (HMAC-SHA256 over both
/// nonces and both node uids, with distinct labels per direction, so a reflected MAC is useless).
/// A wrong magic, protocol version, API version or MAC rejects the peer.
public struct HandshakeStateMachine: Sendable {
    public enum Role: Sendable { case client, server }

    /// What the shell must do.
    public enum Action: Sendable, Equatable {
        case send(HandshakeMessage)
        /// The handshake succeeded; the peer is `peer`.
        case established(peer: ClusterNode)
        /// The handshake failed: send `rejected` (when `notifyPeer`), then close the connection.
        case fail(reason: String, notifyPeer: Bool)
    }

    private enum State {
        case idle
        case clientAwaitingChallenge
        case serverAwaitingHello
        case serverAwaitingAuthenticate(client: ClusterNode, clientNonce: [UInt8])
        case clientAwaitingAccepted(server: ClusterNode)
        case established
        case failed
    }

    private var state: State
    private let role: Role
    private let local: ClusterNode
    private let key: SymmetricKey
    private let apiVersion: String
    private let nonce: [UInt8]

    /// - Parameters:
    ///   - nonce: fresh random bytes (at least 16) drawn by the caller for this connection.
    public init(role: Role, local: ClusterNode, clusterKey: [UInt8], apiVersion: String, nonce: [UInt8]) {
        self.role = role
        self.local = local
        self.key = SymmetricKey(data: clusterKey)
        self.apiVersion = apiVersion
        self.nonce = nonce
        self.state = role == .client ? .idle : .serverAwaitingHello
    }

    public var isEstablished: Bool {
        if case .established = state { return true }
        return false
    }

    /// The client's first action: send hello. The server has nothing to do until hello arrives.
    public mutating func start() -> Action? {
        guard role == .client, case .idle = state else { return nil }
        state = .clientAwaitingChallenge
        return .send(
            .hello(
                .init(
                    magic: WireFormat.magic, protocolVersion: WireFormat.protocolVersion, apiVersion: apiVersion,
                    node: local, nonce: nonce)))
    }

    public mutating func receive(_ message: HandshakeMessage) -> [Action] {
        switch (state, message) {
        case (.serverAwaitingHello, .hello(let hello)):
            guard hello.protocolVersion == WireFormat.protocolVersion else {
                return fail("protocol version \(hello.protocolVersion) is not \(WireFormat.protocolVersion)")
            }
            guard hello.apiVersion == apiVersion else {
                return fail("API version \(hello.apiVersion) is not \(apiVersion)")
            }
            guard hello.nonce.count >= 16 else { return fail("nonce too short") }
            state = .serverAwaitingAuthenticate(client: hello.node, clientNonce: hello.nonce)
            let mac = Self.mac(key, label: "parley-server", hello.nonce, nonce, local.uid, hello.node.uid)
            return [.send(.challenge(.init(node: local, nonce: nonce, mac: mac)))]

        case (.clientAwaitingChallenge, .challenge(let challenge)):
            let expected = Self.mac(key, label: "parley-server", nonce, challenge.nonce, challenge.node.uid, local.uid)
            guard challenge.nonce.count >= 16, Self.equal(expected, challenge.mac) else {
                return fail("peer does not hold the cluster key")
            }
            state = .clientAwaitingAccepted(server: challenge.node)
            let mac = Self.mac(key, label: "parley-client", challenge.nonce, nonce, local.uid, challenge.node.uid)
            return [.send(.authenticate(mac: mac))]

        case (.serverAwaitingAuthenticate(let client, let clientNonce), .authenticate(let mac)):
            let expected = Self.mac(key, label: "parley-client", nonce, clientNonce, client.uid, local.uid)
            guard Self.equal(expected, mac) else { return fail("peer does not hold the cluster key") }
            state = .established
            return [.send(.accepted), .established(peer: client)]

        case (.clientAwaitingAccepted(let server), .accepted):
            state = .established
            return [.established(peer: server)]

        case (_, .rejected(let reason)):
            state = .failed
            return [.fail(reason: "peer rejected the handshake: \(reason)", notifyPeer: false)]

        default:
            return fail("unexpected handshake message")
        }
    }

    private mutating func fail(_ reason: String) -> [Action] {
        state = .failed
        return [.fail(reason: reason, notifyPeer: true)]
    }

    private static func mac(
        _ key: SymmetricKey, label: String, _ nonceA: [UInt8], _ nonceB: [UInt8], _ uidA: UInt64, _ uidB: UInt64
    ) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array(label.utf8))
        hmac.update(data: nonceA)
        hmac.update(data: nonceB)
        withUnsafeBytes(of: uidA.littleEndian) { hmac.update(data: Array($0)) }
        withUnsafeBytes(of: uidB.littleEndian) { hmac.update(data: Array($0)) }
        return Array(hmac.finalize())
    }

    /// Constant-time comparison.
    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

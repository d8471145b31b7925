import NIOCore

/// The messages of the connection handshake, in the order they are sent:
/// client `hello` → server `challenge` → client `authenticate` → server `accepted` (or `rejected`
/// at any step, after which the connection closes).
public enum HandshakeMessage: Sendable, Equatable {
    case hello(Hello)
    case challenge(Challenge)
    case authenticate(mac: [UInt8])
    case accepted
    case rejected(reason: String)

    public struct Hello: Sendable, Equatable {
        public var magic: UInt32
        public var protocolVersion: UInt16
        /// The application's API version; nodes with different API versions refuse each other.
        public var apiVersion: String
        public var node: ClusterNode
        public var nonce: [UInt8]
    }

    public struct Challenge: Sendable, Equatable {
        public var node: ClusterNode
        public var nonce: [UInt8]
        /// Proves the server holds the cluster key: HMAC over both nonces and both node uids.
        public var mac: [UInt8]
    }

    var frameKind: FrameKind {
        switch self {
        case .hello: .hello
        case .challenge: .challenge
        case .authenticate: .authenticate
        case .accepted: .accepted
        case .rejected: .rejected
        }
    }

    /// Writes the whole frame (length, kind, payload).
    func write(to buffer: inout ByteBuffer) {
        let start = buffer.beginFrame(frameKind)
        switch self {
        case .hello(let hello):
            buffer.writeInteger(hello.magic)
            buffer.writeInteger(hello.protocolVersion)
            buffer.writeVarString(hello.apiVersion)
            buffer.writeNode(hello.node)
            buffer.writeVarBytes(hello.nonce)
        case .challenge(let challenge):
            buffer.writeNode(challenge.node)
            buffer.writeVarBytes(challenge.nonce)
            buffer.writeVarBytes(challenge.mac)
        case .authenticate(let mac):
            buffer.writeVarBytes(mac)
        case .accepted:
            break
        case .rejected(let reason):
            buffer.writeVarString(reason)
        }
        buffer.endFrame(at: start)
    }

    /// Parses a handshake frame; any other kind or a malformed payload throws.
    init(frame: Frame) throws {
        var payload = frame.payload
        switch frame.kind {
        case .hello:
            let magic = try payload.readChecked(UInt32.self)
            guard magic == WireFormat.magic else { throw ClusterError(.rejected, "not a Parley peer (bad magic)") }
            let version = try payload.readChecked(UInt16.self)
            self = .hello(
                Hello(
                    magic: magic, protocolVersion: version, apiVersion: try payload.readVarString(),
                    node: try payload.readNode(), nonce: try payload.readVarBytes()))
        case .challenge:
            self = .challenge(
                Challenge(node: try payload.readNode(), nonce: try payload.readVarBytes(), mac: try payload.readVarBytes()))
        case .authenticate:
            self = .authenticate(mac: try payload.readVarBytes())
        case .accepted:
            self = .accepted
        case .rejected:
            self = .rejected(reason: try payload.readVarString())
        default:
            throw ClusterError(.malformed, "frame kind \(frame.kind) during the handshake")
        }
        guard payload.readableBytes == 0 else { throw ClusterError(.malformed, "trailing bytes in handshake frame") }
    }
}

extension ByteBuffer {
    mutating func writeNode(_ node: ClusterNode) {
        writeVarString(node.name)
        writeVarString(node.address.host)
        writeInteger(UInt16(truncatingIfNeeded: node.address.port))
        writeInteger(node.uid)
    }

    mutating func readNode() throws -> ClusterNode {
        let name = try readVarString()
        let host = try readVarString()
        let port = Int(try readChecked(UInt16.self))
        let uid = try readChecked(UInt64.self)
        return ClusterNode(name: name, address: NodeAddress(host: host, port: port), uid: uid)
    }
}

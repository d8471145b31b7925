/// Where a node listens: a host name or IP address and a TCP port.
public struct NodeAddress: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// Host name or IP literal, for example `127.0.0.1`.
    public var host: String
    /// TCP port of the cluster listener.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (an IPv6 literal in brackets: `[::1]:7000`). Returns `nil` when malformed.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public static func < (lhs: NodeAddress, rhs: NodeAddress) -> Bool {
        (lhs.host, lhs.port) < (rhs.host, rhs.port)
    }
}

/// One incarnation of a cluster node: its operator-given name, its listen address and a unique id
/// drawn at every start, so a restarted node is a different peer than the one that died.
public struct ClusterNode: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// Operator-given name (`--name`), unique in the cluster by convention.
    public var name: String
    /// The cluster listener's address.
    public var address: NodeAddress
    /// Random per-start identifier; never 0 for a real node.
    public var uid: UInt64

    public init(name: String, address: NodeAddress, uid: UInt64) {
        self.name = name
        self.address = address
        self.uid = uid
    }

    public var description: String { "\(name)@\(address)#\(String(uid, radix: 16))" }

    public static func < (lhs: ClusterNode, rhs: ClusterNode) -> Bool {
        (lhs.address, lhs.uid, lhs.name) < (rhs.address, rhs.uid, rhs.name)
    }
}

public import NIOSSL

/// Configuration of one `ClusterSystem`. Every field has a default; tests shorten timings here.
public struct ClusterSettings: Sendable {
    /// This node's name, shown in membership and logs.
    public var name: String
    /// Address to listen on; port 0 picks a free port (the bound port is used as the node address).
    public var listen: NodeAddress
    /// Address other nodes use to reach this one, when it differs from `listen` (e.g. 0.0.0.0).
    public var advertisedHost: String?
    /// Roles this node serves, gossiped with membership (e.g. `["gateway", "model"]`).
    public var roles: [String]
    /// Region label, gossiped with membership; used for routing preferences.
    public var region: String
    /// Seed nodes to join through.
    public var seeds: [NodeAddress]
    /// Shared secret every node of the cluster must hold. The empty key is a valid key of its own
    /// (no authentication): nodes without a key can only talk to nodes without a key.
    public var clusterKey: [UInt8]
    /// Application API version: nodes with different versions refuse each other at the handshake.
    public var apiVersion: String
    /// Optional mutual TLS.
    public var tls: TLS?
    /// Largest frame accepted after the handshake, in bytes (default 16 MiB).
    public var maxFrameSize: Int
    /// Deadline of a remote call when the caller sets none (default 30 s).
    public var defaultCallTimeout: Duration
    /// How often pending calls are checked against their deadlines (default 10 ms).
    public var deadlineSweepInterval: Duration
    /// Time allowed for a connection to complete its handshake (default 5 s).
    public var handshakeTimeout: Duration
    /// Time allowed to establish a TCP connection (default 2 s).
    public var connectTimeout: Duration
    /// Elements a stream consumer allows in flight (default 1024); credit is renewed at half.
    public var streamWindow: Int
    /// How long a stream handle may stay unclaimed before its producer is dropped (default 30 s).
    public var streamLeaseTimeout: Duration
    /// Bytes queued on one connection beyond which new sends fail with `.overloaded` (default 64 MiB).
    public var maxQueuedBytesPerConnection: Int
    /// Number of NIO event-loop threads (default 1; the machine is small and work runs elsewhere).
    public var eventLoopThreads: Int
    /// Start incoming calls on the event loop of their connection instead of the global pool
    /// (default true). Saves two thread hops per call (round trip 120 → 60–95 µs measured on two
    /// busy cores); a call that computes for long without suspending holds up that loop's I/O while
    /// it runs, so such work belongs in a task of its own.
    public var runsCallsOnEventLoop: Bool
    /// Remember the parameter and return types of each non-generic target after its first call,
    /// and run later calls without the runtime demangling the target's name three times
    /// (default true; about 14 % of a callee's CPU on small calls). Off: every call takes
    /// `executeDistributedTarget`.
    public var learnsTargetSignatures: Bool
    /// Timings of the SWIM membership protocol (defaults detect a killed node within about 1–2 s).
    package var membership: MembershipSettings
    /// Timings of the receptionist's replication.
    package var receptionist: Receptionist.Settings
    /// Whether `start` runs membership and the receptionist (default true). Off only for clients
    /// that are not members, such as `parley cluster status`.
    package var runsMembership: Bool

    /// The membership protocol's settings (see ``Membership/Settings``).
    package typealias MembershipSettings = Membership.Settings

    /// Mutual TLS between nodes: every node presents `certificateChain` and trusts peers signed by `trustRoots`.
    public struct TLS: Sendable {
        public var certificateChain: [NIOSSLCertificate]
        public var privateKey: NIOSSLPrivateKey
        public var trustRoots: [NIOSSLCertificate]

        public init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey, trustRoots: [NIOSSLCertificate]) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
            self.trustRoots = trustRoots
        }

        /// Loads PEM files.
        public init(certificateFile: String, keyFile: String, caFile: String) throws {
            self.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile)
            self.privateKey = try NIOSSLPrivateKey(file: keyFile, format: .pem)
            self.trustRoots = try NIOSSLCertificate.fromPEMFile(caFile)
        }
    }

    public init(
        name: String,
        listen: NodeAddress = NodeAddress(host: "127.0.0.1", port: 0),
        roles: [String] = [],
        seeds: [NodeAddress] = []
    ) {
        self.name = name
        self.listen = listen
        self.advertisedHost = nil
        self.roles = roles
        self.region = "default"
        self.seeds = seeds
        self.clusterKey = []
        self.apiVersion = "parley-1"
        self.tls = nil
        self.maxFrameSize = 16 * 1024 * 1024
        self.defaultCallTimeout = .seconds(30)
        self.deadlineSweepInterval = .milliseconds(10)
        self.handshakeTimeout = .seconds(5)
        self.connectTimeout = .seconds(2)
        self.streamWindow = 1024
        self.streamLeaseTimeout = .seconds(30)
        self.maxQueuedBytesPerConnection = 64 * 1024 * 1024
        self.eventLoopThreads = 1
        self.runsCallsOnEventLoop = true
        self.learnsTargetSignatures = true
        self.membership = MembershipSettings()
        self.receptionist = Receptionist.Settings()
        self.runsMembership = true
    }
}

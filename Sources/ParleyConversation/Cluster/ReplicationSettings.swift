/// How a conversation node places and replicates partitions. Every field has a documented default.
package struct ReplicationSettings: Sendable {
    /// Cluster role whose nodes hold conversation partitions; default `conversation`.
    package var role: String = "conversation"
    /// Replicas per partition; default 3 (fewer when fewer nodes are alive).
    package var replicationFactor: Int = 3
    /// How long a push of a write to another replica may take before the replica counts as
    /// missing (the write is then kept as a hint for it); default 2 s.
    package var pushTimeout: Duration = .seconds(2)
    /// Deadline of a call forwarded to a replica; default 10 s.
    package var forwardTimeout: Duration = .seconds(10)
    /// Pause between anti-entropy rounds; default 2 s.
    package var antiEntropyInterval: Duration = .seconds(2)
    /// Deadline of one anti-entropy call (digests, a change page); default 10 s.
    package var antiEntropyCallTimeout: Duration = .seconds(10)
    /// Partitions one anti-entropy round pulls from a peer at the same time; default 4.
    package var pullsInFlight: Int = 4
    /// A partition that differs from a peer's is pulled at once when this node lacks at least this
    /// many of the peer's rows (by row count), or when the peer's partition did not change since
    /// the previous round; otherwise writes to it are still arriving (their pushes are in flight)
    /// and the pull waits. Default 32 rows.
    package var antiEntropyLagRows: Int64 = 32
    /// Longest a differing partition's pull waits for its writes to settle; default 10 s.
    package var antiEntropyMaxDeferral: Duration = .seconds(10)
    /// Rows per change-feed page pulled by anti-entropy; default 2,000.
    package var changePageRows: Int = 2_000
    /// Most writes kept as (stored) hints for one missing replica; older ones are dropped
    /// (anti-entropy still repairs them). Default 10,000.
    package var maxHintsPerNode: Int = 10_000
    /// Remote calls of pushed writes outstanding per replica; writes arriving meanwhile queue and
    /// travel together in the next call. Default 2.
    package var pushCallsInFlightPerPeer: Int = 2
    /// Rows of pushed writes one call carries at most (a larger write travels alone); default 1 MiB.
    package var pushCallBytes: Int = 1 << 20
    /// Stored hints handed to a returning replica per call; default 256.
    package var hintsPerDelivery: Int = 256
    /// Deadline of the read-repair comparison with another replica; default 500 ms.
    package var readRepairTimeout: Duration = .milliseconds(500)
    /// How long this node keeps the generation logs of finished answers (see
    /// ``GenerationLogRetention``), compared with each peer's on first contact: replicas that keep
    /// logs for different times never hold the same runs, so a difference is logged as a warning.
    /// Nil: not compared.
    package var generationLogRetention: Duration?

    package init() {}

    /// The ring key of a partition.
    static func ringKey(partition: Int) -> String { "conversation-partition-\(partition)" }
}

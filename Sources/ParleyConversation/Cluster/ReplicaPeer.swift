import Distributed
import ParleyCluster
import ParleyProtocol

/// The replica-to-replica face of a conversation node (internal to the role): receives pushed
/// writes, answers digests, change-feed pages and streamed zstd snapshots for anti-entropy, and
/// per-conversation rows for read repair. Lives at a well-known path on every conversation node.
distributed actor ReplicaPeer {
    typealias ActorSystem = ClusterSystem

    /// Well-known path of the peer on every conversation node.
    static let path = "/user/conversation-replica"
    /// Receptionist key it is registered under.
    static let key = "conversation-replica"

    let database: ConversationDatabase
    /// How long this node keeps finished answers' generation logs (nil: not said).
    let generationLogRetention: Duration?

    init(actorSystem: ClusterSystem, database: ConversationDatabase, generationLogRetention: Duration? = nil) {
        self.actorSystem = actorSystem
        self.database = database
        self.generationLogRetention = generationLogRetention
    }

    /// Merges pushed rows; durable when this returns.
    distributed func apply(_ batch: ReplicaBatchWire) async throws {
        try await database.apply(batch.batch())
    }

    /// Merges the pushed rows of many writes in one transaction; durable when this returns.
    distributed func applyAll(_ batches: [ReplicaBatchWire]) async throws {
        try await database.apply(try batches.map { try $0.batch() })
    }

    /// The identity of this node's database (see ``ConversationDatabase/identity``).
    distributed func identity() -> String {
        database.identity
    }

    /// How long this node keeps finished answers' generation logs, in milliseconds (-1: not said).
    distributed func generationLogRetentionMilliseconds() -> Int64 {
        generationLogRetention?.wholeMilliseconds ?? -1
    }

    /// Digests of every partition holding rows here.
    distributed func digests() async throws -> [PartitionDigestWire] {
        try await database.digestsWithChangeSeq().map { PartitionDigestWire($0.digest, changeSeq: $0.changeSeq) }
    }

    /// One page of this node's change feed of `partition`.
    distributed func changes(partition: Int, after: Int64, limit: Int) async throws -> ReplicaBatchWire {
        ReplicaBatchWire(try await database.changes(partition: partition, after: after, limit: max(1, min(limit, 10_000))))
    }

    /// The whole partition as checksummed zstd chunks, pulled chunk by chunk by the receiver.
    distributed func snapshot(partition: Int) -> RemoteStream<SnapshotPiece> {
        actorSystem.makeStream(SnapshotSequence(database: database, partition: partition))
    }

    /// Hash of one conversation's rows here (for read repair).
    distributed func conversationDigest(id: String) async throws -> PartitionDigestWire {
        PartitionDigestWire(try await database.conversationDigest(id: id))
    }

    /// Every row of one generation here: run, events and its conversation (for repair).
    distributed func generationRows(requestID: String) async throws -> ReplicaBatchWire {
        ReplicaBatchWire(try await database.generationRows(requestID: requestID))
    }

    /// Every row of one conversation here (for read repair).
    distributed func conversationRows(id: String) async throws -> ReplicaBatchWire {
        ReplicaBatchWire(try await database.replicationRows(conversationID: id))
    }

    /// Resolves the peer of `node`.
    static func on(_ node: ClusterNode, system: ClusterSystem) throws -> ReplicaPeer {
        try ReplicaPeer.resolve(id: ClusterActorID(node: node, path: path), using: system)
    }
}

/// Reads a partition snapshot lazily, one chunk per element, so a transfer holds one chunk.
struct SnapshotSequence: AsyncSequence, Sendable {
    typealias Element = SnapshotPiece
    let database: ConversationDatabase
    let partition: Int

    func makeAsyncIterator() -> Iterator { Iterator(database: database, partition: partition) }

    struct Iterator: AsyncIteratorProtocol {
        let database: ConversationDatabase
        let partition: Int
        var cursor: SnapshotCursor?
        var finished = false

        mutating func next() async throws -> SnapshotPiece? {
            guard !finished else { return nil }
            let page = try await database.snapshotChunk(partition: partition, after: cursor)
            cursor = page.next
            finished = page.next == nil
            return SnapshotPiece(chunk: page.chunk, partition: partition, throughSeq: page.throughSeq)
        }
    }
}

extension ConversationDatabase {
    /// XOR of the row hashes of one conversation (its row and its messages) and their count.
    func conversationDigest(id: String) async throws -> PartitionDigest {
        let batch = try await replicationRows(conversationID: id)
        var hash = RowHash.zero
        for record in batch.conversations { hash = hash ^ record.rowHash }
        for record in batch.messages { hash = hash ^ record.rowHash }
        return PartitionDigest(
            partition: batch.partition, hash: hash, rowCount: Int64(batch.conversations.count + batch.messages.count))
    }
}

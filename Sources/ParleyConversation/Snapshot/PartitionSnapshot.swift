/// One piece of a partition snapshot: a zstd frame of encoded rows with a checksum, sized so
/// it can travel as one message of a remote stream.
package struct SnapshotChunk: Hashable, Sendable {
    package var partition: Int
    /// 0-based position in the snapshot.
    package var index: Int
    /// Size of the encoded rows before compression.
    package var rawSize: Int
    /// First 16 bytes of SHA-256 over `partition`, `index`, `rawSize` and `payload`.
    package var checksum: [UInt8]
    /// The zstd frame.
    package var payload: [UInt8]

    package init(partition: Int, index: Int, rawSize: Int, payload: [UInt8]) {
        self.partition = partition
        self.index = index
        self.rawSize = rawSize
        self.payload = payload
        self.checksum = Self.checksum(partition: partition, index: index, rawSize: rawSize, payload: payload)
    }

    static func checksum(partition: Int, index: Int, rawSize: Int, payload: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(UInt64(partition))
        hasher.update(UInt64(index))
        hasher.update(UInt64(rawSize))
        hasher.update(payload)
        return Array(hasher.finalize().prefix(16))
    }

    /// Whether the checksum matches the contents.
    package var isIntact: Bool {
        checksum == Self.checksum(partition: partition, index: index, rawSize: rawSize, payload: payload)
    }
}

/// A whole partition, compressed: every conversation row (tombstones included), message,
/// generation run and generation event.
package struct PartitionSnapshot: Hashable, Sendable {
    package var partition: Int
    package var chunks: [SnapshotChunk]
    /// The sender's change sequence when the snapshot was read: ask it for `changes(after:)`
    /// this value to catch up with what followed.
    package var throughSeq: Int64

    /// Bytes of the encoded rows before compression.
    package var rawBytes: Int { chunks.reduce(0) { $0 + $1.rawSize } }
    /// Bytes on the wire (payloads).
    package var compressedBytes: Int { chunks.reduce(0) { $0 + $1.payload.count } }
}

/// Where a snapshot transfer stands; opaque to the receiver, handed back to get the next chunk.
package struct SnapshotCursor: Hashable, Sendable, Codable {
    package enum Phase: Int, Hashable, Sendable, Codable {
        case conversations
        case messages
        /// Generation runs, each followed by its events.
        case runs
    }

    /// The sender's change sequence when the snapshot started.
    package var throughSeq: Int64
    package var phase: Phase
    /// Last change sequence sent in the current phase.
    package var afterSeq: Int64
    /// Index of the next chunk.
    package var index: Int
}

/// Maps an owner to one of `count` partitions by a stable hash (FNV-1a 64 of the owner's UTF-8),
/// identical on every node and across releases. The cluster's hash ring places partitions on nodes.
package struct Partitioner: Hashable, Sendable {
    /// Number of partitions; default 256. Fixed for the life of a cluster's data.
    package var count: Int

    package init(count: Int = 256) {
        precondition(count > 0 && count <= 65_536, "partition count must be in 1...65536")
        self.count = count
    }

    package func partition(ofOwner owner: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in owner.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }
}

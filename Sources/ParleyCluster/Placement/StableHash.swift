/// A 64-bit hash that is the same in every process, on every machine and in every release — unlike
/// Swift's `Hasher`, which is seeded per process. FNV-1a 64 over the bytes, then the MurmurHash3
/// 64-bit finalizer so that similar short inputs ("node#1", "node#2") spread over the whole range.
public enum StableHash {
    /// Hash of raw bytes.
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV offset basis
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3  // FNV prime
        }
        return finalize(value)
    }

    /// Hash of a string's UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        hash(text.utf8)
    }

    private static func finalize(_ input: UInt64) -> UInt64 {
        var value = input
        value ^= value >> 33
        value &*= 0xff51_afd7_ed55_8ccd
        value ^= value >> 33
        value &*= 0xc4ce_b9fe_1a85_ec53
        value ^= value >> 33
        return value
    }
}

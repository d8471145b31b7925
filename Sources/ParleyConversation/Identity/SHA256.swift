import Crypto

/// SHA-256 for deterministic import ids, row digests and chunk checksums: swift-crypto's, with
/// the updates this library feeds it (strings as UTF-8, integers as 8 little-endian bytes).
struct SHA256 {
    private var hasher = Crypto.SHA256()

    mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let handled: Void? = bytes.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if handled == nil { hasher.update(data: Array(bytes)) }
    }

    mutating func update(_ raw: UnsafeRawBufferPointer) {
        hasher.update(bufferPointer: raw)
    }

    mutating func update(_ string: String) {
        var copy = string
        copy.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
    }

    mutating func update(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { hasher.update(bufferPointer: $0) }
    }

    /// The 32-byte digest. Consumes the hasher.
    consuming func finalize() -> [UInt8] {
        Array(hasher.finalize())
    }

    static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }
}

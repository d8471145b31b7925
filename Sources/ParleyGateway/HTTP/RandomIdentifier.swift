import Crypto
import ParleyProtocol

/// Random identifiers for requests: 128 bits from the system's random source, as 32 lowercase
/// hex digits. Cheaper than `UUID()`, which opens and reads `/dev/urandom` on every call here.
enum RandomIdentifier {
    static func hex128() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next()) + hex(generator.next())
    }

    /// 128 bits of SHA-256 over `user` and `key`, as 32 lowercase hex digits: the same request id
    /// for every attempt of one user's request, and never another user's.
    static func derived(user: String, key: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("idempotency-key\u{0}\(user)\u{0}\(key)".utf8))
        return UUIDText.hexString(hasher.finalize().prefix(16))
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

import Crypto
import Foundation
import ParleyProtocol

/// Identifiers for requests: 32 lowercase hex digits. Cheaper than `UUID()`, which opens and reads
/// `/dev/urandom` on every call here.
enum RandomIdentifier {
    /// 128 random bits.
    static func hex128() -> String {
        var generator = SystemRandomNumberGenerator()
        return hex(generator.next()) + hex(generator.next())
    }

    /// The Unix time in milliseconds (48 bits, 12 digits) and 80 random bits: ids made later sort
    /// later, so the stores index a new request's rows (its run, its log, a new chat's
    /// conversation — see `DeterministicID.forChatRequest`) next to the last request's instead of
    /// on a random page of each index.
    static func timeOrdered128(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
        return hex(milliseconds << 16 | generator.next() & 0xFFFF) + hex(generator.next())
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

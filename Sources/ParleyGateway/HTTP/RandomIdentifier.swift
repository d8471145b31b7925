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
    /// for every attempt of one user's request, and never another user's. A key that begins with
    /// its time as `timeOrdered128` does (12 lowercase hex digits, then `-`, as `ParleyClient` makes
    /// them) keeps those digits at the head of the id, in place of the hash's first 48 bits.
    static func derived(user: String, key: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("idempotency-key\u{0}\(user)\u{0}\(key)".utf8))
        let hashed = UUIDText.hexString(hasher.finalize().prefix(16))
        let utf8 = Array(key.utf8)
        guard utf8.count > 13, utf8[12] == UInt8(ascii: "-"),
            utf8[..<12].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { return hashed }
        return String(decoding: utf8[..<12], as: UTF8.self) + String(hashed.dropFirst(12))
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

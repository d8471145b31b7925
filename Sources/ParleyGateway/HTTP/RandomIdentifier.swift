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

    /// The time (``TimePrefix``: 48 bits, 12 digits) and 80 random bits: ids made later sort later,
    /// so the stores index a new request's rows (its run, its log, a new chat's conversation) next
    /// to the last request's instead of on a random page of each index.
    static func timeOrdered128(now: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        return hex(TimePrefix.milliseconds(now) << 16 | generator.next() & 0xFFFF) + hex(generator.next())
    }

    /// 128 bits of SHA-256 over `user` and `key`, as 32 lowercase hex digits: the same request id
    /// for every attempt of one user's request, and never another user's. A key that begins with
    /// its time (``TimePrefix``, then `-`, as `ParleyClient` and the web UI make them) keeps those
    /// digits at the head of the id, in place of the hash's first 48 bits.
    static func derived(user: String, key: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("idempotency-key\u{0}\(user)\u{0}\(key)".utf8))
        let hashed = UUIDText.hexString(hasher.finalize().prefix(16))
        let utf8 = key.utf8
        guard utf8.count > TimePrefix.digits + 1, let time = TimePrefix.leading(utf8),
            utf8.dropFirst(TimePrefix.digits).first == UInt8(ascii: "-")
        else { return hashed }
        return String(decoding: time, as: UTF8.self) + String(hashed.dropFirst(TimePrefix.digits))
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

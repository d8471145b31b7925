package import Foundation

/// The head of time-ordered ids: the Unix time in milliseconds as 12 lowercase hex digits (48 bits).
/// A gateway's request ids begin with it; an `Idempotency-Key` may (ParleyClient's and the web UI's
/// do, followed by `-`), and the request id derived from it keeps it; a new chat's conversation id
/// takes it from its request id (``DeterministicID/forChatRequest(owner:requestID:)``). Rows keyed by
/// such ids are written next to the ones written just before, not onto random pages of each index.
package enum TimePrefix {
    /// Length of the prefix in hex digits.
    package static let digits = 12

    /// `now` in whole milliseconds since 1970, cut to 48 bits.
    package static func milliseconds(_ now: Date = Date()) -> UInt64 {
        UInt64(max(0, now.timeIntervalSince1970 * 1000)) & 0xFFFF_FFFF_FFFF
    }

    /// The prefix for `now`.
    package static func make(_ now: Date = Date()) -> String {
        let text = String(milliseconds(now), radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }

    /// The first ``digits`` bytes of `utf8` when they are a prefix (lowercase hex digits), else nil.
    package static func leading<Bytes: Collection<UInt8>>(_ utf8: Bytes) -> Bytes.SubSequence? {
        let head = utf8.prefix(digits)
        guard head.count == digits, head.allSatisfy(UUIDText.isLowercaseHexDigit) else { return nil }
        return head
    }
}

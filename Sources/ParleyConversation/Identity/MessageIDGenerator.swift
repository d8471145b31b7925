/// Makes UUIDv7 ids (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit counter that keeps
/// ids of one generator strictly increasing within a millisecond, variant bits, 62 random bits.
/// Rendered as lowercase text so string order equals time order. Pure: time is passed in.
package struct UUIDv7Generator: Sendable {
    private var lastMillis: Int64 = -1
    private var counter: UInt16 = 0

    package init() {}

    package mutating func next(now: Int64, using random: inout some RandomNumberGenerator) -> String {
        var millis = max(now, lastMillis)
        if millis == lastMillis {
            if counter == 0x0FFF {
                millis += 1
                counter = 0
            } else {
                counter += 1
            }
        } else {
            counter = UInt16.random(in: 0..<0x0400, using: &random)
        }
        lastMillis = millis
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: UInt64(millis) >> UInt64(40 - 8 * i)) }
        bytes[6] = 0x70 | UInt8(counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        let tail = random.next() as UInt64
        for i in 0..<8 { bytes[8 + i] = UInt8(truncatingIfNeeded: tail >> UInt64(8 * i)) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUIDText.format(bytes)
    }
}

/// Deterministic ids for imported data: an RFC 9562 version-8 UUID whose bits are the first 16
/// bytes of SHA-256 over a namespace, the owner and the source id. Importing the same source twice
/// yields the same ids; different owners never share ids.
package enum DeterministicID {
    package static func make(namespace: String, owner: String, sourceID: String) -> String {
        var hasher = SHA256()
        for part in [namespace, owner, sourceID] {
            hasher.update(UInt64(part.utf8.count))
            hasher.update(part)
        }
        var bytes = Array(hasher.finalize().prefix(16))
        bytes[6] = 0x80 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return UUIDText.format(bytes)
    }
}

enum UUIDText {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    static func format(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(36)
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for byte in bytes {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `text` looks like one of our ids (36 chars, lowercase hex and dashes); lookups of
    /// anything else answer "not found" without touching the database.
    static func isWellFormed(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard utf8.count == 36 else { return false }
        for (i, c) in utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)) {
                return false
            }
        }
        return true
    }
}

import ParleyProtocol

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

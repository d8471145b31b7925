/// A hybrid logical clock timestamp: wall milliseconds since 1970 in the high 48 bits and a
/// logical counter in the low 16, so it orders like an integer and fits SQLite's INTEGER.
/// Versions of conversation fields are HLC timestamps; the larger one wins a merge.
package struct HLCTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var rawValue: Int64

    package init(rawValue: Int64) { self.rawValue = rawValue }

    package init(milliseconds: Int64, logical: UInt16) {
        self.rawValue = (milliseconds << 16) | Int64(logical)
    }

    /// Wall-clock part, milliseconds since 1970.
    package var milliseconds: Int64 { rawValue >> 16 }
    /// Logical counter part.
    package var logical: UInt16 { UInt16(truncatingIfNeeded: rawValue) }

    /// "Never written": smaller than every real timestamp.
    package static let zero = HLCTimestamp(rawValue: 0)

    package static func < (lhs: HLCTimestamp, rhs: HLCTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }

    package var description: String { "\(milliseconds).\(logical)" }
}

/// The clock state of one node. Pure: time is passed in.
package struct HybridLogicalClock: Sendable {
    package private(set) var last: HLCTimestamp = .zero

    package init() {}

    /// A timestamp for a local event at wall time `now` (ms since 1970): larger than every
    /// timestamp this clock produced or observed before.
    package mutating func tick(now: Int64) -> HLCTimestamp {
        if now > last.milliseconds {
            last = HLCTimestamp(milliseconds: now, logical: 0)
        } else if last.logical == UInt16.max {
            last = HLCTimestamp(milliseconds: last.milliseconds + 1, logical: 0)
        } else {
            last = HLCTimestamp(milliseconds: last.milliseconds, logical: last.logical + 1)
        }
        return last
    }

    /// Takes a timestamp received from another replica into account, so later local ticks order
    /// after it (causality across nodes even when wall clocks disagree).
    package mutating func observe(_ remote: HLCTimestamp, now: Int64) {
        if remote > last { last = remote }
        if now > last.milliseconds { last = HLCTimestamp(milliseconds: now, logical: 0) }
    }
}

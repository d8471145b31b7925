/// A point on a manual test clock: time moves only when a test says so.
struct ManualInstant: InstantProtocol, Hashable, Sendable, CustomStringConvertible {
    var offset: Duration

    static let zero = ManualInstant(offset: .zero)

    func advanced(by duration: Duration) -> ManualInstant { ManualInstant(offset: offset + duration) }
    func duration(to other: ManualInstant) -> Duration { other.offset - offset }
    static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.offset < rhs.offset }

    var description: String { "t+\(offset)" }
}

/// A point of a manual clock: tests create instants and advance them explicitly.
struct ManualInstant: InstantProtocol, CustomStringConvertible {
    var offset: Duration

    static let zero = ManualInstant(offset: .zero)

    func advanced(by duration: Duration) -> ManualInstant { ManualInstant(offset: offset + duration) }
    func duration(to other: ManualInstant) -> Duration { other.offset - offset }
    static func < (lhs: ManualInstant, rhs: ManualInstant) -> Bool { lhs.offset < rhs.offset }

    var description: String { "t+\(offset)" }
}

/// A manual clock's time, advanced by the test.
struct ManualTime {
    private(set) var now = ManualInstant.zero

    mutating func advance(by duration: Duration) { now = now.advanced(by: duration) }
}

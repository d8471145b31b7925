/// A small, fast, seedable random number generator (SplitMix64), so every random choice of the pure
/// state machines (probe order, helpers, gossip partners) is reproducible in tests. Not for cryptography.
package struct SeededRandomNumberGenerator: RandomNumberGenerator, Sendable, Hashable {
    private var state: UInt64

    /// Same seed, same sequence. Production seeds from `UInt64.random(in:)`.
    package init(seed: UInt64) {
        state = seed
    }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@testable import ParleyEngine

/// Builds tensors in ggml's on-disk block layouts from a seeded generator, for kernel tests.
struct SyntheticBlocks {
    var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }

    /// A uniform float in [-1, 1).
    mutating func unit() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }

    mutating func half(_ scale: Float) -> [UInt8] {
        let bits = Float16(abs(unit()) * scale + scale / 10).bitPattern
        return [UInt8(bits & 0xFF), UInt8(bits >> 8)]
    }

    /// `rows` rows of `columns` elements of `type`, random quants and plausible scales.
    mutating func tensor(_ type: GGMLType, rows: Int, columns: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for _ in 0..<rows * columns / type.blockSize {
            switch type {
            case .f32:
                let bits = unit().bitPattern
                bytes += (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
            case .f16:
                let bits = Float16(unit()).bitPattern
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            case .bf16:
                let bits = unit().bitPattern >> 16
                bytes += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            case .q4_0:
                bytes += half(0.02) + (0..<16).map { _ in byte() }
            case .q4_1:
                bytes += half(0.02) + half(0.1).map { $0 } + (0..<16).map { _ in byte() }
                // Make the minimum negative, as real Q4_1 weights have.
                bytes[bytes.count - 17] |= 0x80
            case .q5_0:
                bytes += half(0.02) + (0..<20).map { _ in byte() }
            case .q5_1:
                bytes += half(0.02) + half(-0.3) + (0..<20).map { _ in byte() }
            case .q8_0:
                bytes += half(0.01) + (0..<32).map { _ in UInt8(truncatingIfNeeded: Int8.random(in: -127...127, using: &self)) }
            case .q4_K:
                bytes += half(0.01) + half(0.01) + (0..<12).map { _ in byte() } + (0..<128).map { _ in byte() }
            case .q2_K:
                bytes += (0..<80).map { _ in byte() } + half(0.01) + half(0.01)
            case .q3_K:
                bytes += (0..<108).map { _ in byte() } + half(0.004)
            case .q5_K:
                bytes += half(0.01) + half(0.01) + (0..<12).map { _ in byte() } + (0..<160).map { _ in byte() }
            case .iq4_nl:
                bytes += half(0.0002) + (0..<16).map { _ in byte() }
            case .iq4_xs:
                bytes += half(0.00002) + (0..<134).map { _ in byte() }
            case .q6_K:
                bytes += (0..<192).map { _ in byte() }
                bytes += (0..<16).map { _ in UInt8(truncatingIfNeeded: Int8.random(in: -64...64, using: &self)) }
                bytes += half(0.002)
            }
        }
        return bytes
    }
}

extension SyntheticBlocks: RandomNumberGenerator {}

/// Converts tensor data of any supported ``GGMLType`` to `Float`, block by block.
///
/// This is the plain reference path: straightforward loops that follow ggml's block layouts
/// exactly, meant as ground truth for fast kernels and for loading small tensors (norms,
/// embeddings of one token).
public enum GGMLDequantizer {
    /// Converts `count` elements stored in `bytes`.
    /// - Throws: `.corruptFile` if `count` is not a whole number of blocks or `bytes` is too short.
    public static func dequantize(_ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int) throws -> [Float] {
        guard let needed = type.byteCount(elements: count), needed <= bytes.count else {
            throw EngineError(
                .corruptFile,
                "\(count) \(type) elements do not fit \(bytes.count) bytes (block size \(type.blockSize))"
            )
        }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            dequantize(bytes, type: type, into: UnsafeMutableBufferPointer(rebasing: buffer[0..<count]))
            initialized = count
        }
    }

    /// Converts `output.count` elements (a whole number of blocks, checked by the caller) into `output`.
    public static func dequantize(
        _ bytes: UnsafeRawBufferPointer, type: GGMLType, into output: UnsafeMutableBufferPointer<Float>
    ) {
        let blocks = output.count / type.blockSize
        for block in 0..<blocks {
            let src = UnsafeRawBufferPointer(
                rebasing: bytes[block * type.bytesPerBlock..<(block + 1) * type.bytesPerBlock]
            )
            let dst = UnsafeMutableBufferPointer(
                rebasing: output[block * type.blockSize..<(block + 1) * type.blockSize])
            switch type {
            case .f32: dst[0] = src.loadUnaligned(as: Float.self)
            case .f16: dst[0] = half(src, 0)
            case .bf16: dst[0] = Float(bitPattern: UInt32(src.loadUnaligned(as: UInt16.self)) << 16)
            case .q4_0: q4_0(src, dst)
            case .q4_1: q4_1(src, dst)
            case .q5_0: q5(src, dst, minimum: false)
            case .q5_1: q5(src, dst, minimum: true)
            case .q8_0: q8_0(src, dst)
            case .q2_K: q2_K(src, dst)
            case .q3_K: q3_K(src, dst)
            case .q4_K: q4_K(src, dst)
            case .q5_K: q5_K(src, dst)
            case .q6_K: q6_K(src, dst)
            case .iq4_nl: iq4_nl(src, dst)
            case .iq4_xs: iq4_xs(src, dst)
            }
        }
    }

    /// The f16 at byte offset `at`, widened to Float.
    @inline(__always)
    static func half(_ src: UnsafeRawBufferPointer, _ at: Int) -> Float {
        Float(halfBits: src.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    private static func q4_0(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        for j in 0..<16 {
            let byte = src[2 + j]
            dst[j] = Float(Int(byte & 0x0F) - 8) * d
            dst[j + 16] = Float(Int(byte >> 4) - 8) * d
        }
    }

    /// Q5_0 (`x = (q − 16)·d`) or, with `minimum`, Q5_1 (`x = q·d + m`, m after d).
    private static func q5(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>, minimum: Bool) {
        let d = half(src, 0)
        let fifths = minimum ? 4 : 2
        let high = src.loadUnaligned(fromByteOffset: fifths, as: UInt32.self)
        for j in 0..<16 {
            let (lo, hi) = q5_0Pair(src[fifths + 4 + j], high: high, j)
            if minimum {
                let m = half(src, 2)
                dst[j] = Float(lo + 16) * d + m
                dst[j + 16] = Float(hi + 16) * d + m
            } else {
                dst[j] = Float(lo) * d
                dst[j + 16] = Float(hi) * d
            }
        }
    }

    /// Elements `j` and `j + 16` of a Q5_0 block, centred (−16…15): the low four bits from
    /// `byte`'s nibbles, the fifth from bits `j` and `j + 16` of `high`.
    @inline(__always)
    static func q5_0Pair(_ byte: UInt8, high: UInt32, _ j: Int) -> (Int8, Int8) {
        let fifth0 = UInt8((high >> UInt32(j)) & 1) << 4
        let fifth1 = UInt8((high >> UInt32(j + 16)) & 1) << 4
        return (Int8((byte & 0x0F) | fifth0) - 16, Int8((byte >> 4) | fifth1) - 16)
    }

    private static func q4_1(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        let m = half(src, 2)
        for j in 0..<16 {
            let byte = src[4 + j]
            dst[j] = Float(byte & 0x0F) * d + m
            dst[j + 16] = Float(byte >> 4) * d + m
        }
    }

    private static func q8_0(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        for j in 0..<32 {
            dst[j] = Float(Int8(bitPattern: src[2 + j])) * d
        }
    }

    /// The 6-bit scale and minimum of sub-block `j` (0..<8) from Q4_K's 12 packed scale bytes at `at`.
    @inline(__always)
    static func q4KScaleMin(_ src: UnsafeRawBufferPointer, at: Int, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (src[at + j] & 63, src[at + j + 4] & 63)
        }
        let scale = (src[at + j + 4] & 0x0F) | ((src[at + j - 4] >> 6) << 4)
        let min = (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4)
        return (scale, min)
    }

    private static func q4_K(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        let dmin = half(src, 2)
        let scales = 4
        var qs = 16
        var out = 0
        for pair in 0..<4 {
            let (s1, m1) = q4KScaleMin(src, at: scales, 2 * pair)
            let (s2, m2) = q4KScaleMin(src, at: scales, 2 * pair + 1)
            let d1 = d * Float(s1)
            let min1 = dmin * Float(m1)
            let d2 = d * Float(s2)
            let min2 = dmin * Float(m2)
            for l in 0..<32 { dst[out + l] = d1 * Float(src[qs + l] & 0x0F) - min1 }
            for l in 0..<32 { dst[out + 32 + l] = d2 * Float(src[qs + l] >> 4) - min2 }
            qs += 32
            out += 64
        }
    }

    private static func q6_K(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        var ql = 0
        var qh = 128
        var sc = 192
        let d = half(src, 208)
        var out = 0
        for _ in 0..<2 {
            for l in 0..<32 {
                let group = l / 16
                let h = src[qh + l]
                let q1 = Int((src[ql + l] & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int((src[ql + l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((src[ql + l] >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((src[ql + l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32
                dst[out + l] = d * Float(Int8(bitPattern: src[sc + group])) * Float(q1)
                dst[out + l + 32] = d * Float(Int8(bitPattern: src[sc + group + 2])) * Float(q2)
                dst[out + l + 64] = d * Float(Int8(bitPattern: src[sc + group + 4])) * Float(q3)
                dst[out + l + 96] = d * Float(Int8(bitPattern: src[sc + group + 6])) * Float(q4)
            }
            out += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}

extension Float {
    /// Widens IEEE half-precision bits to a Float (exact for every value, including subnormals,
    /// infinities and NaN), without relying on the platform's `Float16` support.
    @inline(__always)
    init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        let mantissa = UInt32(h & 0x03FF)
        if exponent == 0x1F {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        } else if exponent == 0 {
            // Zero or subnormal: value = mantissa * 2^-24.
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
            self = sign == 0 ? magnitude : -magnitude
        } else {
            self = Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
        }
    }
}

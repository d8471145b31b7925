/// Q2_K, Q3_K and Q5_K: their super-blocks unpacked into plain quants and scales (shared by the
/// dequantizer and the repacking into the kernels' byte format), following ggml's layouts.
extension GGMLDequantizer {
    /// The 256 quants (−4…3) and sixteen scales (−32…31) of a Q3_K super-block: `x = d·s·q` with
    /// `d` the f16 at byte 108 and `s` the scale of each run of 16 elements.
    static func q3KSuperBlock(
        _ src: UnsafeRawBufferPointer, quants q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Int8>
    ) {
        // Twelve bytes hold sixteen 6-bit scales: the low four bits in bytes 0…7 (low then high
        // nibbles), the top two bits in bytes 8…11, two bits per scale.
        let packed = 96
        for i in 0..<16 {
            let low = (src[packed + i % 8] >> (i < 8 ? 0 : 4)) & 0x0F
            let high = (src[packed + 8 + i % 4] >> (2 * (i / 4))) & 0x03
            scales[i] = Int8(low | high << 4) - 32
        }
        // Element 128h + 32j + l (l < 32): bits 2j…2j+1 of byte 32 + 32h + l; the high-bit mask's
        // bit 4h + j of byte l set means +0, clear means −4.
        twoBitQuants(src, at: 32, into: q)
        for h in 0..<2 {
            for j in 0..<4 {
                for l in 0..<32 where src[l] & (1 << (4 * h + j)) == 0 { q[128 * h + 32 * j + l] -= 4 }
            }
        }
    }

    /// The 256 quants (0…3) of a Q2_K super-block: element `128h + 32j + l` (l < 32) is bits
    /// `2j, 2j+1` of byte `16 + 32h + l`. Sub-block `i` (16 elements) has the scale in the low
    /// nibble of byte `i` and the minimum in its high nibble: `x = d·s·q − dmin·m`.
    static func q2KSuperBlock(_ src: UnsafeRawBufferPointer, quants q: UnsafeMutablePointer<Int8>) {
        twoBitQuants(src, at: 16, into: q)
    }

    /// The 256 two-bit fields (0…3) of the 64 bytes at `at`, Q2_K's and Q3_K's order: element
    /// `128h + 32j + l` (l < 32) is bits `2j, 2j+1` of byte `at + 32h + l`.
    private static func twoBitQuants(_ src: UnsafeRawBufferPointer, at: Int, into q: UnsafeMutablePointer<Int8>) {
        for h in 0..<2 {
            for j in 0..<4 {
                for l in 0..<32 { q[128 * h + 32 * j + l] = Int8((src[at + 32 * h + l] >> (2 * j)) & 3) }
            }
        }
    }

    static func q2_K(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 80), dmin = half(src, 82)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { buffer in
            let q = buffer.baseAddress!
            q2KSuperBlock(src, quants: q)
            for i in 0..<256 {
                let sc = src[i / 16]
                dst[i] = d * Float(sc & 0x0F) * Float(q[i]) - dmin * Float(sc >> 4)
            }
        }
    }

    /// The 256 quants (0…31) of a Q5_K super-block; its scales and minimums are Q4_K's
    /// (``q4KScaleMin(_:at:_:)`` at byte 4), `x = d·sc·q − dmin·m` per 32 elements.
    static func q5KSuperBlock(_ src: UnsafeRawBufferPointer, quants q: UnsafeMutablePointer<Int8>) {
        // Element 64p + 32k + l: the low (k = 0) or high (k = 1) nibble of byte 48 + 32p + l, and
        // bit 2p + k of fifth-bit byte 16 + l.
        for p in 0..<4 {
            for l in 0..<32 {
                let byte = src[48 + 32 * p + l], high = src[16 + l]
                q[64 * p + l] = Int8(byte & 0x0F) + ((high >> (2 * p)) & 1 != 0 ? 16 : 0)
                q[64 * p + 32 + l] = Int8(byte >> 4) + ((high >> (2 * p + 1)) & 1 != 0 ? 16 : 0)
            }
        }
    }

    static func q3_K(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 108)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256 + 16) { buffer in
            let q = buffer.baseAddress!, scales = q + 256
            q3KSuperBlock(src, quants: q, scales: scales)
            for i in 0..<256 { dst[i] = d * Float(scales[i / 16]) * Float(q[i]) }
        }
    }

    static func q5_K(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0), dmin = half(src, 2)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { buffer in
            let q = buffer.baseAddress!
            q5KSuperBlock(src, quants: q)
            for sub in 0..<8 {
                let (sc, m) = q4KScaleMin(src, at: 4, sub)
                let scale = d * Float(sc), min = dmin * Float(m)
                for l in 0..<32 { dst[32 * sub + l] = scale * Float(q[32 * sub + l]) - min }
            }
        }
    }
}

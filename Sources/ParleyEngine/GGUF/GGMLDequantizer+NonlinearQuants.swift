extension GGMLDequantizer {
    /// The sixteen levels a 4-bit index of IQ4_NL and IQ4_XS stands for (ggml's `kvalues_iq4nl`):
    /// denser near zero, where most weights are. (The VNNI kernels hold them + 128 in a table of
    /// their own, `nonlinear_chunk` in VNNIKernels.c.)
    static let nonlinearLevels: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

    /// The 32 indices (0…15) of a block whose nibbles start at `at` (elements 0…15 in the low
    /// nibbles of the sixteen bytes, 16…31 in the high ones), written to `indices`.
    @inline(__always)
    static func nibbleIndices(_ src: UnsafeRawBufferPointer, at: Int, into indices: UnsafeMutablePointer<Int8>) {
        for j in 0..<16 {
            let byte = src[at + j]
            indices[j] = Int8(byte & 0x0F)
            indices[j + 16] = Int8(byte >> 4)
        }
    }

    /// The levels of the 32 indices of a block whose nibbles start at `at`, written to `levels`.
    @inline(__always)
    static func nonlinearBlock(_ src: UnsafeRawBufferPointer, at: Int, into levels: UnsafeMutablePointer<Int8>) {
        nibbleIndices(src, at: at, into: levels)
        for j in 0..<32 { levels[j] = nonlinearLevels[Int(levels[j])] }
    }

    /// The scale of sub-block `j` (0..<8) of an IQ4_XS super-block, −32…31: its low four bits from
    /// the nibbles at bytes 4…7, its high two from the 16 bits at byte 2, minus 32.
    @inline(__always)
    static func iq4XSScale(_ src: UnsafeRawBufferPointer, _ j: Int) -> Int8 {
        let low = (src[4 + j / 2] >> (4 * UInt8(j % 2))) & 0x0F
        let high = UInt8((src.loadUnaligned(fromByteOffset: 2, as: UInt16.self) >> (2 * UInt16(j))) & 3)
        return Int8(low | high << 4) - 32
    }

    static func iq4_nl(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { levels in
            nonlinearBlock(src, at: 2, into: levels.baseAddress!)
            for j in 0..<32 { dst[j] = d * Float(levels[j]) }
        }
    }

    static func iq4_xs(_ src: UnsafeRawBufferPointer, _ dst: UnsafeMutableBufferPointer<Float>) {
        let d = half(src, 0)
        withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { levels in
            for sub in 0..<8 {
                let dl = d * Float(iq4XSScale(src, sub))
                nonlinearBlock(src, at: 8 + 16 * sub, into: levels.baseAddress!)
                for j in 0..<32 { dst[32 * sub + j] = dl * Float(levels[j]) }
            }
        }
    }
}

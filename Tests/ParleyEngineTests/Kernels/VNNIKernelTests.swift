import Testing

@testable import ParleyEngine

/// The VNNI kernels (`CParleyKernels`) against the portable Swift kernels: equal bit for bit for
/// every weight format, tile shape (groups of eight interleaved vectors, then one to four vectors)
/// and edge value, and the override that picks the portable kernels.
@Suite struct VNNIKernelTests {
    static let types: [GGMLType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs]

    /// Vector counts covering every tile: 1…4 vectors alone, groups of eight, and groups of eight
    /// followed by each tail length.
    static let counts = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 16, 23]

    @Test(.enabled(if: KernelPath.cpuSupportsVNNI, "needs AVX-512 VNNI"), arguments: types)
    func vnniEqualsPortableBitForBit(type: GGMLType) throws {
        let rows = 37, columns = type.blockSize == 256 ? 512 : 160
        var gen = SyntheticBlocks(seed: 11)
        let bytes = Self.withEdgeBlocks(gen.tensor(type, rows: rows, columns: columns), type: type)
        let w = try bytes.withUnsafeBytes { try WeightMatrix(repacking: $0, type: type, rows: rows, columns: columns) }
        for count in Self.counts {
            let x = Self.activations(count: count, width: columns, gen: &gen)
            // Q8_0 and Q8_1 activations, and Q8_K's (one scale per 256) for the super-block types.
            let schemes = [(false, false), (true, false)] + (type.hasSuperBlocks ? [(false, true)] : [])
            for (roundSums, superBlocks) in schemes {
                let q = QuantizedActivations()
                x.withUnsafeBufferPointer {
                    q.quantize(
                        $0.baseAddress!, count: count, stride: columns, width: columns, format: w.format, roundSums: roundSums,
                        superBlocks: superBlocks)
                }
                let portable = Self.product(w, q, path: .portable), vnni = Self.product(w, q, path: .vnni)
                let mismatches = (0..<portable.count).filter { portable[$0].bitPattern != vnni[$0].bitPattern }
                #expect(
                    mismatches.count == 0,
                    "\(type) \(count) vectors (Q8_K \(superBlocks)): \(mismatches.count) differ, first at \(mismatches.first.map { "vector \($0 / rows) row \($0 % rows): \(portable[$0]) vs \(vnni[$0])" } ?? "")")
                #expect(!portable.contains { $0.isNaN })
            }
        }
    }

    /// The byte kernel's corrections: −128 × the sum of each half block's quants, in both layouts;
    /// and the quants stay within ±127 (where both byte kernels compute the exact products).
    @Test func byteCorrectionsAreTheHalfBlockSums() {
        var gen = SyntheticBlocks(seed: 12)
        let count = 11, width = 96, blocks = 3
        let x = Self.activations(count: count, width: width, gen: &gen)
        let q = QuantizedActivations()
        x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, count: count, stride: width, width: width, format: .byte) }
        #expect((0..<count * width).allSatisfy { q.quants[$0] >= -127 })
        #expect((0..<count * width).contains { q.quants[$0] == -127 } && (0..<count * width).contains { q.quants[$0] == 127 })
        for v in 0..<count {
            for b in 0..<blocks {
                for h in 0..<2 {
                    let start = v * width + 32 * b + 16 * h
                    let expected = -128 * (start..<start + 16).map { Int32(q.quants[$0]) }.reduce(0, +)
                    #expect(q.corrections[(v * blocks + b) * 2 + h] == expected, "vector \(v) block \(b) half \(h)")
                    if v < 8 {
                        #expect(q.interleavedCorrections[(b * 2 + h) * 8 + v] == expected, "interleaved vector \(v)")
                    }
                }
            }
        }
    }

    @Test func theOverrideSelectsThePortableKernels() {
        #expect(KernelPath.resolve(override: "portable", cpuSupportsVNNI: true) == .portable)
        #expect(KernelPath.resolve(override: "PORTABLE", cpuSupportsVNNI: true) == .portable)
        #expect(KernelPath.resolve(override: nil, cpuSupportsVNNI: true) == .vnni)
        #expect(KernelPath.resolve(override: "vnni", cpuSupportsVNNI: true) == .vnni)
        #expect(KernelPath.resolve(override: nil, cpuSupportsVNNI: false) == .portable)
        #expect(KernelPath.resolve(override: "vnni", cpuSupportsVNNI: false) == .portable)
        #expect(KernelPath.available.contains(.portable))
        #expect(KernelPath.available.contains(.vnni) == KernelPath.cpuSupportsVNNI)
    }

    /// `W · x` on one thread with the kernels of `path`.
    static func product(_ w: WeightMatrix, _ q: QuantizedActivations, path: KernelPath) -> [Float] {
        var out = [Float](repeating: .nan, count: q.count * w.rows)
        out.withUnsafeMutableBufferPointer { MatMul.rowRange(w, q, 0..<w.rows, $0.baseAddress!, w.rows, path: path) }
        return out
    }

    /// Activations whose blocks include the extremes: a block that quantizes to ±127 throughout, an
    /// all-zero block (scale 0), a single spike (±127 among zeros), and random blocks.
    static func activations(count: Int, width: Int, gen: inout SyntheticBlocks) -> [Float] {
        var x = (0..<count * width).map { _ in gen.unit() * 4 }
        for v in 0..<count {
            for b in 0..<width / 32 {
                let block = v * width + 32 * b
                switch (v + b) % 5 {
                case 0: for i in 0..<32 { x[block + i] = i % 2 == 0 ? 3 : -3 }
                case 1: for i in 0..<32 { x[block + i] = 0 }
                case 2: for i in 0..<32 { x[block + i] = i == 7 ? -5 : 0 }
                case 3: for i in 0..<32 { x[block + i] = -2 }
                default: break
                }
            }
        }
        return x
    }

    /// `bytes` with some blocks set to extreme quants (all −128, all 127, alternating; nibbles all
    /// 0 or all 15; the extreme levels and sub-scales) and some scales set to zero.
    static func withEdgeBlocks(_ bytes: [UInt8], type: GGMLType) -> [UInt8] {
        var bytes = bytes
        let size = type.bytesPerBlock
        for block in 0..<bytes.count / size {
            let at = block * size
            switch type {
            case .q8_0:
                switch block % 6 {
                case 0: for i in 2..<34 { bytes[at + i] = 0x80 }
                case 1: for i in 2..<34 { bytes[at + i] = 0x7F }
                case 2: for i in 2..<34 { bytes[at + i] = i % 2 == 0 ? 0x80 : 0x7F }
                case 3: bytes[at] = 0; bytes[at + 1] = 0
                default: break
                }
            case .q4_0, .q4_1:
                let quants = type == .q4_0 ? 2 : 4
                switch block % 5 {
                case 0: for i in quants..<size { bytes[at + i] = 0xFF }
                case 1: for i in quants..<size { bytes[at + i] = 0x00 }
                case 2: for i in quants..<size { bytes[at + i] = 0x0F }
                case 3: bytes[at] = 0; bytes[at + 1] = 0
                default: break
                }
            case .q5_0, .q5_1:
                let quants = type == .q5_0 ? 2 : 4  // the fifth bits, then the nibbles
                switch block % 4 {
                case 0: for i in quants..<size { bytes[at + i] = 0xFF }  // 15 (Q5_0) or 31
                case 1: for i in quants..<size { bytes[at + i] = 0x00 }  // −16 or 0
                case 2: for i in quants..<size { bytes[at + i] = i % 2 == 0 ? 0xFF : 0x00 }
                default: bytes[at] = 0; bytes[at + 1] = 0
                }
            case .iq4_nl:
                if block % 4 == 0 { for i in 2..<18 { bytes[at + i] = 0x00 } }  // levels −127
                if block % 4 == 1 { for i in 2..<18 { bytes[at + i] = 0xFF } }  // levels 113
                if block % 4 == 2 { for i in 2..<18 { bytes[at + i] = 0xF0 } }  // −127 and 113
                if block % 4 == 3 { bytes[at] = 0; bytes[at + 1] = 0 }
            case .iq4_xs:
                if block % 3 == 0 { for i in 2..<136 { bytes[at + i] = 0x00 } }  // levels −127, scales −32
                if block % 3 == 1 { for i in 2..<136 { bytes[at + i] = 0xFF } }  // levels 113, scales 31
                if block % 3 == 2 { bytes[at] = 0; bytes[at + 1] = 0 }
            case .q4_K:
                if block % 3 == 0 { for i in 16..<144 { bytes[at + i] = 0xFF } }
                if block % 3 == 1 { bytes[at] = 0; bytes[at + 1] = 0 }
            case .q2_K:
                if block % 3 == 0 { for i in 0..<80 { bytes[at + i] = 0xFF } }  // quants 3, scales and minimums 15
                if block % 3 == 1 { for i in 16..<80 { bytes[at + i] = 0x00 } }  // quants 0
                if block % 3 == 2 { bytes[at + 80] = 0; bytes[at + 81] = 0 }
            case .q3_K:
                if block % 3 == 0 { for i in 0..<96 { bytes[at + i] = 0xFF } }  // quants 3
                if block % 3 == 1 { for i in 0..<96 { bytes[at + i] = 0x00 } }  // quants −4
                if block % 3 == 2 { for i in 96..<108 { bytes[at + i] = 0xFF } }  // scales 31
            case .q5_K:
                if block % 3 == 0 { for i in 16..<176 { bytes[at + i] = 0xFF } }  // quants 31
                if block % 3 == 1 { bytes[at] = 0; bytes[at + 1] = 0 }
            case .q6_K:
                if block % 3 == 0 { for i in 0..<192 { bytes[at + i] = 0xFF } }  // quants 31 (and 127 sub-scales below)
                if block % 3 == 1 { for i in 0..<192 { bytes[at + i] = 0x00 } }  // quants −32
                if block % 3 == 0 { for i in 192..<208 { bytes[at + i] = 0x7F } }
                if block % 3 == 2 { for i in 192..<208 { bytes[at + i] = 0x80 } }  // sub-scales −128
            default: break
            }
        }
        return bytes
    }
}

import Dispatch

extension WeightMatrix {
    /// The kernel layout a GGUF tensor type is repacked into.
    static func format(for type: GGMLType) -> Format {
        switch type {
        case .q4_0, .q4_1, .q4_K: .nibble
        case .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs: .byte
        case .f32, .f16, .bf16: .float
        }
    }

    /// Repacks `rows` rows of `columns` elements of `type` stored in ggml's layout in `bytes`;
    /// `dequantized` stores every type as float rows (the float format).
    ///
    /// The values are exactly those of ``GGMLDequantizer`` (scales are widened from f16 and, for the
    /// super-block types, multiplied by their 4- to 8-bit sub-scales, which is exact in `Float`; those
    /// keep their sub-scales as codes, see ``ScaleEncoding/coded``).
    /// - Throws: `.corruptFile` if `bytes` is shorter than the tensor or a row is not whole blocks.
    convenience init(
        repacking bytes: UnsafeRawBufferPointer, type: GGMLType, rows: Int, columns: Int, dequantized: Bool = false
    ) throws {
        guard columns % type.blockSize == 0, let rowBytes = type.byteCount(elements: columns),
            rows * rowBytes <= bytes.count
        else {
            throw EngineError(.corruptFile, "a \(rows)×\(columns) \(type) tensor does not fit \(bytes.count) bytes")
        }
        if type != .f32 && type != .f16 && type != .bf16 && columns % 32 != 0 {
            throw EngineError(.corruptFile, "row length \(columns) is not a multiple of 32")
        }
        self.init(
            format: dequantized ? .float : Self.format(for: type), rows: rows, columns: columns, sourceType: type,
            scaleEncoding: type.hasSuperBlocks ? .coded : Self.scalesFitHalf(bytes, type: type, blocks: rows * columns / 32) ? .half : .float)
        guard let base = bytes.baseAddress else { return }
        // Runs of 64 rows (whole row groups, whose bytes no other run touches) on every core.
        // (The file's bytes stay mapped and unchanged while this runs; passed as an address.)
        let runs = (rows + 63) / 64, address = UInt(bitPattern: base)
        DispatchQueue.concurrentPerform(iterations: runs) { run in
            let source = UnsafeRawPointer(bitPattern: address)!
            for row in 64 * run..<min(rows, 64 * run + 64) {
                repackRow(row, from: source + row * rowBytes, type: type)
            }
        }
    }

    /// Whether every repacked scale and offset of the tensor is exactly an f16: true for Q4_1, Q5_0,
    /// Q5_1, Q8_0 and IQ4_NL (their scales are f16 in the file), and for Q4_0 unless `-8·d` overflows f16.
    private static func scalesFitHalf(_ bytes: UnsafeRawBufferPointer, type: GGMLType, blocks: Int) -> Bool {
        switch type {
        case .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl: return true
        case .q4_0:
            guard let base = bytes.baseAddress else { return true }
            return (0..<blocks).allSatisfy { b in
                abs(Float(halfBits: base.loadUnaligned(fromByteOffset: b * 18, as: UInt16.self))) <= 4096
            }
        default: return false
        }
    }

    private func repackRow(_ row: Int, from src: UnsafeRawPointer, type: GGMLType) {
        if format == .float {
            let dst = (quants + row * groupStride).assumingMemoryBound(to: Float.self)
            GGMLDequantizer.dequantize(
                UnsafeRawBufferPointer(start: src, count: type.byteCount(elements: columns)!), type: type,
                into: UnsafeMutableBufferPointer(start: dst, count: columns))
            return
        }
        switch type {
        case .f32, .f16, .bf16:
            preconditionFailure("float types are repacked in the float format")
        case .q4_0, .q4_1:
            let blockBytes = type.bytesPerBlock
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
                for block in 0..<columns / 32 {
                    let b = src + block * blockBytes
                    let d = Float(halfBits: b.loadUnaligned(as: UInt16.self))
                    let m = type == .q4_1 ? Float(halfBits: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : -8 * d
                    let qs = b + (type == .q4_1 ? 4 : 2)
                    for j in 0..<16 {
                        let byte = qs.load(fromByteOffset: j, as: UInt8.self)
                        q[j] = byte & 0x0F
                        q[j + 16] = byte >> 4
                    }
                    setNibbleBlock(row: row, block: block, quants: q.baseAddress!, scale: d, offset: m)
                }
            }
        case .q4_K:
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
                for superBlock in 0..<columns / 256 {
                    let b = src + superBlock * 144
                    let raw = UnsafeRawBufferPointer(start: b, count: 144)
                    let d = Float16(bitPattern: b.loadUnaligned(as: UInt16.self))
                    let dmin = Float16(bitPattern: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                    setSuperBlock(row: row, superBlock: superBlock, scale: d, offset: -dmin)
                    for sub in 0..<8 {
                        let (sc, mn) = GGMLDequantizer.q4KScaleMin(raw, at: 4, sub)
                        let qs = b + 16 + (sub / 2) * 32
                        let high = sub % 2 == 1
                        for l in 0..<32 {
                            let byte = qs.load(fromByteOffset: l, as: UInt8.self)
                            q[l] = high ? byte >> 4 : byte & 0x0F
                        }
                        setCodedNibbleBlock(
                            row: row, block: superBlock * 8 + sub, quants: q.baseAddress!, scaleCode: Int8(sc),
                            offsetCode: Int8(mn))
                    }
                }
            }
        case .q8_0:
            for block in 0..<columns / 32 {
                let b = src + block * 34
                let d = Float(halfBits: b.loadUnaligned(as: UInt16.self))
                setByteBlock(
                    row: row, block: block, quants: (b + 2).assumingMemoryBound(to: Int8.self), scale0: d, scale1: d)
            }
        case .q5_0, .q5_1:
            // Q5_0: centred values (−16…15) with the block's scale; Q5_1: values 0…31 with the
            // block's scale and its minimum as the block's offset (like Q5_K). Stored packed.
            let minimum = type == .q5_1, blockBytes = type.bytesPerBlock
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
                for block in 0..<columns / 32 {
                    let b = src + block * blockBytes
                    let d = Float(halfBits: b.loadUnaligned(as: UInt16.self))
                    let m = minimum ? Float(halfBits: b.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) : 0
                    let fifths = minimum ? 4 : 2, bias: Int8 = minimum ? 16 : 0
                    let high = b.loadUnaligned(fromByteOffset: fifths, as: UInt32.self)
                    for j in 0..<16 {
                        let (lo, hi) = GGMLDequantizer.q5_0Pair(b.load(fromByteOffset: fifths + 4 + j, as: UInt8.self), high: high, j)
                        (q[j], q[j + 16]) = (lo + bias, hi + bias)
                    }
                    setByteBlock(row: row, block: block, quants: q.baseAddress!, scale0: d, scale1: d, offset: m)
                }
            }
        case .iq4_nl:
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
                for block in 0..<columns / 32 {
                    let raw = UnsafeRawBufferPointer(start: src + block * 18, count: 18)
                    let d = GGMLDequantizer.half(raw, 0)
                    GGMLDequantizer.nibbleIndices(raw, at: 2, into: q.baseAddress!)
                    setByteBlock(row: row, block: block, quants: q.baseAddress!, scale0: d, scale1: d)
                }
            }
        case .iq4_xs:
            // The sub-scales (−32…31) are codes of the super-block's d.
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 32) { q in
                for superBlock in 0..<columns / 256 {
                    let raw = UnsafeRawBufferPointer(start: src + superBlock * 136, count: 136)
                    setSuperBlock(row: row, superBlock: superBlock, scale: Float16(GGMLDequantizer.half(raw, 0)))
                    for sub in 0..<8 {
                        let code = GGMLDequantizer.iq4XSScale(raw, sub)
                        GGMLDequantizer.nibbleIndices(raw, at: 8 + 16 * sub, into: q.baseAddress!)
                        setCodedByteBlock(
                            row: row, block: superBlock * 8 + sub, quants: q.baseAddress!, scaleCodes: (code, code))
                    }
                }
            }
        case .q2_K:
            // Quants 0…3; each half block has its own scale and minimum (4-bit codes of d and −dmin).
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { buffer in
                let q = buffer.baseAddress!
                for superBlock in 0..<columns / 256 {
                    let raw = UnsafeRawBufferPointer(start: src + superBlock * 84, count: 84)
                    let d = Float16(GGMLDequantizer.half(raw, 80)), dmin = Float16(GGMLDequantizer.half(raw, 82))
                    setSuperBlock(row: row, superBlock: superBlock, scale: d, offset: -dmin)
                    GGMLDequantizer.q2KSuperBlock(raw, quants: q)
                    for block in 0..<8 {
                        let s0 = raw[2 * block], s1 = raw[2 * block + 1]
                        setCodedByteBlock(
                            row: row, block: superBlock * 8 + block, quants: q + block * 32,
                            scaleCodes: (Int8(s0 & 0x0F), Int8(s1 & 0x0F)), offsetCodes: (Int8(s0 >> 4), Int8(s1 >> 4)))
                    }
                }
            }
        case .q3_K:
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256 + 16) { buffer in
                let q = buffer.baseAddress!, s = q + 256
                for superBlock in 0..<columns / 256 {
                    let raw = UnsafeRawBufferPointer(start: src + superBlock * 110, count: 110)
                    setSuperBlock(row: row, superBlock: superBlock, scale: Float16(GGMLDequantizer.half(raw, 108)))
                    GGMLDequantizer.q3KSuperBlock(raw, quants: q, scales: s)
                    for block in 0..<8 {
                        setCodedByteBlock(
                            row: row, block: superBlock * 8 + block, quants: q + block * 32,
                            scaleCodes: (s[2 * block], s[2 * block + 1]))
                    }
                }
            }
        case .q5_K:
            // Quants 0…31 with the sub-block's scale, and its minimum as the block's offset.
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { buffer in
                let q = buffer.baseAddress!
                for superBlock in 0..<columns / 256 {
                    let raw = UnsafeRawBufferPointer(start: src + superBlock * 176, count: 176)
                    let d = Float16(GGMLDequantizer.half(raw, 0)), dmin = Float16(GGMLDequantizer.half(raw, 2))
                    setSuperBlock(row: row, superBlock: superBlock, scale: d, offset: -dmin)
                    GGMLDequantizer.q5KSuperBlock(raw, quants: q)
                    for sub in 0..<8 {
                        let (sc, m) = GGMLDequantizer.q4KScaleMin(raw, at: 4, sub)
                        setCodedByteBlock(
                            row: row, block: superBlock * 8 + sub, quants: q + sub * 32,
                            scaleCodes: (Int8(sc), Int8(sc)), offsetCodes: (Int8(m), Int8(m)))
                    }
                }
            }
        case .q6_K:
            withUnsafeTemporaryAllocation(of: Int8.self, capacity: 256) { q in
                for superBlock in 0..<columns / 256 {
                    let b = src + superBlock * 210
                    setSuperBlock(
                        row: row, superBlock: superBlock, scale: Float16(bitPattern: b.loadUnaligned(fromByteOffset: 208, as: UInt16.self)))
                    for half in 0..<2 {
                        let ql = b + half * 64, qh = b + 128 + half * 32
                        for l in 0..<32 {
                            let h = qh.load(fromByteOffset: l, as: UInt8.self)
                            let lo0 = ql.load(fromByteOffset: l, as: UInt8.self)
                            let lo1 = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                            let o = half * 128
                            q[o + l] = Int8((lo0 & 0x0F) | ((h & 3) << 4)) - 32
                            q[o + l + 32] = Int8((lo1 & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                            q[o + l + 64] = Int8((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32
                            q[o + l + 96] = Int8((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32
                        }
                    }
                    for block in 0..<8 {
                        setCodedByteBlock(
                            row: row, block: superBlock * 8 + block, quants: q.baseAddress! + block * 32,
                            scaleCodes: (
                                b.load(fromByteOffset: 192 + 2 * block, as: Int8.self),
                                b.load(fromByteOffset: 193 + 2 * block, as: Int8.self)
                            ))
                    }
                }
            }
        }
    }
}

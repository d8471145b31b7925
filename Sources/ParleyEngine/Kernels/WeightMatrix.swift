/// A weight matrix repacked at load time into one of three layouts the SIMD kernels read.
///
/// The quantized formats store rows in groups of eight (``rows`` is padded with zero rows), block
/// by block, so that one 32-byte vector holds four consecutive quants of each of the eight rows,
/// row `r` in 32-bit lane `r` (see ``DotKernels``):
/// - ``Format/nibble``: 4-bit quants (Q4_0, Q4_1, Q4_K). Each 32-element block has a float scale
///   `d` and offset `m` (`w = d·q + m`). A group's block takes 128 bytes: byte `32k + 4r + j`
///   (k, j = 0…3) holds element `4k + j` of row `r` in its low nibble and element `16 + 4k + j` in
///   its high nibble. Scales and offsets: eight per block (one per row).
/// - ``Format/byte``: quants of up to 8 bits (Q8_0, Q6_K, Q5_0, Q5_1, Q5_K, Q3_K, Q2_K, IQ4_NL,
///   IQ4_XS), `w = s·q` with one scale per 32 elements, or per 16 (Q2_K, Q3_K, Q6_K; ``scalesPerBlock``).
///   8-bit quants: a group's block takes 256 bytes: byte `128h + 32k + 4r + j` (h = 0, 1) holds
///   element `16h + 4k + j` of row `r`. Scales: eight per block (one per row), or sixteen (eight rows
///   of the first half, then of the second). Q5_1, Q5_K and Q2_K add an offset per scale
///   (``hasByteOffsets``): `w = s·q + m`, its term `m · Σ activations` added after the kernels
///   (``MatMul``). The other types keep their bits (``packedBits``, `32 · bits` bytes per block),
///   `q + quantBias` split into a base and a plane of high bits. The base: for 4 bits and more, a
///   nibble block of the low four bits as the nibble format lays it out (elements 0…15 low, 16…31
///   high nibbles; 128 bytes); for 2 and 3 bits, a plane of the low two (64 bytes: bits `2k, 2k+1` of
///   byte `32h + 4r + j` are those of element `16h + 4k + j` of row `r`). The high plane follows: six
///   bits, another such two-bit plane; five and three bits, 32 bytes with bit `4h + k` of byte
///   `4r + j`. IQ4_NL's and IQ4_XS's quants are their 4-bit indices into the non-linear levels
///   (``hasNonlinearLevels``), the nibble block alone.
/// - ``Format/float``: F32, F16 and BF16 widened to `Float`, row after row.
///
/// Scales and offsets are stored as compactly as is exact (see ``ScaleEncoding``): f16 where they
/// come from f16, and for the super-block types (the K-quants, IQ4_XS) as their 4- to 8-bit codes
/// with an f16 multiplier per super-block of 256 elements and row, as the file holds them — the share of scales in the bytes a
/// decode step reads. The matrix has ``rows`` rows of ``columns`` elements (ggml's `ne[1]` and `ne[0]`).
/// `@unchecked Sendable`: the buffers are written only in `init` and read-only afterwards.
final class WeightMatrix: @unchecked Sendable {
    /// The memory layout of the quants.
    enum Format: Sendable { case nibble, byte, float }

    /// How the quantized formats store their scales and offsets. Every encoding yields the same
    /// `Float` values the dequantizer computes.
    enum ScaleEncoding: Sendable {
        /// One f32 per scale.
        case float
        /// One f16 per scale (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL: their scales are f16 in the file).
        case half
        /// The K-quants and IQ4_XS: an Int8 code per scale (their 4- to 8-bit sub-scales and
        /// minimums) and one f16 multiplier per super-block (8 blocks) and row in ``superScales`` / ``superOffsets``
        /// (`d` and `−dmin`); a scale is `Float(code) · Float(multiplier)`, exact in `Float`.
        case coded

        /// Bytes per stored scale or offset.
        var byteCount: Int {
            switch self {
            case .float: 4
            case .half: 2
            case .coded: 1
            }
        }
    }

    /// Rows per group of the quantized formats.
    static let groupRows = 8
    /// Blocks per super-block of the ``ScaleEncoding/coded`` scales (256 elements).
    static let superBlockBlocks = 8

    let format: Format
    /// Number of output rows.
    let rows: Int
    /// Elements per row (the input width).
    let columns: Int
    /// ``columns`` rounded up to the kernel's granule (32 quantized, 1 float).
    let paddedColumns: Int
    /// The type the tensor had in the file.
    let sourceType: GGMLType
    /// Quantized formats: 32-element blocks per row.
    let blocksPerRow: Int
    /// Bytes of quants per row group (quantized formats) or per row (float).
    let groupStride: Int
    /// Scales per row group (``scalesPerBlock`` per block; float: none).
    let scalesPerGroup: Int
    /// Scales per block of a row group: one per row (8), or per row and half block (16: Q2_K, Q3_K,
    /// Q6_K — the packed types of 6, 3 and 2 bits, which is how the VNNI kernels tell).
    let scalesPerBlock: Int
    /// ``ScaleEncoding/coded``: what turns a scale's index into its super-block (a right shift by
    /// 6 for 64 scales per super-block and row group, by 7 for 128; see ``DotKernels/CodedScales``).
    var codedIndexShift: Int { scalesPerBlock == 16 ? 7 : 6 }
    /// How ``scales`` and ``offsets`` are stored.
    let scaleEncoding: ScaleEncoding
    let quants: UnsafeMutableRawPointer
    /// Per-block scales (see ``scaleEncoding``).
    let scales: UnsafeMutableRawPointer
    /// Nibble format, and byte format with ``hasByteOffsets``: the offsets `m`, eight per block (one
    /// per row) in the nibble format, laid out as the scales in the byte format.
    let offsets: UnsafeMutableRawPointer
    /// ``ScaleEncoding/coded`` only: the f16 multipliers of the scale codes, ``superScalesPerGroup``
    /// per row group (super-block `s`, row `r` at `8s + r`).
    let superScales: UnsafeMutableRawPointer
    /// ``ScaleEncoding/coded`` with offsets: the multipliers of the offset codes, laid out like
    /// ``superScales``.
    let superOffsets: UnsafeMutableRawPointer
    /// Multipliers per row group in ``superScales`` and ``superOffsets`` (one per super-block and row).
    var superScalesPerGroup: Int { scaleEncoding == .coded ? blocksPerRow / Self.superBlockBlocks * Self.groupRows : 0 }
    /// Whether the byte format's blocks have offsets (Q5_1's, Q5_K's and Q2_K's minimums).
    let hasByteOffsets: Bool
    /// Byte format only: bits stored per quant, 8, 6 (Q6_K), 5 (Q5_0, Q5_1, Q5_K), 4 (IQ4_NL, IQ4_XS:
    /// indices into ``GGMLDequantizer/nonlinearLevels``), 3 (Q3_K) or 2 (Q2_K; see ``Format/byte``).
    let packedBits: Int
    /// Whether the byte format's quants are 4-bit indices into the non-linear levels (IQ4_NL, IQ4_XS;
    /// the only types stored in 4 bits).
    var hasNonlinearLevels: Bool { packedBits == 4 }
    /// Packed quants: what is added to a quant before it is stored (32 for Q6_K's −32…31, 16 for
    /// Q5_0's −16…15, 4 for Q3_K's −4…3, 0 for the unsigned quants of Q5_1, Q5_K and Q2_K).
    let quantBias: Int
    /// Offsets per row group: eight per block in the nibble format, one per scale in the byte format
    /// with ``hasByteOffsets``, else none.
    let offsetsPerGroup: Int
    /// The kernels' constants, kept in memory on purpose (see ``DotKernels/Constants``).
    let constants: UnsafeMutablePointer<DotKernels.Constants>

    /// Row groups (quantized) or rows (float) stored.
    private var storedGroups: Int { format == .float ? rows : (rows + Self.groupRows - 1) / Self.groupRows }

    /// Bytes one full pass over the matrix reads (quants and scales).
    var byteCount: Int {
        let multipliers = superScalesPerGroup * (offsetsPerGroup > 0 ? 2 : 1) * 2
        return storedGroups * (groupStride + (scalesPerGroup + offsetsPerGroup) * scaleBytes + multipliers)
    }

    /// Bytes per stored scale or offset.
    var scaleBytes: Int { scaleEncoding.byteCount }

    /// - Parameter scaleEncoding: ``ScaleEncoding/coded`` needs whole super-blocks (columns a
    ///   multiple of 256); the float format ignores it.
    init(format: Format, rows: Int, columns: Int, sourceType: GGMLType, scaleEncoding: ScaleEncoding = .float) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.sourceType = sourceType
        self.scaleEncoding = format == .float ? .float : scaleEncoding
        precondition(self.scaleEncoding != .coded || columns % 256 == 0, "coded scales need whole super-blocks")
        hasByteOffsets = format == .byte && [.q5_K, .q5_1, .q2_K].contains(sourceType)
        switch (format, sourceType) {
        case (.byte, .q6_K): (packedBits, quantBias) = (6, 32)
        case (.byte, .q5_0): (packedBits, quantBias) = (5, 16)
        case (.byte, .q5_1), (.byte, .q5_K): (packedBits, quantBias) = (5, 0)
        case (.byte, .iq4_nl), (.byte, .iq4_xs): (packedBits, quantBias) = (4, 0)
        case (.byte, .q3_K): (packedBits, quantBias) = (3, 4)
        case (.byte, .q2_K): (packedBits, quantBias) = (2, 0)
        default: (packedBits, quantBias) = (8, 0)
        }
        scalesPerBlock = format == .byte && [.q2_K, .q3_K, .q6_K].contains(sourceType) ? 16 : 8
        precondition(format != .byte || (scalesPerBlock == 16) == [6, 3, 2].contains(packedBits), "as the VNNI kernels assume")
        switch format {
        case .nibble:
            paddedColumns = (columns + 31) / 32 * 32
            blocksPerRow = paddedColumns / 32
            groupStride = blocksPerRow * 128
            scalesPerGroup = blocksPerRow * 8
        case .byte:
            paddedColumns = (columns + 31) / 32 * 32
            blocksPerRow = paddedColumns / 32
            groupStride = blocksPerRow * 32 * packedBits  // 256, 192, 160, 128, 96 or 64 bytes per block
            scalesPerGroup = blocksPerRow * scalesPerBlock
        case .float:
            paddedColumns = columns
            blocksPerRow = 0
            groupStride = columns * 4
            scalesPerGroup = 0
        }
        let groups = format == .float ? rows : (rows + Self.groupRows - 1) / Self.groupRows
        let quantBytes = max(groups * groupStride, 64)
        quants = UnsafeMutableRawPointer.allocate(byteCount: quantBytes, alignment: 64)
        quants.initializeMemory(as: UInt8.self, repeating: 0, count: quantBytes)
        func zeroed(_ bytes: Int) -> UnsafeMutableRawPointer {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 64)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes, 1))
            return p
        }
        let scaleBytes = self.scaleEncoding.byteCount
        scales = zeroed(groups * scalesPerGroup * scaleBytes)
        offsetsPerGroup = format == .nibble ? blocksPerRow * 8 : hasByteOffsets ? scalesPerGroup : 0
        offsets = zeroed(groups * offsetsPerGroup * scaleBytes)
        let multipliers = self.scaleEncoding == .coded ? groups * blocksPerRow * 2 : 0  // f16, as ``superScalesPerGroup``
        superScales = zeroed(multipliers)
        superOffsets = zeroed(offsetsPerGroup > 0 ? multipliers : 0)
        constants = .allocate(capacity: 1)
        constants.initialize(to: DotKernels.Constants())
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        offsets.deallocate()
        superScales.deallocate()
        superOffsets.deallocate()
        constants.deallocate()
    }

    /// The scale or offset at `index` of `base` (``scales`` or ``offsets``) of `row`'s `block`;
    /// `multipliers` is ``superScales`` or ``superOffsets`` (read by the coded encoding).
    private func value(
        _ base: UnsafeMutableRawPointer, _ index: Int, _ multipliers: UnsafeMutableRawPointer, row: Int, block: Int
    ) -> Float {
        switch scaleEncoding {
        case .float: return base.load(fromByteOffset: 4 * index, as: Float.self)
        case .half: return Float(base.load(fromByteOffset: 2 * index, as: Float16.self))
        case .coded:
            let code = Float(base.load(fromByteOffset: index, as: Int8.self))
            return code * Float(multipliers.load(fromByteOffset: 2 * superIndex(row: row, block: block), as: Float16.self))
        }
    }

    private func setValue(_ value: Float, _ base: UnsafeMutableRawPointer, _ index: Int) {
        switch scaleEncoding {
        case .float:
            base.storeBytes(of: value, toByteOffset: 4 * index, as: Float.self)
        case .half:
            precondition(Float(Float16(value)) == value || value.isNaN, "scale \(value) is not exact in f16")
            base.storeBytes(of: Float16(value), toByteOffset: 2 * index, as: Float16.self)
        case .coded:
            preconditionFailure("coded scales are stored as codes (setCodedNibbleBlock, setCodedByteBlock)")
        }
    }

    /// The index of `row`'s multiplier for the super-block holding `block`.
    private func superIndex(row: Int, block: Int) -> Int {
        (row / Self.groupRows) * superScalesPerGroup + (block / Self.superBlockBlocks) * Self.groupRows
            + row % Self.groupRows
    }

    /// Where element `e` (0…31) of block `block` of `row` lives: its quant's byte offset (nibble
    /// format, and 8-bit quants; packed ones: ``packedFields(row:block:element:)``), whether it is the
    /// high nibble, and its scale's index (where the byte format's offsets are too).
    private func location(row: Int, block: Int, element e: Int) -> (byte: Int, high: Bool, scale: Int) {
        let group = row / Self.groupRows, r = row % Self.groupRows
        let lane = 32 * ((e % 16) / 4) + 4 * r + e % 4
        let halfStep = scalesPerBlock - 8  // as DotKernels.scaleIndex
        let scale = group * scalesPerGroup + block * scalesPerBlock + (e / 16) * halfStep + r
        switch format {
        case .nibble:
            return (group * groupStride + block * 128 + lane, e >= 16, scale)
        default:
            return (group * groupStride + block * 256 + (e / 16) * 128 + lane, false, scale)
        }
    }

    /// The element at (`row`, `column`) as the kernels see it (for tests and slow paths).
    func element(row: Int, column: Int) -> Float {
        switch format {
        case .float:
            return quants.load(fromByteOffset: (row * columns + column) * 4, as: Float.self)
        case .byte:
            let at = location(row: row, block: column / 32, element: column % 32)
            let block = column / 32
            let scale = value(scales, at.scale, superScales, row: row, block: block)
            let scaled = Float(byteQuant(row: row, block: block, element: column % 32)) * scale
            guard hasByteOffsets else { return scaled }
            return scaled + value(offsets, at.scale, superOffsets, row: row, block: block)  // laid out as the scales
        case .nibble:
            let block = column / 32
            let at = location(row: row, block: block, element: column % 32)
            let q = (quants.load(fromByteOffset: at.byte, as: UInt8.self) >> (at.high ? 4 : 0)) & 0xF
            return value(scales, at.scale, superScales, row: row, block: block) * Float(q)
                + value(offsets, at.scale, superOffsets, row: row, block: block)
        }
    }

    /// Dequantizes one row into `output` (`columns` elements).
    func dequantizeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        if format == .float {
            output.update(from: (quants + row * groupStride).assumingMemoryBound(to: Float.self), count: columns)
            return
        }
        for c in 0..<columns { output[c] = element(row: row, column: c) }
    }

    /// Stores a nibble block: 32 quants (0…15), scale and offset.
    func setNibbleBlock(row: Int, block: Int, quants q: UnsafePointer<UInt8>, scale: Float, offset: Float) {
        storeNibbles(row: row, block: block, q)
        let s = location(row: row, block: block, element: 0).scale
        setValue(scale, scales, s)
        setValue(offset, offsets, s)
    }

    /// Stores a byte block: 32 quants (for IQ4_NL and IQ4_XS their indices into the levels), the
    /// scales of its two halves and, with ``hasByteOffsets``, its offset (one per block: Q5_1).
    func setByteBlock(
        row: Int, block: Int, quants q: UnsafePointer<Int8>, scale0: Float, scale1: Float, offset: Float = 0
    ) {
        storeBytes(row: row, block: block, q)
        precondition(scalesPerBlock == 16 || scale0.bitPattern == scale1.bitPattern, "the block's halves share a scale")
        let first = location(row: row, block: block, element: 0).scale
        setValue(scale0, scales, first)
        setValue(scale1, scales, location(row: row, block: block, element: 16).scale)
        if hasByteOffsets {
            precondition(scalesPerBlock == 8, "one offset per block")
            setValue(offset, offsets, first)
        }
    }

    /// ``setNibbleBlock`` for the ``ScaleEncoding/coded`` encoding: the codes of the block's scale
    /// and offset (their multipliers are set by ``setSuperBlock``).
    func setCodedNibbleBlock(row: Int, block: Int, quants q: UnsafePointer<UInt8>, scaleCode: Int8, offsetCode: Int8) {
        precondition(scaleEncoding == .coded)
        storeNibbles(row: row, block: block, q)
        let s = location(row: row, block: block, element: 0).scale
        scales.storeBytes(of: scaleCode, toByteOffset: s, as: Int8.self)
        offsets.storeBytes(of: offsetCode, toByteOffset: s, as: Int8.self)
    }

    /// ``setByteBlock`` for the ``ScaleEncoding/coded`` encoding, with the codes of the offsets of
    /// its halves (one per block unless ``scalesPerBlock`` is 16: Q2_K).
    func setCodedByteBlock(
        row: Int, block: Int, quants q: UnsafePointer<Int8>, scaleCodes: (Int8, Int8), offsetCodes: (Int8, Int8) = (0, 0)
    ) {
        precondition(scaleEncoding == .coded)
        storeBytes(row: row, block: block, q)
        precondition(
            scalesPerBlock == 16 || (scaleCodes.0 == scaleCodes.1 && offsetCodes.0 == offsetCodes.1),
            "the block's halves share a scale")
        let first = location(row: row, block: block, element: 0).scale
        let second = location(row: row, block: block, element: 16).scale
        scales.storeBytes(of: scaleCodes.0, toByteOffset: first, as: Int8.self)
        scales.storeBytes(of: scaleCodes.1, toByteOffset: second, as: Int8.self)
        if hasByteOffsets {
            offsets.storeBytes(of: offsetCodes.0, toByteOffset: first, as: Int8.self)
            offsets.storeBytes(of: offsetCodes.1, toByteOffset: second, as: Int8.self)
        }
    }

    private func storeNibbles(row: Int, block: Int, _ q: UnsafePointer<UInt8>) {
        for e in 0..<16 {
            let at = location(row: row, block: block, element: e)
            quants.storeBytes(of: q[e] | q[16 + e] << 4, toByteOffset: at.byte, as: UInt8.self)
        }
    }

    /// A run of bits of a packed quant: `width` bits from bit `shift` of the byte at `byte`.
    private struct BitField {
        var byte: Int
        var shift: Int
        var width: Int
    }

    /// Packed quants (see ``Format/byte``): where the low bits of element `e` of `block` of `row`
    /// live (a nibble, or two bits for 2- and 3-bit quants), and the high bits if there are any.
    private func packedFields(row: Int, block: Int, element e: Int) -> (low: BitField, high: BitField?) {
        let group = row / Self.groupRows, r = row % Self.groupRows, k = (e % 16) / 4, h = e / 16, j = e % 4
        let start = group * groupStride + block * 32 * packedBits
        let low =
            packedBits >= 4
            ? BitField(byte: start + 32 * k + 4 * r + j, shift: 4 * h, width: 4)
            : BitField(byte: start + 32 * h + 4 * r + j, shift: 2 * k, width: 2)
        switch packedBits {
        case 6: return (low, BitField(byte: start + 128 + 32 * h + 4 * r + j, shift: 2 * k, width: 2))
        case 5: return (low, BitField(byte: start + 128 + 4 * r + j, shift: 4 * h + k, width: 1))
        case 3: return (low, BitField(byte: start + 64 + 4 * r + j, shift: 4 * h + k, width: 1))
        default: return (low, nil)
        }
    }

    private func storeBytes(row: Int, block: Int, _ q: UnsafePointer<Int8>) {
        for e in 0..<32 {
            guard packedBits < 8 else {
                quants.storeBytes(of: q[e], toByteOffset: location(row: row, block: block, element: e).byte, as: Int8.self)
                continue
            }
            let u = Int(q[e]) + quantBias  // IQ4: the index itself
            precondition((0..<1 << packedBits).contains(u), "a \(packedBits)-bit quant is out of range")
            let fields = packedFields(row: row, block: block, element: e)
            setBits(fields.low, u & (1 << fields.low.width - 1))
            if let high = fields.high { setBits(high, u >> fields.low.width) }
        }
    }

    /// Sets `value`'s bits in `field` (which is still zero).
    private func setBits(_ field: BitField, _ value: Int) {
        let byte = quants.load(fromByteOffset: field.byte, as: UInt8.self) | UInt8(value) << field.shift
        quants.storeBytes(of: byte, toByteOffset: field.byte, as: UInt8.self)
    }

    /// The signed quant of element `e` (0…31) of `block` of `row` in the byte format.
    private func byteQuant(row: Int, block: Int, element e: Int) -> Int8 {
        guard packedBits < 8 else {
            return quants.load(fromByteOffset: location(row: row, block: block, element: e).byte, as: Int8.self)
        }
        let fields = packedFields(row: row, block: block, element: e)
        func bits(_ field: BitField) -> Int {
            Int(quants.load(fromByteOffset: field.byte, as: UInt8.self) >> field.shift) & (1 << field.width - 1)
        }
        let u = bits(fields.low) | (fields.high.map { bits($0) << fields.low.width } ?? 0)
        return hasNonlinearLevels ? GGMLDequantizer.nonlinearLevels[u] : Int8(u - quantBias)
    }

    /// Stores the multipliers of a super-block's codes (``ScaleEncoding/coded``): `scale` (`d`) and,
    /// where there are offsets, `offset` (`−dmin`), both f16 values.
    func setSuperBlock(row: Int, superBlock: Int, scale: Float16, offset: Float16 = 0) {
        precondition(scaleEncoding == .coded)
        let index = superIndex(row: row, block: superBlock * Self.superBlockBlocks)
        superScales.storeBytes(of: scale, toByteOffset: 2 * index, as: Float16.self)
        if offsetsPerGroup > 0 { superOffsets.storeBytes(of: offset, toByteOffset: 2 * index, as: Float16.self) }
    }
}

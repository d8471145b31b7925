/// A weight matrix repacked at load time into one of three layouts the SIMD kernels read.
///
/// The quantized formats store rows in groups of eight (``rows`` is padded with zero rows), block
/// by block, so that one 32-byte vector holds four consecutive quants of each of the eight rows,
/// row `r` in 32-bit lane `r` (see ``DotKernels``):
/// - ``Format/nibble``: 4-bit quants (Q4_0, Q4_1, Q4_K). Each 32-element block has a float scale
///   `d` and offset `m` (`w = d·q + m`). A group's block takes 128 bytes: byte `32k + 4r + j`
///   (k, j = 0…3) holds element `4k + j` of row `r` in its low nibble and element `16 + 4k + j` in
///   its high nibble. Scales and offsets: eight per block (one per row).
/// - ``Format/byte``: 8-bit quants (Q8_0, Q6_K, and Q5_0, Q3_K, Q5_K widened), `w = s·q` with one
///   scale per 16 elements. A group's block takes 256 bytes: byte `128h + 32k + 4r + j` (h = 0, 1)
///   holds element `16h + 4k + j` of row `r`. Scales: sixteen per block (eight rows of the first
///   half, then of the second). Q5_K adds an offset per block (``hasByteOffsets``): `w = s·q + m`,
///   its term `m · Σ activations` added after the kernels (``MatMul``).
/// - ``Format/float``: F32, F16 and BF16 widened to `Float`, row after row.
///
/// Scales and offsets are stored as f16 when that is exact (see ``halfScales``), halving their
/// share of the bytes a decode step reads. The matrix has ``rows`` rows of ``columns`` elements
/// (ggml's `ne[1]` and `ne[0]`).
/// `@unchecked Sendable`: the buffers are written only in `init` and read-only afterwards.
final class WeightMatrix: @unchecked Sendable {
    /// The memory layout of the quants.
    enum Format: Sendable { case nibble, byte, float }

    /// Rows per group of the quantized formats.
    static let groupRows = 8

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
    /// Scales per row group (nibble: 8 per block; byte: 16 per block; float: none).
    let scalesPerGroup: Int
    /// Whether ``scales`` and ``offsets`` hold f16 values (else f32). The repacking uses f16 only
    /// where every value is exactly representable (Q4_0, Q4_1 and Q8_0 scales come from f16).
    let halfScales: Bool
    let quants: UnsafeMutableRawPointer
    /// Per-block scales, f16 or f32 (see ``halfScales``).
    let scales: UnsafeMutableRawPointer
    /// Nibble format, and byte format with ``hasByteOffsets``: the per-block offsets `m`, eight per
    /// block (one per row) in both.
    let offsets: UnsafeMutableRawPointer
    /// Whether the byte format's blocks have offsets (Q5_K's minimums).
    let hasByteOffsets: Bool
    /// Offsets per row group (eight per block where there are offsets).
    var offsetsPerGroup: Int { format == .nibble || hasByteOffsets ? blocksPerRow * 8 : 0 }
    /// The kernels' constants, kept in memory on purpose (see ``DotKernels/Constants``).
    let constants: UnsafeMutablePointer<DotKernels.Constants>

    /// Row groups (quantized) or rows (float) stored.
    private var storedGroups: Int { format == .float ? rows : (rows + Self.groupRows - 1) / Self.groupRows }

    /// Bytes one full pass over the matrix reads (quants and scales).
    var byteCount: Int { storedGroups * (groupStride + (scalesPerGroup + offsetsPerGroup) * scaleBytes) }

    /// Bytes per stored scale or offset.
    var scaleBytes: Int { halfScales ? 2 : 4 }

    init(format: Format, rows: Int, columns: Int, sourceType: GGMLType, halfScales: Bool = false) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.sourceType = sourceType
        self.halfScales = halfScales && format != .float
        hasByteOffsets = format == .byte && sourceType == .q5_K
        switch format {
        case .nibble:
            paddedColumns = (columns + 31) / 32 * 32
            blocksPerRow = paddedColumns / 32
            groupStride = blocksPerRow * 128
            scalesPerGroup = blocksPerRow * 8
        case .byte:
            paddedColumns = (columns + 31) / 32 * 32
            blocksPerRow = paddedColumns / 32
            groupStride = blocksPerRow * 256
            scalesPerGroup = blocksPerRow * 16
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
        let scaleBytes = max(groups * scalesPerGroup, 1) * (self.halfScales ? 2 : 4)
        scales = .allocate(byteCount: scaleBytes, alignment: 64)
        scales.initializeMemory(as: UInt8.self, repeating: 0, count: scaleBytes)
        precondition(!(hasByteOffsets && self.halfScales), "byte offsets are read as f32 (MatMul.addByteOffsets)")
        let offsetsPerGroup = format == .nibble || hasByteOffsets ? blocksPerRow * 8 : 0  // as ``offsetsPerGroup``
        let offsetBytes = max(groups * offsetsPerGroup, 1) * (self.halfScales ? 2 : 4)
        offsets = .allocate(byteCount: offsetBytes, alignment: 64)
        offsets.initializeMemory(as: UInt8.self, repeating: 0, count: offsetBytes)
        constants = .allocate(capacity: 1)
        constants.initialize(to: DotKernels.Constants())
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        offsets.deallocate()
        constants.deallocate()
    }

    /// The scale-sized value at `index` of `base` (``scales`` or ``offsets``).
    private func value(_ base: UnsafeMutableRawPointer, _ index: Int) -> Float {
        halfScales ? Float(base.load(fromByteOffset: 2 * index, as: Float16.self)) : base.load(fromByteOffset: 4 * index, as: Float.self)
    }

    private func setValue(_ value: Float, _ base: UnsafeMutableRawPointer, _ index: Int) {
        if halfScales {
            precondition(Float(Float16(value)) == value || value.isNaN, "scale \(value) is not exact in f16")
            base.storeBytes(of: Float16(value), toByteOffset: 2 * index, as: Float16.self)
        } else {
            base.storeBytes(of: value, toByteOffset: 4 * index, as: Float.self)
        }
    }

    /// Where element `e` (0…31) of block `block` of `row` lives: its quant's byte offset, whether it
    /// is the high nibble (nibble format), and its scale's index.
    private func location(row: Int, block: Int, element e: Int) -> (byte: Int, high: Bool, scale: Int) {
        let group = row / Self.groupRows, r = row % Self.groupRows
        let lane = 32 * ((e % 16) / 4) + 4 * r + e % 4
        switch format {
        case .nibble:
            return (group * groupStride + block * 128 + lane, e >= 16, group * scalesPerGroup + block * 8 + r)
        default:
            return (
                group * groupStride + block * 256 + (e / 16) * 128 + lane, false,
                group * scalesPerGroup + block * 16 + (e / 16) * 8 + r
            )
        }
    }

    /// The element at (`row`, `column`) as the kernels see it (for tests and slow paths).
    func element(row: Int, column: Int) -> Float {
        switch format {
        case .float:
            return quants.load(fromByteOffset: (row * columns + column) * 4, as: Float.self)
        case .byte:
            let at = location(row: row, block: column / 32, element: column % 32)
            let scaled = Float(quants.load(fromByteOffset: at.byte, as: Int8.self)) * value(scales, at.scale)
            return hasByteOffsets ? scaled + value(offsets, byteOffsetIndex(row: row, block: column / 32)) : scaled
        case .nibble:
            let at = location(row: row, block: column / 32, element: column % 32)
            let q = (quants.load(fromByteOffset: at.byte, as: UInt8.self) >> (at.high ? 4 : 0)) & 0xF
            return value(scales, at.scale) * Float(q) + value(offsets, at.scale)
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
        for e in 0..<16 {
            let at = location(row: row, block: block, element: e)
            quants.storeBytes(of: q[e] | q[16 + e] << 4, toByteOffset: at.byte, as: UInt8.self)
        }
        let s = location(row: row, block: block, element: 0).scale
        setValue(scale, scales, s)
        setValue(offset, offsets, s)
    }

    /// Stores a byte block: 32 quants, the scales of its two halves and, with ``hasByteOffsets``,
    /// its offset.
    func setByteBlock(
        row: Int, block: Int, quants q: UnsafePointer<Int8>, scale0: Float, scale1: Float, offset: Float = 0
    ) {
        for e in 0..<32 {
            quants.storeBytes(of: q[e], toByteOffset: location(row: row, block: block, element: e).byte, as: Int8.self)
        }
        setValue(scale0, scales, location(row: row, block: block, element: 0).scale)
        setValue(scale1, scales, location(row: row, block: block, element: 16).scale)
        if hasByteOffsets { setValue(offset, offsets, byteOffsetIndex(row: row, block: block)) }
    }

    /// The index of the offset of `block` of `row` in the byte format (eight per block per group).
    private func byteOffsetIndex(row: Int, block: Int) -> Int {
        (row / Self.groupRows) * offsetsPerGroup + block * 8 + row % Self.groupRows
    }
}

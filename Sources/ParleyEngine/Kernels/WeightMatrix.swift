/// A weight matrix repacked at load time into one of three layouts the SIMD kernels read.
///
/// The quantized formats store rows in groups of eight (``rows`` is padded with zero rows), block
/// by block, so that one 32-byte vector holds four consecutive quants of each of the eight rows,
/// row `r` in 32-bit lane `r` (see ``DotKernels``):
/// - ``Format/nibble``: 4-bit quants (Q4_0, Q4_1, Q4_K). Each 32-element block has a float scale
///   `d` and offset `m` (`w = d·q + m`). A group's block takes 128 bytes: byte `32k + 4r + j`
///   (k, j = 0…3) holds element `4k + j` of row `r` in its low nibble and element `16 + 4k + j` in
///   its high nibble. Scales and offsets: eight per block (one per row).
/// - ``Format/byte``: 8-bit quants (Q8_0, Q6_K), `w = s·q` with one scale per 16 elements. A
///   group's block takes 256 bytes: byte `128h + 32k + 4r + j` (h = 0, 1) holds element
///   `16h + 4k + j` of row `r`. Scales: sixteen per block (eight rows of the first half, then of the second).
/// - ``Format/float``: F32, F16 and BF16 widened to `Float`, row after row.
///
/// The matrix has ``rows`` rows of ``columns`` elements (ggml's `ne[1]` and `ne[0]`).
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
    let quants: UnsafeMutableRawPointer
    let scales: UnsafeMutablePointer<Float>
    /// Nibble format only: the per-block offsets `m`, laid out like ``scales``.
    let offsets: UnsafeMutablePointer<Float>
    /// The kernels' constants, kept in memory on purpose (see ``DotKernels/Constants``).
    let constants: UnsafeMutablePointer<DotKernels.Constants>

    /// Row groups (quantized) or rows (float) stored.
    private var storedGroups: Int { format == .float ? rows : (rows + Self.groupRows - 1) / Self.groupRows }

    /// Bytes one full pass over the matrix reads (quants and scales).
    var byteCount: Int { storedGroups * (groupStride + scalesPerGroup * 4 * (format == .nibble ? 2 : 1)) }

    init(format: Format, rows: Int, columns: Int, sourceType: GGMLType) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.sourceType = sourceType
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
        let scaleCount = max(groups * scalesPerGroup, 1)
        scales = .allocate(capacity: scaleCount)
        scales.initialize(repeating: 0, count: scaleCount)
        let offsetCount = format == .nibble ? scaleCount : 1
        offsets = .allocate(capacity: offsetCount)
        offsets.initialize(repeating: 0, count: offsetCount)
        constants = .allocate(capacity: 1)
        constants.initialize(to: DotKernels.Constants())
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        offsets.deallocate()
        constants.deallocate()
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
            return Float(quants.load(fromByteOffset: at.byte, as: Int8.self)) * scales[at.scale]
        case .nibble:
            let at = location(row: row, block: column / 32, element: column % 32)
            let q = (quants.load(fromByteOffset: at.byte, as: UInt8.self) >> (at.high ? 4 : 0)) & 0xF
            return scales[at.scale] * Float(q) + offsets[at.scale]
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
        scales[s] = scale
        offsets[s] = offset
    }

    /// Stores a byte block: 32 quants and the scales of its two halves.
    func setByteBlock(row: Int, block: Int, quants q: UnsafePointer<Int8>, scale0: Float, scale1: Float) {
        for e in 0..<32 {
            quants.storeBytes(of: q[e], toByteOffset: location(row: row, block: block, element: e).byte, as: Int8.self)
        }
        scales[location(row: row, block: block, element: 0).scale] = scale0
        scales[location(row: row, block: block, element: 16).scale] = scale1
    }
}

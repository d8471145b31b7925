/// A weight matrix repacked at load time into one of three layouts the SIMD kernels read.
///
/// - ``Format/nibble``: 4-bit quants (Q4_0, Q4_1, Q4_K). Each 32-element block has a float scale
///   `d` and offset `m` (`w = d·q + m`). Two blocks share 32 bytes read as sixteen `UInt16` lanes:
///   lane `L` holds block `L / 8`, elements `n·8 + L % 8` at bit `4n` (n = 0…3). Rows are padded to
///   an even number of blocks with zero scales.
/// - ``Format/byte``: 8-bit quants (Q8_0, Q6_K). `w = s·q` with one float scale per 16 elements.
/// - ``Format/float``: F32, F16 and BF16 widened to `Float`.
///
/// The matrix has ``rows`` rows of ``columns`` elements (ggml's `ne[1]` and `ne[0]`).
/// `@unchecked Sendable`: the buffers are written only in `init` and read-only afterwards.
final class WeightMatrix: @unchecked Sendable {
    /// The memory layout of the quants.
    enum Format: Sendable { case nibble, byte, float }

    let format: Format
    /// Number of output rows.
    let rows: Int
    /// Elements per row (the input width).
    let columns: Int
    /// ``columns`` rounded up to the kernel's granule (64 nibble, 32 byte, 1 float).
    let paddedColumns: Int
    /// The type the tensor had in the file.
    let sourceType: GGMLType
    /// Bytes of quants per row.
    let rowStride: Int
    /// Scales per row (nibble: one per 32 elements; byte: one per 16; float: none).
    let scalesPerRow: Int
    let quants: UnsafeMutableRawPointer
    let scales: UnsafeMutablePointer<Float>
    /// Nibble format only: the per-block offsets `m`, laid out like ``scales``.
    let offsets: UnsafeMutablePointer<Float>
    /// Sixteen 0xF lanes, kept in memory on purpose (see ``DotKernels/nibbles(_:_:)``).
    let nibbleMask: UnsafeMutablePointer<SIMD16<UInt16>>

    /// Bytes one full pass over the matrix reads (quants and scales).
    var byteCount: Int { rows * (rowStride + scalesPerRow * 4 * (format == .nibble ? 2 : 1)) }

    init(format: Format, rows: Int, columns: Int, sourceType: GGMLType) {
        self.format = format
        self.rows = rows
        self.columns = columns
        self.sourceType = sourceType
        switch format {
        case .nibble:
            paddedColumns = (columns + 63) / 64 * 64
            rowStride = paddedColumns / 2
            scalesPerRow = paddedColumns / 32
        case .byte:
            paddedColumns = (columns + 31) / 32 * 32
            rowStride = paddedColumns
            scalesPerRow = paddedColumns / 16
        case .float:
            paddedColumns = columns
            rowStride = columns * 4
            scalesPerRow = 0
        }
        quants = UnsafeMutableRawPointer.allocate(byteCount: max(rows * rowStride, 64), alignment: 64)
        quants.initializeMemory(as: UInt8.self, repeating: 0, count: max(rows * rowStride, 64))
        let scaleCount = max(rows * scalesPerRow, 1)
        scales = .allocate(capacity: scaleCount)
        scales.initialize(repeating: 0, count: scaleCount)
        let offsetCount = format == .nibble ? scaleCount : 1
        offsets = .allocate(capacity: offsetCount)
        offsets.initialize(repeating: 0, count: offsetCount)
        nibbleMask = .allocate(capacity: 1)
        nibbleMask.initialize(to: SIMD16(repeating: 0xF))
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        offsets.deallocate()
        nibbleMask.deallocate()
    }

    /// The element at (`row`, `column`) as the kernels see it (for tests and slow paths).
    func element(row: Int, column: Int) -> Float {
        switch format {
        case .float:
            return quants.load(fromByteOffset: (row * columns + column) * 4, as: Float.self)
        case .byte:
            let q = quants.load(fromByteOffset: row * rowStride + column, as: Int8.self)
            return Float(q) * scales[row * scalesPerRow + column / 16]
        case .nibble:
            let block = column / 32, e = column % 32
            let lane = (block % 2) * 8 + e % 8
            let word = quants.load(fromByteOffset: row * rowStride + (block / 2) * 32 + lane * 2, as: UInt16.self)
            let q = (word >> (4 * UInt16(e / 8))) & 0xF
            let s = row * scalesPerRow + block
            return scales[s] * Float(q) + offsets[s]
        }
    }

    /// Dequantizes one row into `output` (`columns` elements).
    func dequantizeRow(_ row: Int, into output: UnsafeMutablePointer<Float>) {
        if format == .float {
            output.update(from: (quants + row * rowStride).assumingMemoryBound(to: Float.self), count: columns)
            return
        }
        for c in 0..<columns { output[c] = element(row: row, column: c) }
    }

    /// Stores a nibble block: 32 quants (0…15), scale and offset.
    func setNibbleBlock(row: Int, block: Int, quants q: UnsafePointer<UInt8>, scale: Float, offset: Float) {
        let base = quants + row * rowStride + (block / 2) * 32
        let words = base.assumingMemoryBound(to: UInt16.self)
        let laneBase = (block % 2) * 8
        for l in 0..<8 {
            words[laneBase + l] =
                UInt16(q[l]) | UInt16(q[8 + l]) << 4 | UInt16(q[16 + l]) << 8 | UInt16(q[24 + l]) << 12
        }
        scales[row * scalesPerRow + block] = scale
        offsets[row * scalesPerRow + block] = offset
    }

    /// Stores a byte block: 32 quants and the scales of its two halves.
    func setByteBlock(row: Int, block: Int, quants q: UnsafePointer<Int8>, scale0: Float, scale1: Float) {
        let base = (quants + row * rowStride + block * 32).assumingMemoryBound(to: Int8.self)
        base.update(from: q, count: 32)
        scales[row * scalesPerRow + 2 * block] = scale0
        scales[row * scalesPerRow + 2 * block + 1] = scale1
    }
}

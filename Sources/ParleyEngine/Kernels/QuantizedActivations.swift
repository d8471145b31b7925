/// A batch of activation vectors quantized to 8 bits per 32-element block, as llama.cpp does
/// before a quantized matrix product (`q = round(x / d)`, `d = max|x| / 127`, `d` kept at f16
/// precision; `s = d · Σq` for the weights that have offsets, rounded to f16 like llama.cpp's
/// Q8_1 blocks when `roundSums` is set (for Q4_1 weights), exact otherwise).
///
/// The quants are stored widened to `Int16` in the lane order that the kernel of the weight's
/// format expects (see ``WeightMatrix``), so the inner loops need no conversions.
/// Reused across calls: ``quantize(_:count:stride:width:format:)`` only grows the buffers.
final class QuantizedActivations {
    private(set) var count = 0
    private(set) var width = 0
    private(set) var paddedWidth = 0
    private(set) var format: WeightMatrix.Format = .nibble
    private(set) var roundSums = false
    private var capacity = 0
    private var scaleCapacity = 0
    private(set) var quants: UnsafeMutablePointer<Int16>
    /// `d` per block, rounded to f16 precision.
    private(set) var scales: UnsafeMutablePointer<Float>
    /// `d · Σq` per block, rounded to f16 precision.
    private(set) var sums: UnsafeMutablePointer<Float>
    /// Float format only: the unquantized vectors (no copy; points at the caller's buffer).
    private(set) var floats: UnsafePointer<Float>?
    private(set) var floatStride = 0

    init() {
        quants = .allocate(capacity: 1)
        scales = .allocate(capacity: 1)
        sums = .allocate(capacity: 1)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
    }

    /// Blocks of 32 per vector (including padding).
    var blocksPerVector: Int { paddedWidth / 32 }

    /// Quantizes `count` vectors of `width` floats, vector `i` at `input + i * stride`, for weights of `format`.
    /// For the float format the vectors are only referenced and must outlive the use.
    func quantize(
        _ input: UnsafePointer<Float>, count: Int, stride: Int, width: Int, format: WeightMatrix.Format,
        roundSums: Bool = true
    ) {
        self.count = count
        self.width = width
        self.format = format
        self.roundSums = roundSums
        switch format {
        case .float:
            floats = input
            floatStride = stride
            paddedWidth = width
            return
        case .nibble: paddedWidth = (width + 63) / 64 * 64
        case .byte: paddedWidth = (width + 31) / 32 * 32
        }
        floats = nil
        reserve(count * paddedWidth)
        let blocks = paddedWidth / 32
        withUnsafeTemporaryAllocation(of: Int16.self, capacity: 32) { q in
            for v in 0..<count {
                let x = input + v * stride
                let outQ = quants + v * paddedWidth
                for b in 0..<blocks {
                    var amax: Float = 0
                    let start = b * 32
                    let end = min(start + 32, width)
                    if start < end { for i in start..<end { amax = max(amax, abs(x[i])) } }
                    let d = amax / 127
                    let id: Float = amax != 0 ? 127 / amax : 0
                    var sum = 0
                    for j in 0..<32 {
                        let i = start + j
                        let value = i < width ? (x[i] * id).rounded(.toNearestOrEven) : 0
                        q[j] = Int16(value)
                        sum += Int(value)
                    }
                    let dRounded = Float(Float16(d))
                    scales[v * blocks + b] = dRounded
                    sums[v * blocks + b] = roundSums ? Float(Float16(d * Float(sum))) : dRounded * Float(sum)
                    place(q.baseAddress!, block: b, into: outQ)
                }
            }
        }
    }

    /// The quantized vector `v` as floats (`d · q`), for tests.
    func dequantized(_ v: Int) -> [Float] {
        let blocks = blocksPerVector
        return (0..<width).map { i in
            let b = i / 32, e = i % 32
            let index: Int
            switch format {
            case .nibble: index = (b / 2) * 64 + (e / 8) * 16 + (b % 2) * 8 + e % 8
            case .byte: index = b * 32 + (e % 2) * 16 + e / 2
            case .float: return floats![v * floatStride + i]
            }
            return Float(quants[v * paddedWidth + index]) * scales[v * blocks + b]
        }
    }

    private func place(_ q: UnsafePointer<Int16>, block b: Int, into out: UnsafeMutablePointer<Int16>) {
        switch format {
        case .nibble:
            // Pair p = b/2, vector n holds elements n*8 ..< n*8+8 of both blocks of the pair.
            let base = out + (b / 2) * 64 + (b % 2) * 8
            for n in 0..<4 {
                for l in 0..<8 { base[n * 16 + l] = q[n * 8 + l] }
            }
        case .byte:
            // Even elements in the low vector, odd ones in the high vector.
            let base = out + b * 32
            for l in 0..<16 {
                base[l] = q[2 * l]
                base[16 + l] = q[2 * l + 1]
            }
        case .float:
            break
        }
    }

    private func reserve(_ elements: Int) {
        if elements > capacity {
            quants.deallocate()
            capacity = elements
            quants = .allocate(capacity: elements)
        }
        let blocks = elements / 32
        if blocks > scaleCapacity {
            scales.deallocate()
            sums.deallocate()
            scaleCapacity = blocks
            scales = .allocate(capacity: blocks)
            sums = .allocate(capacity: blocks)
        }
    }
}

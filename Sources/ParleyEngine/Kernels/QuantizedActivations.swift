#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// A batch of activation vectors quantized to 8 bits per 32-element block, as llama.cpp does
/// before a quantized matrix product (its Q8_0/Q8_1 formats: `q = round(x / d)`, `d = max|x| / 127`,
/// `d` kept at f16 precision; `s = d · Σq` for the weights that have offsets, rounded to f16 like
/// llama.cpp's Q8_1 blocks when `roundSums` is set (for Q4_1 and Q5_1 weights), exact otherwise). For
/// K-quant and IQ4_XS weights (`superBlocks`) as its Q8_K: one float scale per 256 elements, `d = −m / 127`
/// where `m` is the element largest in magnitude (its sign kept), quants at most 127; every
/// 32-element block of the 256 carries that scale.
///
/// The Int8 quants are stored in element order, each vector padded with zeros to whole blocks.
/// Reused across calls: ``quantize(_:count:stride:width:format:roundSums:superBlocks:pool:)`` only
/// grows the buffers.
final class QuantizedActivations {
    /// How activations are quantized for the products with one weight matrix: llama.cpp's rule
    /// for the matrix's type (Q8_1 sums rounded to f16 for Q4_1 and Q5_1, Q8_K for the K-quants and IQ4_XS,
    /// Q8_0 else).
    struct Scheme: Equatable {
        var format: WeightMatrix.Format
        /// Q4_1 and Q5_1 weights: `d · Σq` rounded to f16, like llama.cpp's Q8_1 blocks.
        var roundSums: Bool
        /// K-quant and IQ4_XS weights: one float scale per 256 elements, like llama.cpp's Q8_K.
        var superBlocks: Bool

        init(format: WeightMatrix.Format, roundSums: Bool, superBlocks: Bool) {
            self.format = format
            self.roundSums = roundSums
            self.superBlocks = superBlocks
        }

        init(for weight: WeightMatrix) {
            format = weight.format
            roundSums = weight.sourceType == .q4_1 || weight.sourceType == .q5_1
            superBlocks = weight.sourceType.hasSuperBlocks && weight.columns % 256 == 0
        }
    }

    private(set) var count = 0
    private(set) var width = 0
    private(set) var paddedWidth = 0
    private(set) var format: WeightMatrix.Format = .nibble
    private(set) var roundSums = false
    private(set) var superBlocks = false

    /// The scheme of the current quants.
    var scheme: Scheme { .init(format: format, roundSums: roundSums, superBlocks: superBlocks) }
    private var capacity = 0
    private var scaleCapacity = 0
    /// `paddedWidth` Int8 quants per vector.
    private(set) var quants: UnsafeMutablePointer<Int8>
    /// `d` per block, rounded to f16 precision.
    private(set) var scales: UnsafeMutablePointer<Float>
    /// `d · Σq` per block, rounded to f16 precision when `roundSums`.
    private(set) var sums: UnsafeMutablePointer<Float>
    /// Byte format only: −128 · Σq of each half block (two per block), which the VNNI byte kernel
    /// starts its sums at (see `CParleyKernels.h`), and the packed quants' kernels scaled by their
    /// bias (``DotKernels/PackedQuants``).
    private(set) var corrections: UnsafeMutablePointer<Int32>
    /// Each whole group of eight vectors again, interleaved for the eight-vector kernels: four-byte
    /// chunk `c` of vector `v` of group `g` at Int32 index `(g · paddedWidth / 4 + c) · 8 + v`.
    private(set) var interleavedQuants: UnsafeMutablePointer<Int32>
    /// `scales` and `sums` of the groups likewise: block `b` of vector `v` of group `g` at `(g · blocks + b) · 8 + v`.
    private(set) var interleavedScales: UnsafeMutablePointer<Float>
    private(set) var interleavedSums: UnsafeMutablePointer<Float>
    /// `corrections` of the groups: half `h` of block `b` of vector `v` of group `g` at `((g · blocks + b) · 2 + h) · 8 + v`.
    private(set) var interleavedCorrections: UnsafeMutablePointer<Int32>
    private var interleavedCapacity = 0
    /// Float format only: the unquantized vectors (no copy; points at the caller's buffer).
    private(set) var floats: UnsafePointer<Float>?
    private(set) var floatStride = 0

    init() {
        quants = .allocate(capacity: 1)
        scales = .allocate(capacity: 1)
        sums = .allocate(capacity: 1)
        corrections = .allocate(capacity: 2)
        interleavedQuants = .allocate(capacity: 1)
        interleavedScales = .allocate(capacity: 1)
        interleavedSums = .allocate(capacity: 1)
        interleavedCorrections = .allocate(capacity: 2)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        sums.deallocate()
        corrections.deallocate()
        interleavedQuants.deallocate()
        interleavedScales.deallocate()
        interleavedSums.deallocate()
        interleavedCorrections.deallocate()
    }

    /// Whole groups of eight vectors (see ``interleavedQuants``).
    var groupsOfEight: Int { format == .float ? 0 : count / 8 }

    /// Group `g` of eight vectors for the eight-vector kernels.
    @inline(__always)
    func group(_ g: Int) -> DotKernels.ActivationGroup {
        let blocks = paddedWidth / 32
        return .init(
            quants: UnsafeRawPointer(interleavedQuants + g * paddedWidth * 2), scales: interleavedScales + g * blocks * 8,
            sums: interleavedSums + g * blocks * 8, corrections: interleavedCorrections + g * blocks * 16)
    }

    /// Blocks of 32 per vector (including padding).
    var blocksPerVector: Int { paddedWidth / 32 }

    /// Vector `v` for the kernels.
    @inline(__always)
    func activation(_ v: Int) -> DotKernels.Activation {
        let blocks = paddedWidth / 32
        return .init(
            quants: UnsafeRawPointer(quants + v * paddedWidth), scales: scales + v * blocks, sums: sums + v * blocks,
            corrections: corrections + v * 2 * blocks)
    }

    /// Quantizes `count` vectors of `width` floats, vector `i` at `input + i * stride`, for weights of `format`,
    /// spread over `pool` if one is given (and the batch is large enough to be worth it).
    /// For the float format the vectors are only referenced and must outlive the use.
    /// With `superBlocks` (widths of whole 256s only) the scales are Q8_K's, one per 256 elements.
    func quantize(
        _ input: UnsafePointer<Float>, count: Int, stride: Int, width: Int, format: WeightMatrix.Format,
        roundSums: Bool = true, superBlocks: Bool = false, pool: ThreadPool? = nil
    ) {
        let superBlocks = superBlocks && width % 256 == 0
        self.count = count
        self.width = width
        self.format = format
        self.roundSums = roundSums
        self.superBlocks = superBlocks
        switch format {
        case .float:
            floats = input
            floatStride = stride
            paddedWidth = width
            return
        case .nibble, .byte: paddedWidth = (width + 31) / 32 * 32
        }
        floats = nil
        reserve(count * paddedWidth)
        let blocks = paddedWidth / 32, padded = paddedWidth
        let quants = quants, scales = scales, sums = sums, corrections = corrections, byte = format == .byte
        let body = { (v: Int) in
            let x = input + v * stride
            let outQ = quants + v * padded
            if superBlocks {
                for superBlock in 0..<blocks / 8 {
                    let d = Self.quantizeSuperBlock(x + superBlock * 256, into: outQ + superBlock * 256)
                    for b in superBlock * 8..<superBlock * 8 + 8 {
                        let low = Self.halfSum(outQ + b * 32), high = Self.halfSum(outQ + b * 32 + 16)
                        scales[v * blocks + b] = d
                        sums[v * blocks + b] = d * Float(low + high)
                        if byte {
                            corrections[(v * blocks + b) * 2] = -128 * low
                            corrections[(v * blocks + b) * 2 + 1] = -128 * high
                        }
                    }
                }
                return
            }
            for b in 0..<blocks {
                let start = b * 32
                let (d, sum) =
                    start + 32 <= width
                    ? Self.quantizeBlock(x + start, into: outQ + start)
                    : Self.quantizePartialBlock(x + start, count: max(0, width - start), into: outQ + start)
                let dRounded = Float(Float16(d))
                scales[v * blocks + b] = dRounded
                sums[v * blocks + b] = roundSums ? Float(Float16(d * Float(sum))) : dRounded * Float(sum)
                if byte {
                    let low = Self.halfSum(outQ + start)
                    corrections[(v * blocks + b) * 2] = -128 * low
                    corrections[(v * blocks + b) * 2 + 1] = -128 * (Int32(sum) - low)
                }
            }
        }
        // A few vectors take microseconds: cheaper than a round trip to the other threads.
        if let pool, count >= 32 {
            pool.parallelFor(count, body)
        } else {
            for v in 0..<count { body(v) }
        }
        interleave()
    }

    /// Fills the interleaved copies of the whole groups of eight vectors.
    private func interleave() {
        let groups = count / 8, chunks = paddedWidth / 4, blocks = paddedWidth / 32
        if groups == 0 { return }
        if groups * 8 * chunks > interleavedCapacity {
            interleavedQuants.deallocate()
            interleavedScales.deallocate()
            interleavedSums.deallocate()
            interleavedCorrections.deallocate()
            interleavedCapacity = groups * 8 * chunks
            interleavedQuants = .allocate(capacity: interleavedCapacity)
            interleavedScales = .allocate(capacity: interleavedCapacity / 8)
            interleavedSums = .allocate(capacity: interleavedCapacity / 8)
            interleavedCorrections = .allocate(capacity: interleavedCapacity / 4)
        }
        let source = UnsafeRawPointer(quants)
        for g in 0..<groups {
            for v in 0..<8 {
                let vector = source + (8 * g + v) * paddedWidth
                let out = interleavedQuants + g * chunks * 8 + v
                for c in 0..<chunks { out[8 * c] = vector.loadUnaligned(fromByteOffset: 4 * c, as: Int32.self) }
                for b in 0..<blocks {
                    interleavedScales[(g * blocks + b) * 8 + v] = scales[(8 * g + v) * blocks + b]
                    interleavedSums[(g * blocks + b) * 8 + v] = sums[(8 * g + v) * blocks + b]
                    if format == .byte {
                        for h in 0..<2 {
                            interleavedCorrections[((g * blocks + b) * 2 + h) * 8 + v] =
                                corrections[((8 * g + v) * blocks + b) * 2 + h]
                        }
                    }
                }
            }
        }
    }

    /// Quantizes 32 floats; returns the unrounded scale and the sum of the quants.
    @inline(__always)
    private static func quantizeBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>) -> (Float, Int) {
        let v0 = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
        let v1 = UnsafeRawPointer(x + 8).loadUnaligned(as: SIMD8<Float>.self)
        let v2 = UnsafeRawPointer(x + 16).loadUnaligned(as: SIMD8<Float>.self)
        let v3 = UnsafeRawPointer(x + 24).loadUnaligned(as: SIMD8<Float>.self)
        let a = VectorMath.maximum(
            VectorMath.maximum(magnitude(v0), magnitude(v1)), VectorMath.maximum(magnitude(v2), magnitude(v3)))
        let m = VectorMath.horizontalMax(a)
        let id: Float = m != 0 ? 127 / m : 0
        let r = (
            VectorMath.roundToInt(v0 * id), VectorMath.roundToInt(v1 * id), VectorMath.roundToInt(v2 * id),
            VectorMath.roundToInt(v3 * id))
        #if arch(x86_64)
            // Narrow with saturating packs (values are within ±127), then undo their lane interleave.
            let p01 = _mm256_packs_epi32(unsafeBitCast(r.0, to: __m256i.self), unsafeBitCast(r.1, to: __m256i.self))
            let p23 = _mm256_packs_epi32(unsafeBitCast(r.2, to: __m256i.self), unsafeBitCast(r.3, to: __m256i.self))
            let packed = _mm256_permutevar8x32_epi32(
                _mm256_packs_epi16(p01, p23), unsafeBitCast(SIMD8<Int32>(0, 4, 1, 5, 2, 6, 3, 7), to: __m256i.self))
            UnsafeMutableRawPointer(q).storeBytes(of: unsafeBitCast(packed, to: SIMD32<Int8>.self), as: SIMD32<Int8>.self)
        #else
            for l in 0..<8 {
                q[l] = Int8(truncatingIfNeeded: r.0[l])
                q[8 + l] = Int8(truncatingIfNeeded: r.1[l])
                q[16 + l] = Int8(truncatingIfNeeded: r.2[l])
                q[24 + l] = Int8(truncatingIfNeeded: r.3[l])
            }
        #endif
        let sum = (r.0 &+ r.1) &+ (r.2 &+ r.3)
        let half = sum.lowHalf &+ sum.highHalf
        return (m / 127, Int((half[0] &+ half[1]) &+ (half[2] &+ half[3])))
    }

    /// ``quantize(_:count:stride:width:format:roundSums:superBlocks:pool:)`` by `scheme`.
    func quantize(
        _ input: UnsafePointer<Float>, count: Int, stride: Int, width: Int, scheme: Scheme, pool: ThreadPool? = nil
    ) {
        quantize(
            input, count: count, stride: stride, width: width, format: scheme.format, roundSums: scheme.roundSums,
            superBlocks: scheme.superBlocks, pool: pool)
    }

    /// Quantizes 256 floats as llama.cpp's Q8_K; returns the scale `d` (negative when the element
    /// largest in magnitude is positive).
    private static func quantizeSuperBlock(_ x: UnsafePointer<Float>, into q: UnsafeMutablePointer<Int8>) -> Float {
        var top = SIMD8<Float>()
        for j in Swift.stride(from: 0, to: 256, by: 8) {
            top = VectorMath.maximum(top, magnitude(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)))
        }
        let largestMagnitude = VectorMath.horizontalMax(top)
        guard largestMagnitude != 0 else {
            q.update(repeating: 0, count: 256)
            return 0
        }
        // The first element of that magnitude, with its sign, as llama.cpp picks it.
        var first = 0
        while first < 255 && abs(x[first]) != largestMagnitude { first += 1 }
        let inverse = -127 / x[first]
        for j in Swift.stride(from: 0, to: 256, by: 8) {
            let r = VectorMath.roundToInt(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) * inverse)
            for l in 0..<8 { q[j + l] = Int8(truncatingIfNeeded: min(127, r[l])) }
        }
        return 1 / inverse
    }

    /// The sum of the first sixteen quants at `q`.
    @inline(__always)
    private static func halfSum(_ q: UnsafePointer<Int8>) -> Int32 {
        SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(q).loadUnaligned(as: SIMD16<Int8>.self)).wrappedSum()
    }

    @inline(__always)
    private static func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: SIMD8<Float>.self)
    }

    /// Quantizes the first `count` (< 32) floats, padding with zero quants.
    private static func quantizePartialBlock(
        _ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>
    ) -> (Float, Int) {
        var amax: Float = 0
        for i in 0..<count { amax = max(amax, abs(x[i])) }
        let id: Float = amax != 0 ? 127 / amax : 0
        var sum = 0
        for j in 0..<32 {
            let value = j < count ? Int((x[j] * id).rounded(.toNearestOrEven)) : 0
            q[j] = Int8(value)
            sum += value
        }
        return (amax / 127, sum)
    }

    /// The quantized vector `v` as floats (`d · q`), for tests.
    func dequantized(_ v: Int) -> [Float] {
        let blocks = blocksPerVector
        return (0..<width).map { i in
            if format == .float { return floats![v * floatStride + i] }
            return Float(quants[v * paddedWidth + i]) * scales[v * blocks + i / 32]
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
            corrections.deallocate()
            scaleCapacity = blocks
            scales = .allocate(capacity: blocks)
            sums = .allocate(capacity: blocks)
            corrections = .allocate(capacity: 2 * blocks)
        }
    }
}

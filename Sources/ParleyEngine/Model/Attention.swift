#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// Causal attention of one query head against a sequence's ``KVCache``. With an f16 cache it
/// follows llama.cpp's roundings: the query and the attention weights are rounded to f16 before they
/// meet the cache; a float cache (the `.float32` precision) rounds nothing. The softmax uses a
/// vectorized exponential and sums it in double.
///
/// The loops keep their accumulators in registers: scores four positions at a time (independent
/// multiply-add chains, summed across lanes together), the weighted sum of values 64 elements at a
/// time.
enum Attention {
    /// `out = softmax(q·Kᵀ / sqrt(d)) · V` over positions `0...last` of key/value head `kvHead` of
    /// `cache` in `layer` (its head dimension a multiple of 8). `scratch` holds at least `last + 8` floats.
    static func attendHead(
        query: UnsafePointer<Float>, cache: KVCache, layer: Int, kvHead: Int, last: Int,
        scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        switch cache.element {
        case .half:
            attend(HalfLanes.self, query, cache, layer, kvHead, last, scratch, out)
        case .float:
            attend(FloatLanes.self, query, cache, layer, kvHead, last, scratch, out)
        }
    }

    private static func attend<E: Lanes>(
        _: E.Type, _ query: UnsafePointer<Float>, _ cache: KVCache, _ layer: Int, _ kvHead: Int, _ last: Int,
        _ scratch: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>
    ) {
        let count = last + 1, headDim = cache.headDimension
        let keys = UnsafeRawPointer(cache.key(layer: layer, head: kvHead, position: 0))
        let values = UnsafeRawPointer(cache.value(layer: layer, head: kvHead, position: 0))
        let rowBytes = headDim / 8 * E.bytesPer8
        let vectors = headDim / 8
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: vectors) { q in
            for j in 0..<vectors {
                let raw = UnsafeRawPointer(query + 8 * j).loadUnaligned(as: SIMD8<Float>.self)
                q[j] = E.roundsToHalf ? VectorMath.roundToHalf(raw) : raw
            }
            scores(E.self, q.baseAddress!, vectors: vectors, keys: keys, rowBytes: rowBytes, count: count, into: scratch)
        }
        softmax(scratch, count: count, scale: 1 / Float(headDim).squareRoot(), roundToHalf: E.roundsToHalf)
        weightedSum(E.self, scratch, values: values, rowBytes: rowBytes, count: count, vectors: vectors, out: out)
    }

    /// How a cache element type is read, eight at a time.
    protocol Lanes {
        /// Bytes of eight elements.
        static var bytesPer8: Int { get }
        /// Whether queries and attention weights are rounded to f16 to meet this type.
        static var roundsToHalf: Bool { get }
        /// Eight elements at `p + offset` as floats.
        static func load8(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float>
    }

    enum HalfLanes: Lanes {
        static var bytesPer8: Int { 16 }
        static var roundsToHalf: Bool { true }
        @inline(__always)
        static func load8(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float> { VectorMath.loadHalves(p, offset) }
    }

    enum FloatLanes: Lanes {
        static var bytesPer8: Int { 32 }
        static var roundsToHalf: Bool { false }
        @inline(__always)
        static func load8(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float> {
            p.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        }
    }

    /// `scores[p] = q · K[p]` (unscaled).
    private static func scores<E: Lanes>(
        _: E.Type, _ q: UnsafePointer<SIMD8<Float>>, vectors: Int, keys: UnsafeRawPointer, rowBytes: Int, count: Int,
        into scores: UnsafeMutablePointer<Float>
    ) {
        var p = 0
        while p + 4 <= count {
            let k0 = keys + p * rowBytes, k1 = k0 + rowBytes, k2 = k1 + rowBytes, k3 = k2 + rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for j in 0..<vectors {
                let qj = q[j]
                a0 = a0.addingProduct(E.load8(k0, E.bytesPer8 * j), qj)
                a1 = a1.addingProduct(E.load8(k1, E.bytesPer8 * j), qj)
                a2 = a2.addingProduct(E.load8(k2, E.bytesPer8 * j), qj)
                a3 = a3.addingProduct(E.load8(k3, E.bytesPer8 * j), qj)
            }
            UnsafeMutableRawPointer(scores + p).storeBytes(of: sum4(a0, a1, a2, a3), as: SIMD4<Float>.self)
            p += 4
        }
        while p < count {
            let k = keys + p * rowBytes
            var a = SIMD8<Float>()
            for j in 0..<vectors { a = a.addingProduct(E.load8(k, E.bytesPer8 * j), q[j]) }
            scores[p] = sum4(a, a, a, a)[0]
            p += 1
        }
    }

    /// The lane sums of four vectors: pairs, then quadruples, then the two halves.
    @inline(__always)
    private static func sum4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD4<Float> {
        #if arch(x86_64)
            let h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d))
            return h.lowHalf + h.highHalf
        #else
            func s(_ v: SIMD8<Float>) -> Float {
                let x = v.lowHalf + v.highHalf
                return (x[0] + x[1]) + (x[2] + x[3])
            }
            return SIMD4(s(a), s(b), s(c), s(d))
        #endif
    }

    /// Scales `x[0..<count]` and replaces it with its softmax, rounded to f16 if `roundToHalf` (like
    /// llama.cpp's f16 product with the value cache). Lane-wise code only: the generic lane
    /// comparisons and extractions go through memory.
    private static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int, scale: Float, roundToHalf: Bool) {
        var maxScore = -Float.infinity
        for p in 0..<count {
            x[p] *= scale
            maxScore = max(maxScore, x[p])
        }
        // Whole vectors; the padding's exponentials are zeroed before the sum (scratch has room).
        let padded = (count + 7) / 8 * 8
        let m = SIMD8<Float>(repeating: maxScore)
        for p in stride(from: 0, to: padded, by: 8) {
            let raw = UnsafeRawPointer(x + p).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(x + p).storeBytes(of: VectorMath.exp(raw - m), as: SIMD8<Float>.self)
        }
        for p in count..<padded { x[p] = 0 }
        var total = VectorMath.sumInDouble(x, count: padded)
        if total == 0 { total = 1 }
        let norm = Float(1 / total)
        if roundToHalf {
            for p in 0..<count { x[p] = Float(Float16(x[p] * norm)) }
        } else {
            for p in 0..<count { x[p] *= norm }
        }
    }

    /// `out = Σₚ w[p] · V[p]`, 64 elements at a time in eight register accumulators (eight at a
    /// time for a head width that is not a multiple of 64).
    private static func weightedSum<E: Lanes>(
        _: E.Type, _ w: UnsafePointer<Float>, values: UnsafeRawPointer, rowBytes: Int, count: Int, vectors: Int,
        out: UnsafeMutablePointer<Float>
    ) {
        var j = 0
        while j + 8 <= vectors {
            var o0 = SIMD8<Float>(), o1 = SIMD8<Float>(), o2 = SIMD8<Float>(), o3 = SIMD8<Float>()
            var o4 = SIMD8<Float>(), o5 = SIMD8<Float>(), o6 = SIMD8<Float>(), o7 = SIMD8<Float>()
            var v = values + E.bytesPer8 * j
            for p in 0..<count {
                let s = SIMD8<Float>(repeating: w[p])
                o0 = o0.addingProduct(E.load8(v, 0 * E.bytesPer8), s)
                o1 = o1.addingProduct(E.load8(v, 1 * E.bytesPer8), s)
                o2 = o2.addingProduct(E.load8(v, 2 * E.bytesPer8), s)
                o3 = o3.addingProduct(E.load8(v, 3 * E.bytesPer8), s)
                o4 = o4.addingProduct(E.load8(v, 4 * E.bytesPer8), s)
                o5 = o5.addingProduct(E.load8(v, 5 * E.bytesPer8), s)
                o6 = o6.addingProduct(E.load8(v, 6 * E.bytesPer8), s)
                o7 = o7.addingProduct(E.load8(v, 7 * E.bytesPer8), s)
                v += rowBytes
            }
            let o = UnsafeMutableRawPointer(out + 8 * j)
            o.storeBytes(of: o0, toByteOffset: 0, as: SIMD8<Float>.self)
            o.storeBytes(of: o1, toByteOffset: 32, as: SIMD8<Float>.self)
            o.storeBytes(of: o2, toByteOffset: 64, as: SIMD8<Float>.self)
            o.storeBytes(of: o3, toByteOffset: 96, as: SIMD8<Float>.self)
            o.storeBytes(of: o4, toByteOffset: 128, as: SIMD8<Float>.self)
            o.storeBytes(of: o5, toByteOffset: 160, as: SIMD8<Float>.self)
            o.storeBytes(of: o6, toByteOffset: 192, as: SIMD8<Float>.self)
            o.storeBytes(of: o7, toByteOffset: 224, as: SIMD8<Float>.self)
            j += 8
        }
        while j < vectors {
            var acc = SIMD8<Float>()
            var v = values + E.bytesPer8 * j
            for p in 0..<count {
                acc = acc.addingProduct(E.load8(v, 0 * E.bytesPer8), SIMD8(repeating: w[p]))
                v += rowBytes
            }
            UnsafeMutableRawPointer(out + 8 * j).storeBytes(of: acc, as: SIMD8<Float>.self)
            j += 1
        }
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif
import CParleyKernels

/// Causal attention of one query head against a sequence's ``KVCache``. With an f16 cache it
/// follows llama.cpp's roundings: the query and the attention weights are rounded to f16 before they
/// meet the cache; a float cache (the `.float32` precision) rounds nothing. The softmax uses a
/// vectorized exponential and sums it in double.
///
/// The loops keep their accumulators in registers: scores four positions at a time (independent
/// multiply-add chains, summed across lanes together), the weighted sum of values 64 elements at a
/// time. This is the attention of one query at a time (a decoding token's heads when the batch is
/// too small to share out otherwise, and the reference for the rest); several queries that read the
/// same keys and values go through ``attendRun`` (Attention+Runs.swift), with the same results.
enum Attention {
    /// `out = softmax(q·Kᵀ · scale) · V` for `heads` consecutive query heads (at `query`, outputs
    /// at `out`, `headDimension` apart) that share key/value head `kvHead` of `cache` in `layer`, over
    /// positions `first...last` (`first` > 0 in a sliding-window layer once the window is full).
    /// `scale` defaults to `1/√headDimension`. `scratch` holds at least `heads · (last - first + 8)`
    /// floats.
    /// With `softcap` (Gemma 2), each scaled score `s` becomes `softcap · tanh(s / softcap)`
    /// before the softmax.
    /// `kernels` picks the softmax (the results are the same).
    static func attendGroup(
        query: UnsafePointer<Float>, heads: Int, cache: KVCache, layer: Int, kvHead: Int, first: Int = 0, last: Int,
        scale: Float? = nil, softcap: Float? = nil, scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
        kernels: KernelPath = .preferred
    ) {
        let scale = scale ?? 1 / Float(cache.headDimension).squareRoot()
        switch cache.element {
        case .half:
            attend(HalfLanes.self, query, heads, cache, layer, kvHead, first, last, scale, softcap, scratch, out, kernels)
        case .float:
            attend(FloatLanes.self, query, heads, cache, layer, kvHead, first, last, scale, softcap, scratch, out, kernels)
        }
    }

    private static func attend<E: Lanes>(
        _: E.Type, _ query: UnsafePointer<Float>, _ heads: Int, _ cache: KVCache, _ layer: Int, _ kvHead: Int,
        _ first: Int, _ last: Int, _ scale: Float, _ softcap: Float?, _ scratch: UnsafeMutablePointer<Float>,
        _ out: UnsafeMutablePointer<Float>, _ kernels: KernelPath
    ) {
        let count = last - first + 1, headDim = cache.headDimension, stride = count + 7
        let keys = UnsafeRawPointer(cache.key(layer: layer, head: kvHead, position: first))
        let values = UnsafeRawPointer(cache.value(layer: layer, head: kvHead, position: first))
        let rowBytes = headDim / 8 * E.bytesPer8
        let vectors = headDim / 8
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: heads * vectors) { q in
            let q = q.baseAddress!
            loadQueries(E.self, heads, vectors: vectors, into: q) { query + $0 * headDim }
            for h in 0..<heads {
                scores(
                    E.self, q + h * vectors, vectors: vectors, keys: keys, rowBytes: rowBytes, count: count,
                    into: scratch + h * stride)
            }
        }
        for h in 0..<heads {
            softmax(
                scratch + h * stride, count: count, scale: scale, softcap: softcap, roundToHalf: E.roundsToHalf,
                avx512: kernels == .vnni)
            weightedSum(
                E.self, scratch + h * stride, values: values, rowBytes: rowBytes, count: count, vectors: vectors,
                out: out + h * headDim)
        }
    }

    /// `count` query vectors (query `i` at `query(i)`, `8 · vectors` floats) into `q`, one after the
    /// other, rounded to f16 precision if `E`'s products round (llama.cpp's f16 query).
    @inline(__always)
    static func loadQueries<E: Lanes>(
        _: E.Type, _ count: Int, vectors: Int, into q: UnsafeMutablePointer<SIMD8<Float>>,
        _ query: (Int) -> UnsafePointer<Float>
    ) {
        for i in 0..<count {
            let source = UnsafeRawPointer(query(i))
            for j in 0..<vectors {
                let raw = source.loadUnaligned(fromByteOffset: 32 * j, as: SIMD8<Float>.self)
                q[i * vectors + j] = E.roundsToHalf ? VectorMath.roundToHalf(raw) : raw
            }
        }
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
    static func scores<E: Lanes>(
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
    static func sum4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> SIMD4<Float> {
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
    /// llama.cpp's f16 product with the value cache). Eight lanes at a time through ``VectorMath``
    /// (the generic lane comparisons and conversions go through memory or calls); `x` has room for
    /// the padding to a multiple of eight, which ends zeroed. With `avx512` and no `softcap`,
    /// `CParleyKernels`' softmax computes it sixteen lanes at a time, with the same results.
    static func softmax(
        _ x: UnsafeMutablePointer<Float>, count: Int, scale: Float, softcap: Float?, roundToHalf: Bool,
        avx512: Bool = false
    ) {
        if avx512, softcap == nil { return parley_attention_softmax(x, Int32(count), scale, roundToHalf ? 1 : 0) }
        @inline(__always) func load(_ p: Int) -> SIMD8<Float> { UnsafeRawPointer(x + p).loadUnaligned(as: SIMD8<Float>.self) }
        @inline(__always) func store(_ v: SIMD8<Float>, _ p: Int) {
            UnsafeMutableRawPointer(x + p).storeBytes(of: v, as: SIMD8<Float>.self)
        }
        let whole = count / 8 * 8, padded = (count + 7) / 8 * 8
        var maxScore = -Float.infinity
        if let softcap {
            for p in 0..<count { x[p] = tanhf(x[p] * scale / softcap) * softcap }
            for p in 0..<count { maxScore = max(maxScore, x[p]) }
        } else {
            var m = SIMD8<Float>(repeating: -.infinity)
            for p in stride(from: 0, to: whole, by: 8) {
                let v = load(p) * scale
                store(v, p)
                m = VectorMath.maximum(m, v)
            }
            maxScore = VectorMath.horizontalMax(m)
            for p in whole..<count {
                x[p] *= scale
                maxScore = max(maxScore, x[p])
            }
        }
        // Whole vectors; the padding's exponentials are zeroed before the sum.
        let m = SIMD8<Float>(repeating: maxScore)
        for p in stride(from: 0, to: padded, by: 8) { store(VectorMath.exp(load(p) - m), p) }
        for p in count..<padded { x[p] = 0 }
        var total = VectorMath.sumInDouble(x, count: padded)
        if total == 0 { total = 1 }
        let norm = SIMD8<Float>(repeating: Float(1 / total))
        if roundToHalf {
            for p in stride(from: 0, to: padded, by: 8) { store(VectorMath.roundToHalf(load(p) * norm), p) }
        } else {
            for p in stride(from: 0, to: padded, by: 8) { store(load(p) * norm, p) }
        }
    }

    /// `out = Σₚ w[p] · V[p]` (with `accumulate`, `out += …`, continuing `out`'s sums), 64 elements
    /// at a time in eight register accumulators (eight at a time for a head width that is not a
    /// multiple of 64).
    static func weightedSum<E: Lanes>(
        _: E.Type, _ w: UnsafePointer<Float>, values: UnsafeRawPointer, rowBytes: Int, count: Int, vectors: Int,
        out: UnsafeMutablePointer<Float>, accumulate: Bool = false
    ) {
        @inline(__always) func start(_ j: Int) -> SIMD8<Float> {
            accumulate ? UnsafeRawPointer(out + 8 * j).loadUnaligned(as: SIMD8<Float>.self) : SIMD8()
        }
        var j = 0
        while j + 8 <= vectors {
            var o0 = start(j), o1 = start(j + 1), o2 = start(j + 2), o3 = start(j + 3)
            var o4 = start(j + 4), o5 = start(j + 5), o6 = start(j + 6), o7 = start(j + 7)
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
            var acc = start(j)
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

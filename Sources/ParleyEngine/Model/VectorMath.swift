#if arch(x86_64)
    import _Builtin_intrinsics.intel
    import CParleyKernels
#endif

/// Element-wise functions on eight floats at once: `exp`, and the lane operations the generic SIMD
/// API does not lower to single AVX instructions (the kernels use them too).
enum VectorMath {
    /// `eˣ` lane by lane, within 2 ulp of `expf` for |x| ≤ 87 (inputs are clamped to ±87.3, where
    /// `eˣ` is still a normal float). Cephes' method: `x = n·ln 2 + r` with |r| ≤ ln 2 / 2 (ln 2 in
    /// two parts so that `r` is exact), a degree-7 polynomial for `eʳ`, and `2ⁿ` built in the
    /// exponent bits.
    @inline(__always)
    static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let limit = SIMD8<Float>(repeating: 87.3)
        let clamped = minimum(maximum(x, -limit), limit)
        let n = roundToInt(clamped * 1.442_695_04)  // x / ln 2
        let nf = float(n)
        var r = clamped.addingProduct(nf, SIMD8(repeating: -0.693_359_375))
        r = r.addingProduct(nf, SIMD8(repeating: 2.121_944_4e-4))
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        let e = (p * (r * r) + r) + 1
        let scale = unsafeBitCast((n &+ 127) &<< 23, to: SIMD8<Float>.self)
        return e * scale
    }

    /// `v` as floats (`vcvtdq2ps`; the generic conversion is a call).
    @inline(__always)
    static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        #if arch(x86_64)
            _mm256_cvtepi32_ps(unsafeBitCast(v, to: __m256i.self))
        #else
            SIMD8<Float>(v)
        #endif
    }

    /// Rounds to the nearest integer, ties to even (`vcvtps2dq` in the default rounding mode).
    @inline(__always)
    static func roundToInt(_ v: SIMD8<Float>) -> SIMD8<Int32> {
        #if arch(x86_64)
            unsafeBitCast(_mm256_cvtps_epi32(v), to: SIMD8<Int32>.self)
        #else
            SIMD8<Int32>(v.rounded(.toNearestOrEven), rounding: .towardZero)
        #endif
    }

    /// Eight f16 values at `p + offset` widened to floats (`vcvtph2ps`; the generic conversion
    /// is not always inlined).
    @inline(__always)
    static func loadHalves(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD8<Float> {
        #if arch(x86_64)
            _mm256_cvtph_ps(p.loadUnaligned(fromByteOffset: offset, as: __m128i.self))
        #else
            SIMD8<Float>(p.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float16>.self))
        #endif
    }

    /// `v` rounded to f16 precision, to nearest even, lane by lane (`vcvtps2ph` and back, through
    /// CParleyKernels: the intrinsic takes an immediate Swift cannot pass, and the generic conversion
    /// is a call).
    @inline(__always)
    static func roundToHalf(_ v: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
            parley_round_to_half(v)
        #else
            SIMD8<Float>(SIMD8<Float16>(v))
        #endif
    }

    /// Lane-wise maximum (`vmaxps`; the generic `pointwiseMax` is not inlined and slow).
    @inline(__always)
    static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
            _mm256_max_ps(a, b)
        #else
            a.replacing(with: b, where: b .> a)
        #endif
    }

    /// The largest lane (`vmaxps` on halves; the generic `max()` and lane comparisons go through memory).
    @inline(__always)
    static func horizontalMax(_ v: SIMD8<Float>) -> Float {
        #if arch(x86_64)
            let m4 = _mm_max_ps(v.lowHalf, v.highHalf)
            let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4))
            return _mm_max_ss(m2, _mm_movehdup_ps(m2))[0]
        #else
            return v.max()
        #endif
    }

    /// Σ x[0..<count] (a multiple of 8) in double, eight lanes at a time (`vcvtps2pd`).
    @inline(__always)
    static func sumInDouble(_ x: UnsafePointer<Float>, count: Int) -> Double {
        #if arch(x86_64)
            var a = SIMD4<Double>(), b = SIMD4<Double>()
            for p in stride(from: 0, to: count, by: 8) {
                let v = UnsafeRawPointer(x + p).loadUnaligned(as: SIMD8<Float>.self)
                a += _mm256_cvtps_pd(v.lowHalf)
                b += _mm256_cvtps_pd(v.highHalf)
            }
            let s = a + b
            return (s[0] + s[1]) + (s[2] + s[3])
        #else
            var total = 0.0
            for p in 0..<count { total += Double(x[p]) }
            return total
        #endif
    }

    /// Lane-wise minimum (`vminps`).
    @inline(__always)
    static func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64)
            _mm256_min_ps(a, b)
        #else
            a.replacing(with: b, where: b .< a)
        #endif
    }
}

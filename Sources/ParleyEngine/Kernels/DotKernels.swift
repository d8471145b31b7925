#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// The inner SIMD loops: one weight row against one or four quantized activation vectors.
///
/// They use only same-width SIMD integer operations, bit casts and float arithmetic, which the
/// compiler lowers to single AVX2 instructions (widening conversions between SIMD types are not
/// lowered well, so lanes are split with shifts instead, and int32 → float goes through the
/// 1.5·2²³ trick, exact for |x| < 2²²).
enum DotKernels {
    @inline(__always)
    static func toFloat(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        #if arch(x86_64)
            // vcvtdq2ps: exact like the trick below for the sums the kernels produce (|x| < 2²²).
            _mm256_cvtepi32_ps(unsafeBitCast(v, to: __m256i.self))
        #else
            unsafeBitCast(v &+ SIMD8<Int32>(repeating: 0x4B40_0000), to: SIMD8<Float>.self)
                - SIMD8<Float>(repeating: 12_582_912.0)
        #endif
    }

    /// Sums adjacent Int16 lanes into Int32 lanes.
    @inline(__always)
    static func pairSum(_ v: SIMD16<Int16>) -> SIMD8<Int32> {
        let x = unsafeBitCast(v, to: SIMD8<Int32>.self)
        return ((x &<< 16) &>> 16) &+ (x &>> 16)
    }

    /// Multiplies Int16 lanes and sums adjacent products into Int32 lanes (`vpmaddwd`).
    @inline(__always)
    static func madd(_ a: SIMD16<Int16>, _ b: SIMD16<Int16>) -> SIMD8<Int32> {
        #if arch(x86_64)
            // The generic pattern below is not matched to one `vpmaddwd` (the compiler emits two
            // plus blends and shifts), so the intrinsic is called directly; same integer result.
            unsafeBitCast(
                _mm256_madd_epi16(unsafeBitCast(a, to: __m256i.self), unsafeBitCast(b, to: __m256i.self)),
                to: SIMD8<Int32>.self)
        #else
            let x = unsafeBitCast(a, to: SIMD8<Int32>.self), y = unsafeBitCast(b, to: SIMD8<Int32>.self)
            return ((x &<< 16) &>> 16) &* ((y &<< 16) &>> 16) &+ (x &>> 16) &* (y &>> 16)
        #endif
    }

    @inline(__always)
    static func halves(_ a: Float, _ b: Float) -> SIMD8<Float> {
        SIMD8<Float>(lowHalf: SIMD4(repeating: a), highHalf: SIMD4(repeating: b))
    }

    /// Splits the four nibbles of each lane. `mask` must be sixteen 0xF lanes, passed in from memory
    /// (``WeightMatrix/nibbleMask``): when the compiler can see the constant it "simplifies" the
    /// later `vpmaddwd` pattern into slow shuffles and 32-bit multiplies (2× slower).
    @inline(__always)
    static func nibbles(_ w: SIMD16<UInt16>, _ mask: SIMD16<UInt16>) -> (
        SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>
    ) {
        return (
            unsafeBitCast(w & mask, to: SIMD16<Int16>.self),
            unsafeBitCast((w &>> 4) & mask, to: SIMD16<Int16>.self),
            unsafeBitCast((w &>> 8) & mask, to: SIMD16<Int16>.self),
            unsafeBitCast((w &>> 12) & mask, to: SIMD16<Int16>.self)
        )
    }

    @inline(__always)
    static func load16(_ p: UnsafePointer<Int16>, _ offset: Int) -> SIMD16<Int16> {
        UnsafeRawPointer(p + offset).loadUnaligned(as: SIMD16<Int16>.self)
    }

    // MARK: Nibble weights (Q4_0, Q4_1, Q4_K)

    /// Σ (d·q + m)·(da·qa) over a row: `w` quants, `d`/`m` per block; `a` activations, `da`/`sa` per block.
    @inline(__always)
    static func nibble1(
        _ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ m: UnsafePointer<Float>,
        _ a: UnsafePointer<Int16>, _ da: UnsafePointer<Float>, _ sa: UnsafePointer<Float>, pairs: Int,
        mask: SIMD16<UInt16>
    ) -> Float {
        var acc = SIMD8<Float>()
        for p in 0..<pairs {
            let (n0, n1, n2, n3) = nibbles(w.loadUnaligned(fromByteOffset: p * 32, as: SIMD16<UInt16>.self), mask)
            let ab = a + p * 64
            let s = madd(n0, load16(ab, 0)) &+ madd(n1, load16(ab, 16)) &+ madd(n2, load16(ab, 32))
                &+ madd(n3, load16(ab, 48))
            let scale = halves(d[2 * p] * da[2 * p], d[2 * p + 1] * da[2 * p + 1])
            acc = acc.addingProduct(toFloat(s), scale)
        }
        return acc.sum() + float1(m, sa, count: 2 * pairs)
    }

    /// ``nibble1`` for four activation vectors at once (the weights are unpacked once).
    @inline(__always)
    static func nibble4(
        _ w: UnsafeRawPointer, _ d: UnsafePointer<Float>, _ m: UnsafePointer<Float>,
        _ a: UnsafePointer<Int16>, aStride: Int, _ da: UnsafePointer<Float>, _ sa: UnsafePointer<Float>,
        sStride: Int, pairs: Int, mask: SIMD16<UInt16>
    ) -> SIMD4<Float> {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride
        let da1 = da + sStride, da2 = da + 2 * sStride, da3 = da + 3 * sStride
        let sa1 = sa + sStride, sa2 = sa + 2 * sStride, sa3 = sa + 3 * sStride
        for p in 0..<pairs {
            let (n0, n1, n2, n3) = nibbles(w.loadUnaligned(fromByteOffset: p * 32, as: SIMD16<UInt16>.self), mask)
            let o = p * 64
            let s0 = madd(n0, load16(a, o)) &+ madd(n1, load16(a, o + 16)) &+ madd(n2, load16(a, o + 32))
                &+ madd(n3, load16(a, o + 48))
            let s1 = madd(n0, load16(a1, o)) &+ madd(n1, load16(a1, o + 16)) &+ madd(n2, load16(a1, o + 32))
                &+ madd(n3, load16(a1, o + 48))
            let s2 = madd(n0, load16(a2, o)) &+ madd(n1, load16(a2, o + 16)) &+ madd(n2, load16(a2, o + 32))
                &+ madd(n3, load16(a2, o + 48))
            let s3 = madd(n0, load16(a3, o)) &+ madd(n1, load16(a3, o + 16)) &+ madd(n2, load16(a3, o + 32))
                &+ madd(n3, load16(a3, o + 48))
            let b0 = 2 * p, b1 = 2 * p + 1
            let dw = halves(d[b0], d[b1])
            acc0 = acc0.addingProduct(toFloat(s0), dw * halves(da[b0], da[b1]))
            acc1 = acc1.addingProduct(toFloat(s1), dw * halves(da1[b0], da1[b1]))
            acc2 = acc2.addingProduct(toFloat(s2), dw * halves(da2[b0], da2[b1]))
            acc3 = acc3.addingProduct(toFloat(s3), dw * halves(da3[b0], da3[b1]))
        }
        // The offset terms Σ m·s in a separate pass: inside the loop they spill registers.
        let blocks = 2 * pairs
        let offsetSum = SIMD4(
            float1(m, sa, count: blocks), float1(m, sa1, count: blocks), float1(m, sa2, count: blocks),
            float1(m, sa3, count: blocks))
        return SIMD4(acc0.sum(), acc1.sum(), acc2.sum(), acc3.sum()) + offsetSum
    }

    // MARK: Byte weights (Q8_0, Q6_K)

    @inline(__always)
    static func bytes(_ w: SIMD16<Int16>) -> (SIMD16<Int16>, SIMD16<Int16>) {
        ((w &<< 8) &>> 8, w &>> 8)
    }

    /// Σ (s·q)·(da·qa) over a row: `w` int8 quants, `s` per 16 elements; `a` activations, `da` per block.
    @inline(__always)
    static func byte1(
        _ w: UnsafeRawPointer, _ s: UnsafePointer<Float>, _ a: UnsafePointer<Int16>, _ da: UnsafePointer<Float>,
        blocks: Int
    ) -> Float {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let (lo, hi) = bytes(w.loadUnaligned(fromByteOffset: b * 32, as: SIMD16<Int16>.self))
            let p = madd(lo, load16(a, b * 32)) &+ madd(hi, load16(a, b * 32 + 16))
            acc = acc.addingProduct(toFloat(p), halves(s[2 * b], s[2 * b + 1]) * da[b])
        }
        return acc.sum()
    }

    /// ``byte1`` for four activation vectors at once.
    @inline(__always)
    static func byte4(
        _ w: UnsafeRawPointer, _ s: UnsafePointer<Float>, _ a: UnsafePointer<Int16>, aStride: Int,
        _ da: UnsafePointer<Float>, sStride: Int, blocks: Int
    ) -> SIMD4<Float> {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let a1 = a + aStride, a2 = a + 2 * aStride, a3 = a + 3 * aStride
        let da1 = da + sStride, da2 = da + 2 * sStride, da3 = da + 3 * sStride
        for b in 0..<blocks {
            let (lo, hi) = bytes(w.loadUnaligned(fromByteOffset: b * 32, as: SIMD16<Int16>.self))
            let o = b * 32
            let p0 = madd(lo, load16(a, o)) &+ madd(hi, load16(a, o + 16))
            let p1 = madd(lo, load16(a1, o)) &+ madd(hi, load16(a1, o + 16))
            let p2 = madd(lo, load16(a2, o)) &+ madd(hi, load16(a2, o + 16))
            let p3 = madd(lo, load16(a3, o)) &+ madd(hi, load16(a3, o + 16))
            let sw = halves(s[2 * b], s[2 * b + 1])
            acc0 = acc0.addingProduct(toFloat(p0), sw * da[b])
            acc1 = acc1.addingProduct(toFloat(p1), sw * da1[b])
            acc2 = acc2.addingProduct(toFloat(p2), sw * da2[b])
            acc3 = acc3.addingProduct(toFloat(p3), sw * da3[b])
        }
        return SIMD4(acc0.sum(), acc1.sum(), acc2.sum(), acc3.sum())
    }

    // MARK: Float weights

    /// Σ w·x over `count` floats.
    @inline(__always)
    static func float1(_ w: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let wv = UnsafeRawPointer(w + i).loadUnaligned(as: SIMD8<Float>.self)
            let xv = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc = acc.addingProduct(wv, xv)
            i += 8
        }
        var total = acc.sum()
        while i < count {
            total += w[i] * x[i]
            i += 1
        }
        return total
    }
}

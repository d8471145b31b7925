#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// The SIMD building blocks of the matrix kernels (see ``DotKernels+Nibble.swift`` and
/// ``DotKernels+Byte.swift``), and the float dot product.
///
/// Products of weight quants and 8-bit activation quants are summed exactly in integers with
/// `vpmaddubsw` (unsigned byte × signed byte, adjacent pairs summed into Int16) and `vpmaddwd`
/// against ones (adjacent Int16 pairs into Int32); each block's sum is then scaled in float. On other
/// architectures the same integer results come from plain SIMD arithmetic.
///
/// The quantized kernels compute eight rows at once (see ``WeightMatrix``): each 32-bit lane of a
/// weight vector holds four consecutive quants of one of the eight rows, and is multiplied by the
/// same four activation quants broadcast to every lane, so the sums come out one row per lane with
/// no horizontal reduction.
enum DotKernels {
    /// Constants the kernels take from memory rather than as literals: when the compiler can see
    /// them it rewrites the multiply-add patterns into slower shuffles.
    struct Constants {
        /// Thirty-two 0x0F bytes (as 16-bit lanes: byte-wise operations on `SIMD32<UInt8>` are not
        /// vectorized by the compiler).
        var mask = SIMD16<UInt16>(repeating: 0x0F0F)
        /// Sixteen Int16 ones.
        var ones = SIMD16<Int16>(repeating: 1)
        /// Thirty-two 0x30 bytes: bits 4 and 5, where six-bit quants keep their high bits.
        var highBits = SIMD16<UInt16>(repeating: 0x3030)
        /// Thirty-two 0x10 bytes: bit 4, a five-bit quant's high bit.
        var fifthBit = SIMD16<UInt16>(repeating: 0x1010)
        /// Thirty-two 0x03 bytes: a two-bit field.
        var twoBits = SIMD16<UInt16>(repeating: 0x0303)
        /// Thirty-two 0x04 bytes: bit 2, a three-bit quant's high bit.
        var thirdBit = SIMD16<UInt16>(repeating: 0x0404)
        /// The sixteen non-linear levels of IQ4_NL and IQ4_XS, in each 16-byte half (the table
        /// `vpshufb` looks up in).
        var levels = SIMD32<Int8>(
            GGMLDequantizer.nonlinearLevels + GGMLDequantizer.nonlinearLevels)
    }

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

    /// Multiplies unsigned bytes of `u` by signed bytes of `s` and sums adjacent products into Int16
    /// lanes (`vpmaddubsw`; the kernels' ranges never saturate).
    @inline(__always)
    static func maddubs(_ u: SIMD32<UInt8>, _ s: SIMD32<Int8>) -> SIMD16<Int16> {
        #if arch(x86_64)
            unsafeBitCast(
                _mm256_maddubs_epi16(unsafeBitCast(u, to: __m256i.self), unsafeBitCast(s, to: __m256i.self)),
                to: SIMD16<Int16>.self)
        #else
            let x = unsafeBitCast(u, to: SIMD16<Int16>.self), y = unsafeBitCast(s, to: SIMD16<Int16>.self)
            let byteMask = SIMD16<Int16>(repeating: 0xFF)
            return (x & byteMask) &* ((y &<< 8) &>> 8) &+ ((x &>> 8) & byteMask) &* (y &>> 8)
        #endif
    }

    /// Sums adjacent Int16 lanes into Int32 lanes (`vpmaddwd` against ones).
    @inline(__always)
    static func widen(_ v: SIMD16<Int16>, _ ones: SIMD16<Int16>) -> SIMD8<Int32> {
        #if arch(x86_64)
            unsafeBitCast(
                _mm256_madd_epi16(unsafeBitCast(v, to: __m256i.self), unsafeBitCast(ones, to: __m256i.self)),
                to: SIMD8<Int32>.self)
        #else
            let x = unsafeBitCast(v, to: SIMD8<Int32>.self)
            return ((x &<< 16) &>> 16) &+ (x &>> 16)
        #endif
    }

    /// `a` with each byte negated where `w` is negative and zeroed where `w` is zero (`vpsignb`).
    @inline(__always)
    static func sign(_ a: SIMD32<Int8>, _ w: SIMD32<Int8>) -> SIMD32<Int8> {
        #if arch(x86_64)
            unsafeBitCast(
                _mm256_sign_epi8(unsafeBitCast(a, to: __m256i.self), unsafeBitCast(w, to: __m256i.self)),
                to: SIMD32<Int8>.self)
        #else
            let zero = SIMD32<Int8>()
            return zero.replacing(with: a, where: w .> zero).replacing(with: 0 &- a, where: w .< zero)
        #endif
    }

    /// `|w|` as unsigned bytes (|−128| = 128).
    @inline(__always)
    static func magnitude(_ w: SIMD32<Int8>) -> SIMD32<UInt8> {
        #if arch(x86_64)
            unsafeBitCast(_mm256_abs_epi8(unsafeBitCast(w, to: __m256i.self)), to: SIMD32<UInt8>.self)
        #else
            unsafeBitCast(w.replacing(with: 0 &- w, where: w .< SIMD32<Int8>()), to: SIMD32<UInt8>.self)
        #endif
    }

    /// The entries of `table` (sixteen bytes, repeated in both halves) at the indices `i` (0…15):
    /// `vpshufb`.
    @inline(__always)
    static func lookup(_ table: SIMD32<Int8>, _ i: SIMD32<UInt8>) -> SIMD32<Int8> {
        #if arch(x86_64)
            unsafeBitCast(
                _mm256_shuffle_epi8(unsafeBitCast(table, to: __m256i.self), unsafeBitCast(i, to: __m256i.self)),
                to: SIMD32<Int8>.self)
        #else
            var out = SIMD32<Int8>()
            for lane in 0..<32 { out[lane] = table[Int(i[lane])] }
            return out
        #endif
    }

    /// Four activation quants at `p + offset` repeated in every 32-bit lane (`vpbroadcastd`).
    @inline(__always)
    static func broadcast4(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD32<Int8> {
        unsafeBitCast(SIMD8<Int32>(repeating: p.loadUnaligned(fromByteOffset: offset, as: Int32.self)), to: SIMD32<Int8>.self)
    }

    @inline(__always)
    static func loadFloats(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// A row group's scales or offsets as the kernels read them (see ``WeightMatrix/ScaleEncoding``):
    /// `load8(i)` is the eight values at index `i…i+7` of the group's scales (a multiple of 8).
    protocol ScaleStorage {
        func load8(_ index: Int) -> SIMD8<Float>
    }

    struct FloatScales: ScaleStorage {
        var base: UnsafeRawPointer

        @inline(__always)
        func load8(_ index: Int) -> SIMD8<Float> {
            base.loadUnaligned(fromByteOffset: 4 * index, as: SIMD8<Float>.self)
        }
    }

    struct HalfScales: ScaleStorage {
        var base: UnsafeRawPointer

        @inline(__always)
        func load8(_ index: Int) -> SIMD8<Float> {
            VectorMath.loadHalves(base, 2 * index)  // vcvtph2ps
        }
    }

    /// Int8 codes times the f16 multiplier of their super-block and row: `multipliers` holds eight
    /// per super-block (one per row), and `indexShift` turns a scale index into its super-block
    /// (6 for 64 scales per super-block and row group — eight per block — and 7 for 128: Q2_K's,
    /// Q3_K's and Q6_K's sixteen per block).
    struct CodedScales: ScaleStorage {
        var codes: UnsafeRawPointer
        var multipliers: UnsafeRawPointer
        var indexShift: Int

        @inline(__always)
        func load8(_ index: Int) -> SIMD8<Float> {
            let c = SIMD8<Int32>(truncatingIfNeeded: codes.loadUnaligned(fromByteOffset: index, as: SIMD8<Int8>.self))
            return toFloat(c) * VectorMath.loadHalves(multipliers, 16 * (index &>> indexShift))
        }
    }

    /// One activation vector of a kernel call: its quants, per-block scales and scaled block sums,
    /// and (byte format) the corrections of its half blocks, `−128 · Σq` (two per block).
    struct Activation {
        var quants: UnsafeRawPointer
        var scales: UnsafePointer<Float>
        var sums: UnsafePointer<Float>
        var corrections: UnsafePointer<Int32>
    }

    /// Eight activation vectors interleaved (see ``QuantizedActivations/interleavedQuants``): the
    /// four quants of chunk `c` of vector `v` at byte `32c + 4v`, the scale and sum of block `b` of
    /// vector `v` at index `8b + v`, the correction of half `h` of block `b` at `(2b + h) · 8 + v`.
    struct ActivationGroup {
        var quants: UnsafeRawPointer
        var scales: UnsafePointer<Float>
        var sums: UnsafePointer<Float>
        var corrections: UnsafePointer<Int32>
    }

    // MARK: Float weights

    /// Σ w·x for four vectors `x0…x3` over `count` floats (the row is loaded once for all four).
    @inline(__always)
    static func float4(
        _ w: UnsafePointer<Float>, _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>,
        _ x3: UnsafePointer<Float>, count: Int
    ) -> SIMD4<Float> {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 8 <= count {
            let wv = loadFloats(w + i)
            a0 = a0.addingProduct(wv, loadFloats(x0 + i))
            a1 = a1.addingProduct(wv, loadFloats(x1 + i))
            a2 = a2.addingProduct(wv, loadFloats(x2 + i))
            a3 = a3.addingProduct(wv, loadFloats(x3 + i))
            i += 8
        }
        var total = SIMD4(a0.sum(), a1.sum(), a2.sum(), a3.sum())
        while i < count {
            total += SIMD4(x0[i], x1[i], x2[i], x3[i]) * w[i]
            i += 1
        }
        return total
    }

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

extension DotKernels {
    /// Σ q·qa of 16 elements for eight rows, in Int32: each `vpmaddubsw` pair (|w| ≤ 128 times ±a,
    /// at most 32512) is widened at once, as two of them could exceed Int16.
    @inline(__always)
    static func byteHalf(_ w: UnsafeRawPointer, _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>) -> SIMD8<Int32> {
        var t = SIMD8<Int32>()
        for k in 0..<4 {
            let q = w.loadUnaligned(fromByteOffset: k * 32, as: SIMD32<Int8>.self)
            t &+= widen(maddubs(magnitude(q), sign(broadcast4(a, offset + 4 * k), q)), ones)
        }
        return t
    }

    /// Σₖ (s·q)·(da·qa) for the eight rows of a byte row group (one per lane) and one activation
    /// vector: `w` the group's quants, `s` its scales (sixteen per block: eight rows × two halves).
    @inline(__always)
    static func byte1<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x: Activation, blocks: Int, constants: Constants
    ) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        let ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * 256, o = b * 32
            let da = x.scales[b]
            acc = acc.addingProduct(toFloat(byteHalf(wb, x.quants, o, ones)), s.load8(b * 16) * da)
            acc = acc.addingProduct(toFloat(byteHalf(wb + 128, x.quants, o + 16, ones)), s.load8(b * 16 + 8) * da)
        }
        return acc
    }

    /// ``byte1`` for four activation vectors at once.
    @inline(__always)
    static func byte4<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x0: Activation, _ x1: Activation, _ x2: Activation,
        _ x3: Activation, blocks: Int, constants: Constants
    ) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let ones = constants.ones
        for b in 0..<blocks {
            for half in 0..<2 {
                let wb = w + b * 256 + half * 128, o = b * 32 + half * 16
                var t0 = SIMD8<Int32>(), t1 = SIMD8<Int32>(), t2 = SIMD8<Int32>(), t3 = SIMD8<Int32>()
                for k in 0..<4 {
                    let q = wb.loadUnaligned(fromByteOffset: k * 32, as: SIMD32<Int8>.self)
                    let u = magnitude(q)
                    t0 &+= widen(maddubs(u, sign(broadcast4(x0.quants, o + 4 * k), q)), ones)
                    t1 &+= widen(maddubs(u, sign(broadcast4(x1.quants, o + 4 * k), q)), ones)
                    t2 &+= widen(maddubs(u, sign(broadcast4(x2.quants, o + 4 * k), q)), ones)
                    t3 &+= widen(maddubs(u, sign(broadcast4(x3.quants, o + 4 * k), q)), ones)
                }
                let sw = s.load8(b * 16 + half * 8)
                acc0 = acc0.addingProduct(toFloat(t0), sw * x0.scales[b])
                acc1 = acc1.addingProduct(toFloat(t1), sw * x1.scales[b])
                acc2 = acc2.addingProduct(toFloat(t2), sw * x2.scales[b])
                acc3 = acc3.addingProduct(toFloat(t3), sw * x3.scales[b])
            }
        }
        return (acc0, acc1, acc2, acc3)
    }

    /// ``byte4`` for the eight interleaved vectors of `x`; adds each vector's row sums to `acc[v]`
    /// in the same order as ``byte1``.
    @inline(__always)
    static func byte8<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x: ActivationGroup, blocks: Int, constants: Constants,
        into acc: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let ones = constants.ones
        for b in 0..<blocks {
            let xs = x.scales + 8 * b
            for half in 0..<2 {
                let wb = w + b * 256 + half * 128, a = x.quants + b * 256 + half * 128
                var t0 = SIMD8<Int32>(), t1 = SIMD8<Int32>(), t2 = SIMD8<Int32>(), t3 = SIMD8<Int32>()
                var t4 = SIMD8<Int32>(), t5 = SIMD8<Int32>(), t6 = SIMD8<Int32>(), t7 = SIMD8<Int32>()
                for k in 0..<4 {
                    let q = wb.loadUnaligned(fromByteOffset: k * 32, as: SIMD32<Int8>.self)
                    let u = magnitude(q), ak = a + 32 * k
                    t0 &+= widen(maddubs(u, sign(broadcast4(ak, 0), q)), ones)
                    t1 &+= widen(maddubs(u, sign(broadcast4(ak, 4), q)), ones)
                    t2 &+= widen(maddubs(u, sign(broadcast4(ak, 8), q)), ones)
                    t3 &+= widen(maddubs(u, sign(broadcast4(ak, 12), q)), ones)
                    t4 &+= widen(maddubs(u, sign(broadcast4(ak, 16), q)), ones)
                    t5 &+= widen(maddubs(u, sign(broadcast4(ak, 20), q)), ones)
                    t6 &+= widen(maddubs(u, sign(broadcast4(ak, 24), q)), ones)
                    t7 &+= widen(maddubs(u, sign(broadcast4(ak, 28), q)), ones)
                }
                let sw = s.load8(b * 16 + half * 8)
                acc[0] = acc[0].addingProduct(toFloat(t0), sw * xs[0])
                acc[1] = acc[1].addingProduct(toFloat(t1), sw * xs[1])
                acc[2] = acc[2].addingProduct(toFloat(t2), sw * xs[2])
                acc[3] = acc[3].addingProduct(toFloat(t3), sw * xs[3])
                acc[4] = acc[4].addingProduct(toFloat(t4), sw * xs[4])
                acc[5] = acc[5].addingProduct(toFloat(t5), sw * xs[5])
                acc[6] = acc[6].addingProduct(toFloat(t6), sw * xs[6])
                acc[7] = acc[7].addingProduct(toFloat(t7), sw * xs[7])
            }
        }
    }
}

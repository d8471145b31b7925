extension DotKernels {
    /// The low and high nibbles of 32 weight bytes: elements 4k…4k+3 and 16+4k…16+4k+3 of eight rows.
    @inline(__always)
    static func nibbles(_ w: UnsafeRawPointer, _ offset: Int, _ mask: SIMD16<UInt16>) -> (SIMD32<UInt8>, SIMD32<UInt8>) {
        let raw = w.loadUnaligned(fromByteOffset: offset, as: SIMD16<UInt16>.self)
        return (unsafeBitCast(raw & mask, to: SIMD32<UInt8>.self), unsafeBitCast((raw &>> 4) & mask, to: SIMD32<UInt8>.self))
    }

    /// Σ q·qa of one 32-element block for eight rows, in Int16 pairs: eight `vpmaddubsw` results of at
    /// most 2·15·127 = 3810 each, so the Int16 sum (≤ 30480) is exact.
    @inline(__always)
    static func nibbleStep(
        _ lo: SIMD32<UInt8>, _ hi: SIMD32<UInt8>, _ a: UnsafeRawPointer, _ offset: Int
    ) -> SIMD16<Int16> {
        maddubs(lo, broadcast4(a, offset)) &+ maddubs(hi, broadcast4(a, offset + 16))
    }

    /// Σₖ (d·q + m)·(da·qa) for the eight rows of a nibble row group (one per lane) and one activation
    /// vector: `w` the group's quants, `d`/`m` its scales and offsets (eight per block).
    @inline(__always)
    static func nibble1<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ d: S, _ m: S, _ x: Activation, blocks: Int,
        constants: Constants
    ) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        let mask = constants.mask, ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * 128, o = b * 32
            var t = SIMD16<Int16>()
            for k in 0..<4 {
                let (lo, hi) = nibbles(wb, k * 32, mask)
                t &+= nibbleStep(lo, hi, x.quants, o + 4 * k)
            }
            acc = acc.addingProduct(toFloat(widen(t, ones)), d.load8(b * 8) * x.scales[b])
            acc = acc.addingProduct(m.load8(b * 8), SIMD8(repeating: x.sums[b]))
        }
        return acc
    }

    /// ``nibble1`` for four activation vectors at once (the weights are unpacked once).
    @inline(__always)
    static func nibble4<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ d: S, _ m: S,
        _ x0: Activation, _ x1: Activation, _ x2: Activation, _ x3: Activation, blocks: Int, constants: Constants
    ) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let mask = constants.mask, ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * 128, o = b * 32
            var t0 = SIMD16<Int16>(), t1 = SIMD16<Int16>(), t2 = SIMD16<Int16>(), t3 = SIMD16<Int16>()
            for k in 0..<4 {
                let (lo, hi) = nibbles(wb, k * 32, mask)
                t0 &+= nibbleStep(lo, hi, x0.quants, o + 4 * k)
                t1 &+= nibbleStep(lo, hi, x1.quants, o + 4 * k)
                t2 &+= nibbleStep(lo, hi, x2.quants, o + 4 * k)
                t3 &+= nibbleStep(lo, hi, x3.quants, o + 4 * k)
            }
            let dw = d.load8(b * 8), mw = m.load8(b * 8)
            acc0 = acc0.addingProduct(toFloat(widen(t0, ones)), dw * x0.scales[b])
            acc1 = acc1.addingProduct(toFloat(widen(t1, ones)), dw * x1.scales[b])
            acc2 = acc2.addingProduct(toFloat(widen(t2, ones)), dw * x2.scales[b])
            acc3 = acc3.addingProduct(toFloat(widen(t3, ones)), dw * x3.scales[b])
            acc0 = acc0.addingProduct(mw, SIMD8(repeating: x0.sums[b]))
            acc1 = acc1.addingProduct(mw, SIMD8(repeating: x1.sums[b]))
            acc2 = acc2.addingProduct(mw, SIMD8(repeating: x2.sums[b]))
            acc3 = acc3.addingProduct(mw, SIMD8(repeating: x3.sums[b]))
        }
        return (acc0, acc1, acc2, acc3)
    }

    /// ``nibble4`` for the eight interleaved vectors of `x` (each weight vector is unpacked once
    /// for all eight); adds each vector's row sums to `acc[v]` in the same order as ``nibble1``.
    @inline(__always)
    static func nibble8<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ d: S, _ m: S, _ x: ActivationGroup, blocks: Int,
        constants: Constants, into acc: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let mask = constants.mask, ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * 128, a = x.quants + b * 256
            var t0 = SIMD16<Int16>(), t1 = SIMD16<Int16>(), t2 = SIMD16<Int16>(), t3 = SIMD16<Int16>()
            var t4 = SIMD16<Int16>(), t5 = SIMD16<Int16>(), t6 = SIMD16<Int16>(), t7 = SIMD16<Int16>()
            for k in 0..<4 {
                let (lo, hi) = nibbles(wb, k * 32, mask)
                let al = a + 32 * k, ah = a + 32 * (4 + k)
                t0 &+= maddubs(lo, broadcast4(al, 0)) &+ maddubs(hi, broadcast4(ah, 0))
                t1 &+= maddubs(lo, broadcast4(al, 4)) &+ maddubs(hi, broadcast4(ah, 4))
                t2 &+= maddubs(lo, broadcast4(al, 8)) &+ maddubs(hi, broadcast4(ah, 8))
                t3 &+= maddubs(lo, broadcast4(al, 12)) &+ maddubs(hi, broadcast4(ah, 12))
                t4 &+= maddubs(lo, broadcast4(al, 16)) &+ maddubs(hi, broadcast4(ah, 16))
                t5 &+= maddubs(lo, broadcast4(al, 20)) &+ maddubs(hi, broadcast4(ah, 20))
                t6 &+= maddubs(lo, broadcast4(al, 24)) &+ maddubs(hi, broadcast4(ah, 24))
                t7 &+= maddubs(lo, broadcast4(al, 28)) &+ maddubs(hi, broadcast4(ah, 28))
            }
            let dw = d.load8(b * 8), mw = m.load8(b * 8)
            let xs = x.scales + 8 * b, xm = x.sums + 8 * b
            acc[0] = acc[0].addingProduct(toFloat(widen(t0, ones)), dw * xs[0]).addingProduct(mw, SIMD8(repeating: xm[0]))
            acc[1] = acc[1].addingProduct(toFloat(widen(t1, ones)), dw * xs[1]).addingProduct(mw, SIMD8(repeating: xm[1]))
            acc[2] = acc[2].addingProduct(toFloat(widen(t2, ones)), dw * xs[2]).addingProduct(mw, SIMD8(repeating: xm[2]))
            acc[3] = acc[3].addingProduct(toFloat(widen(t3, ones)), dw * xs[3]).addingProduct(mw, SIMD8(repeating: xm[3]))
            acc[4] = acc[4].addingProduct(toFloat(widen(t4, ones)), dw * xs[4]).addingProduct(mw, SIMD8(repeating: xm[4]))
            acc[5] = acc[5].addingProduct(toFloat(widen(t5, ones)), dw * xs[5]).addingProduct(mw, SIMD8(repeating: xm[5]))
            acc[6] = acc[6].addingProduct(toFloat(widen(t6, ones)), dw * xs[6]).addingProduct(mw, SIMD8(repeating: xm[6]))
            acc[7] = acc[7].addingProduct(toFloat(widen(t7, ones)), dw * xs[7]).addingProduct(mw, SIMD8(repeating: xm[7]))
        }
    }
}

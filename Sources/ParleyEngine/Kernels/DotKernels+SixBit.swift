extension DotKernels {
    /// Chunk `k` (elements `16h + 4k…16h + 4k + 3` of eight rows) of half `h` of a six-bit block at
    /// `w`, as unsigned bytes `q + 32` (0…63): the low nibbles of the block's nibble part and the
    /// two high bits of its bit plane (see ``WeightMatrix/Format/byte``).
    @inline(__always)
    static func sixBits(_ w: UnsafeRawPointer, half h: Int, chunk k: Int, _ constants: Constants) -> SIMD32<UInt8> {
        let raw = w.loadUnaligned(fromByteOffset: 32 * k, as: SIMD16<UInt16>.self)
        let low = (h == 0 ? raw : raw &>> 4) & constants.mask
        let plane = w.loadUnaligned(fromByteOffset: 128 + 32 * h, as: SIMD16<UInt16>.self)
        // Bits 2k and 2k+1 of each byte moved to bits 4 and 5 (16-bit shifts: the mask drops what
        // crosses from the neighbouring byte).
        let high = (k >= 2 ? plane &>> UInt16(2 * k - 4) : plane &<< UInt16(4 - 2 * k)) & constants.highBits
        return unsafeBitCast(low | high, to: SIMD32<UInt8>.self)
    }

    /// Σ (q + 32)·qa over chunk `k` of half `h`, for eight rows (each `vpmaddubsw` pair is at most
    /// 2·63·127, widened at once).
    @inline(__always)
    static func sixBitChunk(_ u: SIMD32<UInt8>, _ a: UnsafeRawPointer, _ offset: Int, _ ones: SIMD16<Int16>) -> SIMD8<Int32> {
        widen(maddubs(u, broadcast4(a, offset)), ones)
    }

    /// Σ q·qa of half `h` of block `b` for eight rows: the unsigned sums minus 32 · Σqa, which is
    /// the half's correction (−128 · Σqa) divided by 4 — exactly the byte format's integer sums.
    @inline(__always)
    static func sixBitHalf(
        _ w: UnsafeRawPointer, half h: Int, _ a: UnsafeRawPointer, _ offset: Int, correction: Int32,
        _ constants: Constants
    ) -> SIMD8<Int32> {
        var t = SIMD8<Int32>(repeating: correction &>> 2)
        for k in 0..<4 {
            t &+= sixBitChunk(sixBits(w, half: h, chunk: k, constants), a, offset + 4 * k, constants.ones)
        }
        return t
    }

    /// ``byte1`` for six-bit quants: the same integer sums, scaled and accumulated in the same order.
    @inline(__always)
    static func sixBit1<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x: Activation, blocks: Int, constants: Constants
    ) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let wb = w + b * 192, o = b * 32
            let da = x.scales[b]
            let t0 = sixBitHalf(wb, half: 0, x.quants, o, correction: x.corrections[2 * b], constants)
            acc = acc.addingProduct(toFloat(t0), s.load8(b * 16) * da)
            let t1 = sixBitHalf(wb, half: 1, x.quants, o + 16, correction: x.corrections[2 * b + 1], constants)
            acc = acc.addingProduct(toFloat(t1), s.load8(b * 16 + 8) * da)
        }
        return acc
    }

    /// ``byte4`` for six-bit quants (each chunk is unpacked once for the four vectors).
    @inline(__always)
    static func sixBit4<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x0: Activation, _ x1: Activation, _ x2: Activation, _ x3: Activation,
        blocks: Int, constants: Constants
    ) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * 192
            for half in 0..<2 {
                let o = b * 32 + half * 16, c = 2 * b + half
                var t0 = SIMD8<Int32>(repeating: x0.corrections[c] &>> 2)
                var t1 = SIMD8<Int32>(repeating: x1.corrections[c] &>> 2)
                var t2 = SIMD8<Int32>(repeating: x2.corrections[c] &>> 2)
                var t3 = SIMD8<Int32>(repeating: x3.corrections[c] &>> 2)
                for k in 0..<4 {
                    let u = sixBits(wb, half: half, chunk: k, constants)
                    t0 &+= sixBitChunk(u, x0.quants, o + 4 * k, ones)
                    t1 &+= sixBitChunk(u, x1.quants, o + 4 * k, ones)
                    t2 &+= sixBitChunk(u, x2.quants, o + 4 * k, ones)
                    t3 &+= sixBitChunk(u, x3.quants, o + 4 * k, ones)
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

    /// ``byte8`` for six-bit quants; adds each vector's row sums to `acc[v]` in the same order as
    /// ``sixBit1``.
    @inline(__always)
    static func sixBit8<S: ScaleStorage>(
        _ w: UnsafeRawPointer, _ s: S, _ x: ActivationGroup, blocks: Int, constants: Constants,
        into acc: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let ones = constants.ones
        for b in 0..<blocks {
            let xs = x.scales + 8 * b, wb = w + b * 192
            for half in 0..<2 {
                let a = x.quants + b * 256 + half * 128, c = x.corrections + (2 * b + half) * 8
                var t0 = SIMD8<Int32>(repeating: c[0] &>> 2), t1 = SIMD8<Int32>(repeating: c[1] &>> 2)
                var t2 = SIMD8<Int32>(repeating: c[2] &>> 2), t3 = SIMD8<Int32>(repeating: c[3] &>> 2)
                var t4 = SIMD8<Int32>(repeating: c[4] &>> 2), t5 = SIMD8<Int32>(repeating: c[5] &>> 2)
                var t6 = SIMD8<Int32>(repeating: c[6] &>> 2), t7 = SIMD8<Int32>(repeating: c[7] &>> 2)
                for k in 0..<4 {
                    let u = sixBits(wb, half: half, chunk: k, constants), ak = a + 32 * k
                    t0 &+= sixBitChunk(u, ak, 0, ones)
                    t1 &+= sixBitChunk(u, ak, 4, ones)
                    t2 &+= sixBitChunk(u, ak, 8, ones)
                    t3 &+= sixBitChunk(u, ak, 12, ones)
                    t4 &+= sixBitChunk(u, ak, 16, ones)
                    t5 &+= sixBitChunk(u, ak, 20, ones)
                    t6 &+= sixBitChunk(u, ak, 24, ones)
                    t7 &+= sixBitChunk(u, ak, 28, ones)
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

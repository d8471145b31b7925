extension DotKernels {
    /// Σ q·qa of half `h` of block `b` for eight rows, in Int32 (`Q` the quants' storage).
    @inline(__always)
    static func byteHalf<Q: ByteQuants>(
        _ w: UnsafeRawPointer, half h: Int, _ x: Activation, block b: Int, _ constants: Constants, _: Q.Type
    ) -> SIMD8<Int32> {
        let offset = b * 32 + h * 16
        var t = SIMD8<Int32>(repeating: Q.start(x.corrections, 2 * b + h))
        for k in 0..<4 {
            t &+= Q.product(Q.chunk(w, half: h, chunk: k, constants), x.quants, offset + 4 * k, constants.ones)
        }
        return t
    }

    /// Where the eight scales of half `h` of block `b` start: with `halfStep` 8 each half has its
    /// own (sixteen per block), with 0 the halves share the block's eight.
    @inline(__always)
    static func scaleIndex(block b: Int, half h: Int, halfStep: Int) -> Int {
        b &* (8 &+ halfStep) &+ h &* halfStep
    }

    /// Σₖ (s·q)·(da·qa) for the eight rows of a byte row group (one per lane) and one activation
    /// vector: `w` the group's quants, `s` its scales (eight rows per block, or per half block with
    /// `halfStep` 8; see ``scaleIndex(block:half:halfStep:)``).
    @inline(__always)
    static func byte1<S: ScaleStorage, Q: ByteQuants>(
        _ w: UnsafeRawPointer, _ s: S, halfStep: Int, _ x: Activation, blocks: Int, constants: Constants,
        quants: Q.Type
    ) -> SIMD8<Float> {
        var acc = SIMD8<Float>()
        for b in 0..<blocks {
            let wb = w + b * Q.blockBytes
            let da = x.scales[b]
            let s0 = s.load8(scaleIndex(block: b, half: 0, halfStep: halfStep))
            acc = acc.addingProduct(toFloat(byteHalf(wb, half: 0, x, block: b, constants, Q.self)), s0 * da)
            let s1 = s.load8(scaleIndex(block: b, half: 1, halfStep: halfStep))
            acc = acc.addingProduct(toFloat(byteHalf(wb, half: 1, x, block: b, constants, Q.self)), s1 * da)
        }
        return acc
    }

    /// ``byte1`` for four activation vectors at once (each chunk is unpacked once for the four).
    @inline(__always)
    static func byte4<S: ScaleStorage, Q: ByteQuants>(
        _ w: UnsafeRawPointer, _ s: S, halfStep: Int, _ x0: Activation, _ x1: Activation, _ x2: Activation,
        _ x3: Activation, blocks: Int, constants: Constants, quants: Q.Type
    ) -> (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>) {
        var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
        let ones = constants.ones
        for b in 0..<blocks {
            let wb = w + b * Q.blockBytes
            for half in 0..<2 {
                let o = b * 32 + half * 16, c = 2 * b + half
                var t0 = SIMD8<Int32>(repeating: Q.start(x0.corrections, c))
                var t1 = SIMD8<Int32>(repeating: Q.start(x1.corrections, c))
                var t2 = SIMD8<Int32>(repeating: Q.start(x2.corrections, c))
                var t3 = SIMD8<Int32>(repeating: Q.start(x3.corrections, c))
                for k in 0..<4 {
                    let q = Q.chunk(wb, half: half, chunk: k, constants)
                    t0 &+= Q.product(q, x0.quants, o + 4 * k, ones)
                    t1 &+= Q.product(q, x1.quants, o + 4 * k, ones)
                    t2 &+= Q.product(q, x2.quants, o + 4 * k, ones)
                    t3 &+= Q.product(q, x3.quants, o + 4 * k, ones)
                }
                let sw = s.load8(scaleIndex(block: b, half: half, halfStep: halfStep))
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
    static func byte8<S: ScaleStorage, Q: ByteQuants>(
        _ w: UnsafeRawPointer, _ s: S, halfStep: Int, _ x: ActivationGroup, blocks: Int, constants: Constants, quants: Q.Type,
        into acc: UnsafeMutablePointer<SIMD8<Float>>
    ) {
        let ones = constants.ones
        for b in 0..<blocks {
            let xs = x.scales + 8 * b, wb = w + b * Q.blockBytes
            for half in 0..<2 {
                let a = x.quants + b * 256 + half * 128, c = x.corrections + (2 * b + half) * 8
                var t0 = SIMD8<Int32>(repeating: Q.start(c, 0)), t1 = SIMD8<Int32>(repeating: Q.start(c, 1))
                var t2 = SIMD8<Int32>(repeating: Q.start(c, 2)), t3 = SIMD8<Int32>(repeating: Q.start(c, 3))
                var t4 = SIMD8<Int32>(repeating: Q.start(c, 4)), t5 = SIMD8<Int32>(repeating: Q.start(c, 5))
                var t6 = SIMD8<Int32>(repeating: Q.start(c, 6)), t7 = SIMD8<Int32>(repeating: Q.start(c, 7))
                for k in 0..<4 {
                    let q = Q.chunk(wb, half: half, chunk: k, constants), ak = a + 32 * k
                    t0 &+= Q.product(q, ak, 0, ones)
                    t1 &+= Q.product(q, ak, 4, ones)
                    t2 &+= Q.product(q, ak, 8, ones)
                    t3 &+= Q.product(q, ak, 12, ones)
                    t4 &+= Q.product(q, ak, 16, ones)
                    t5 &+= Q.product(q, ak, 20, ones)
                    t6 &+= Q.product(q, ak, 24, ones)
                    t7 &+= Q.product(q, ak, 28, ones)
                }
                let sw = s.load8(scaleIndex(block: b, half: half, halfStep: halfStep))
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

import CParleyKernels

/// Attention of a run of consecutive positions of one sequence (a prompt being read; or a single
/// decoding token's query heads), four query vectors at a time: each key and value read from the cache is converted once for four queries
/// instead of once for each. Every score and every output is summed in the same order as
/// ``Attention/attendGroup(query:heads:cache:layer:kvHead:first:last:scale:softcap:scratch:out:kernels:)``
/// sums it for that query alone, so the results are the same bit for bit (for finite scores: a NaN
/// score's effect on the softmax's maximum depends on the lanes it meets). With the VNNI kernel path
/// and an f16 cache the four-query kernels are `CParleyKernels`' AVX-512 ones (sixteen lanes at a
/// time, the same float steps lane by lane).
extension Attention {
    /// `out = softmax(q·Kᵀ · scale) · V` for the `heads` query heads that share key/value head
    /// `kvHead`, of `tokens` consecutive tokens at positions `position`, `position + 1`, …, each
    /// attending causally to the positions up to its own (the last `window` of them when given).
    /// Token `t`'s head `h` query is at `queries + t · queryStride + h · headDimension`, its output
    /// at `out + t · outStride + h · headDimension`. The cache holds the keys and values of every
    /// token of the run. `kernels` picks the four-query kernels (the results are the same).
    static func attendRun(
        queries: UnsafePointer<Float>, queryStride: Int, tokens: Int, heads: Int, cache: KVCache, layer: Int,
        kvHead: Int, position: Int, window: Int?, scale: Float? = nil, softcap: Float? = nil,
        out: UnsafeMutablePointer<Float>, outStride: Int, kernels: KernelPath = .preferred
    ) {
        let run = Run(
            queries: queries, queryStride: queryStride, tokens: tokens, heads: heads, position: position, window: window,
            out: out, outStride: outStride)
        let scale = scale ?? 1 / Float(cache.headDimension).squareRoot()
        switch cache.element {
        case .half: attend(HalfLanes.self, run, cache, layer, kvHead, scale, softcap, kernels)
        case .float: attend(FloatLanes.self, run, cache, layer, kvHead, scale, softcap, kernels)
        }
    }

    /// Where a run's queries, outputs and positions are.
    private struct Run {
        let queries: UnsafePointer<Float>, queryStride: Int, tokens: Int, heads: Int, position: Int, window: Int?
        let out: UnsafeMutablePointer<Float>, outStride: Int

        /// The first position token `t` attends to.
        func first(_ t: Int) -> Int { window.map { max(0, position + t - $0 + 1) } ?? 0 }
        /// Query vector `i` (token-major: token `i / heads`, head `i % heads`) of width `width`.
        func query(_ i: Int, width: Int) -> UnsafePointer<Float> { queries + i / heads * queryStride + i % heads * width }
        func output(_ i: Int, width: Int) -> UnsafeMutablePointer<Float> { out + i / heads * outStride + i % heads * width }
    }

    private static func attend<E: Lanes>(
        _: E.Type, _ run: Run, _ cache: KVCache, _ layer: Int, _ kvHead: Int, _ scale: Float, _ softcap: Float?,
        _ kernels: KernelPath
    ) {
        // The AVX-512 four-query kernels read f16 caches; the AVX-512 softmax takes any.
        let wideKernels = kernels == .vnni && E.self == HalfLanes.self, wideSoftmax = kernels == .vnni
        let headDim = cache.headDimension, vectors = headDim / 8, rowBytes = vectors * E.bytesPer8
        // Whole groups of four queries: the last group is filled up with copies of the last query,
        // whose outputs go to scratch.
        let n = run.tokens * run.heads, padded = (n + 3) / 4 * 4
        // Every query's scores over the span all of them attend to; row `i` starts at position `start`.
        let start = run.first(0), span = run.position + run.tokens - start, stride = span + 8
        let keys = UnsafeRawPointer(cache.key(layer: layer, head: kvHead, position: start))
        let values = UnsafeRawPointer(cache.value(layer: layer, head: kvHead, position: start))
        /// The token of query `i` (a filling copy's is the last query's).
        func token(_ i: Int) -> Int { min(i, n - 1) / run.heads }
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: padded * vectors) { q in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: padded * stride + 3 * headDim) { s in
                let q = q.baseAddress!, s = s.baseAddress!
                let spare = s + padded * stride
                func output(_ i: Int) -> UnsafeMutablePointer<Float> {
                    i < n ? run.output(i, width: headDim) : spare + (i - n) * headDim
                }
                loadQueries(E.self, padded, vectors: vectors, into: q) { run.query(min($0, n - 1), width: headDim) }
                for i in Swift.stride(from: 0, to: padded, by: 4) {
                    if wideKernels {
                        parley_attention_scores4(
                            UnsafeRawPointer(q + i * vectors).assumingMemoryBound(to: Float.self), Int32(headDim),
                            keys, rowBytes, Int32(span), s + i * stride, stride)
                    } else {
                        scores4(E.self, q + i * vectors, vectors: vectors, keys: keys, rowBytes: rowBytes, count: span,
                            into: s + i * stride, stride: stride)
                    }
                }
                // Each query's own positions, `first(t)…position + t`, softmaxed; its output zeroed.
                for i in 0..<padded {
                    let t = token(i), first = run.first(t)
                    softmax(s + i * stride + first - start, count: run.position + t - first + 1, scale: scale,
                        softcap: softcap, roundToHalf: E.roundsToHalf, avx512: wideSoftmax)
                    output(i).initialize(repeating: 0, count: headDim)
                }
                // The positions every token attends to (`common`), four queries at a time, between
                // each query's positions before them and after them: ascending for each query. (None
                // when the window is shorter than the tile: the last token's window starts after the
                // first token.)
                let commonStart = run.first(run.tokens - 1)
                let common = commonStart..<max(commonStart, run.position + 1)
                func sum(_ i: Int, _ range: Range<Int>) {
                    guard !range.isEmpty else { return }
                    weightedSum(
                        E.self, s + i * stride + range.lowerBound - start,
                        values: values + (range.lowerBound - start) * rowBytes, rowBytes: rowBytes,
                        count: range.count, vectors: vectors, out: run.output(i, width: headDim), accumulate: true)
                }
                for i in 0..<n {
                    let t = token(i), own = run.first(t)..<(run.position + t + 1)
                    sum(i, common.isEmpty ? own : own.lowerBound..<common.lowerBound)
                }
                guard !common.isEmpty else { return }
                let offset = common.lowerBound - start
                for i in Swift.stride(from: 0, to: padded, by: 4) {
                    if wideKernels {
                        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 4) { outputs in
                            for k in 0..<4 { outputs[k] = output(i + k) }
                            parley_attention_weighted_sum4(
                                s + i * stride + offset, stride, values + offset * rowBytes, rowBytes,
                                Int32(common.count), Int32(headDim), outputs.baseAddress!)
                        }
                    } else {
                        weightedSum4(
                            E.self, s + i * stride + offset, stride: stride, values: values + offset * rowBytes,
                            rowBytes: rowBytes, count: common.count, vectors: vectors,
                            out: (output(i), output(i + 1), output(i + 2), output(i + 3)))
                    }
                }
                for i in 0..<n { sum(i, common.upperBound..<(run.position + token(i) + 1)) }
            }
        }
    }

    /// ``scores(_:_:vectors:keys:rowBytes:count:into:)`` for four queries (`q + k · vectors`, scores
    /// at `scores + k · stride`), two positions at a time in eight accumulators: each key vector is
    /// converted once for the four.
    private static func scores4<E: Lanes>(
        _: E.Type, _ q: UnsafePointer<SIMD8<Float>>, vectors: Int, keys: UnsafeRawPointer, rowBytes: Int, count: Int,
        into scores: UnsafeMutablePointer<Float>, stride: Int
    ) {
        let q0 = q, q1 = q + vectors, q2 = q + 2 * vectors, q3 = q + 3 * vectors
        let s0 = scores, s1 = scores + stride, s2 = scores + 2 * stride, s3 = scores + 3 * stride
        var p = 0
        while p + 2 <= count {
            let k0 = keys + p * rowBytes, k1 = k0 + rowBytes
            var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a10 = SIMD8<Float>(), a11 = SIMD8<Float>()
            var a20 = SIMD8<Float>(), a21 = SIMD8<Float>(), a30 = SIMD8<Float>(), a31 = SIMD8<Float>()
            for j in 0..<vectors {
                let x0 = E.load8(k0, E.bytesPer8 * j), x1 = E.load8(k1, E.bytesPer8 * j)
                a00 = a00.addingProduct(x0, q0[j])
                a01 = a01.addingProduct(x1, q0[j])
                a10 = a10.addingProduct(x0, q1[j])
                a11 = a11.addingProduct(x1, q1[j])
                a20 = a20.addingProduct(x0, q2[j])
                a21 = a21.addingProduct(x1, q2[j])
                a30 = a30.addingProduct(x0, q3[j])
                a31 = a31.addingProduct(x1, q3[j])
            }
            let first = sum4(a00, a01, a10, a11), second = sum4(a20, a21, a30, a31)
            s0[p] = first[0]
            s0[p + 1] = first[1]
            s1[p] = first[2]
            s1[p + 1] = first[3]
            s2[p] = second[0]
            s2[p + 1] = second[1]
            s3[p] = second[2]
            s3[p + 1] = second[3]
            p += 2
        }
        if p < count {
            let k = keys + p * rowBytes
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for j in 0..<vectors {
                let x = E.load8(k, E.bytesPer8 * j)
                a0 = a0.addingProduct(x, q0[j])
                a1 = a1.addingProduct(x, q1[j])
                a2 = a2.addingProduct(x, q2[j])
                a3 = a3.addingProduct(x, q3[j])
            }
            let sums = sum4(a0, a1, a2, a3)
            s0[p] = sums[0]
            s1[p] = sums[1]
            s2[p] = sums[2]
            s3[p] = sums[3]
        }
    }

    /// `out[k] += Σₚ w[k][p] · V[p]` for four queries (weights at `w + k · stride`), sixteen
    /// elements at a time in eight accumulators: each value vector is converted once for the four.
    private static func weightedSum4<E: Lanes>(
        _: E.Type, _ w: UnsafePointer<Float>, stride: Int, values: UnsafeRawPointer, rowBytes: Int, count: Int,
        vectors: Int,
        out: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)
    ) {
        let w0 = w, w1 = w + stride, w2 = w + 2 * stride, w3 = w + 3 * stride
        @inline(__always) func output(_ k: Int) -> UnsafeMutablePointer<Float> {
            switch k {
            case 0: out.0
            case 1: out.1
            case 2: out.2
            default: out.3
            }
        }
        @inline(__always) func load(_ k: Int, _ j: Int) -> SIMD8<Float> {
            UnsafeRawPointer(output(k) + 8 * j).loadUnaligned(as: SIMD8<Float>.self)
        }
        @inline(__always) func store(_ v: SIMD8<Float>, _ k: Int, _ j: Int) {
            UnsafeMutableRawPointer(output(k) + 8 * j).storeBytes(of: v, as: SIMD8<Float>.self)
        }
        var j = 0
        while j + 2 <= vectors {
            var o00 = load(0, j), o01 = load(0, j + 1), o10 = load(1, j), o11 = load(1, j + 1)
            var o20 = load(2, j), o21 = load(2, j + 1), o30 = load(3, j), o31 = load(3, j + 1)
            var v = values + E.bytesPer8 * j
            for p in 0..<count {
                let x0 = E.load8(v, 0), x1 = E.load8(v, E.bytesPer8)
                let b0 = SIMD8<Float>(repeating: w0[p]), b1 = SIMD8<Float>(repeating: w1[p])
                let b2 = SIMD8<Float>(repeating: w2[p]), b3 = SIMD8<Float>(repeating: w3[p])
                o00 = o00.addingProduct(x0, b0)
                o01 = o01.addingProduct(x1, b0)
                o10 = o10.addingProduct(x0, b1)
                o11 = o11.addingProduct(x1, b1)
                o20 = o20.addingProduct(x0, b2)
                o21 = o21.addingProduct(x1, b2)
                o30 = o30.addingProduct(x0, b3)
                o31 = o31.addingProduct(x1, b3)
                v += rowBytes
            }
            store(o00, 0, j)
            store(o01, 0, j + 1)
            store(o10, 1, j)
            store(o11, 1, j + 1)
            store(o20, 2, j)
            store(o21, 2, j + 1)
            store(o30, 3, j)
            store(o31, 3, j + 1)
            j += 2
        }
        if j < vectors {
            var o0 = load(0, j), o1 = load(1, j), o2 = load(2, j), o3 = load(3, j)
            var v = values + E.bytesPer8 * j
            for p in 0..<count {
                let x = E.load8(v, 0)
                o0 = o0.addingProduct(x, SIMD8(repeating: w0[p]))
                o1 = o1.addingProduct(x, SIMD8(repeating: w1[p]))
                o2 = o2.addingProduct(x, SIMD8(repeating: w2[p]))
                o3 = o3.addingProduct(x, SIMD8(repeating: w3[p]))
                v += rowBytes
            }
            store(o0, 0, j)
            store(o1, 1, j)
            store(o2, 2, j)
            store(o3, 3, j)
        }
    }
}

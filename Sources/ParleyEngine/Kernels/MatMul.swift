/// Matrix products of a ``WeightMatrix`` with a batch of activation vectors, spread over a ``ThreadPool``.
///
/// One pass over the weights serves every vector of the batch: rows are split into chunks across
/// threads, and inside a chunk each weight row is unpacked once for four vectors at a time.
enum MatMul {
    /// Rows per parallel work item; a multiple of 4, sized so each thread gets several items.
    static func rowsPerChunk(rows: Int, threads: Int) -> Int {
        let target = max(4, rows / max(1, threads * 6))
        return min(64, (target + 3) / 4 * 4)
    }

    /// `out[v * outStride + r] = Σₖ W[r, k] · x_v[k]` for every vector `v` of `x` and row `r` of `w`.
    ///
    /// `x` must have been quantized for `w.format` with `w.columns` elements.
    static func multiply(
        _ w: WeightMatrix, _ x: QuantizedActivations, into out: UnsafeMutablePointer<Float>, outStride: Int,
        pool: ThreadPool
    ) {
        precondition(x.format == w.format && x.width == w.columns, "activations quantized for another matrix")
        let chunk = rowsPerChunk(rows: w.rows, threads: pool.threadCount)
        let chunks = (w.rows + chunk - 1) / chunk
        pool.parallelFor(chunks) { c in
            let start = c * chunk
            rowRange(w, x, start..<min(w.rows, start + chunk), out, outStride)
        }
    }

    /// The same product computed on the calling thread only, for rows `rows`.
    static func rowRange(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int
    ) {
        let count = x.count
        let fullTiles = count / 4 * 4
        switch w.format {
        case .nibble:
            let pairs = w.paddedColumns / 64
            let mask = w.nibbleMask.pointee
            let aStride = x.paddedWidth, sStride = x.blocksPerVector
            var v = 0
            while v < fullTiles {
                let a = x.quants + v * aStride, da = x.scales + v * sStride, sa = x.sums + v * sStride
                for r in rows {
                    let q = UnsafeRawPointer(w.quants + r * w.rowStride)
                    let d = w.scales + r * w.scalesPerRow, m = w.offsets + r * w.scalesPerRow
                    let result = DotKernels.nibble4(
                        q, d, m, a, aStride: aStride, da, sa, sStride: sStride, pairs: pairs, mask: mask)
                    out[v * outStride + r] = result[0]
                    out[(v + 1) * outStride + r] = result[1]
                    out[(v + 2) * outStride + r] = result[2]
                    out[(v + 3) * outStride + r] = result[3]
                }
                v += 4
            }
            while v < count {
                let a = x.quants + v * aStride, da = x.scales + v * sStride, sa = x.sums + v * sStride
                for r in rows {
                    let q = UnsafeRawPointer(w.quants + r * w.rowStride)
                    let d = w.scales + r * w.scalesPerRow, m = w.offsets + r * w.scalesPerRow
                    out[v * outStride + r] = DotKernels.nibble1(q, d, m, a, da, sa, pairs: pairs, mask: mask)
                }
                v += 1
            }
        case .byte:
            let blocks = w.paddedColumns / 32
            let aStride = x.paddedWidth, sStride = x.blocksPerVector
            var v = 0
            while v < fullTiles {
                let a = x.quants + v * aStride, da = x.scales + v * sStride
                for r in rows {
                    let q = UnsafeRawPointer(w.quants + r * w.rowStride)
                    let s = w.scales + r * w.scalesPerRow
                    let result = DotKernels.byte4(q, s, a, aStride: aStride, da, sStride: sStride, blocks: blocks)
                    out[v * outStride + r] = result[0]
                    out[(v + 1) * outStride + r] = result[1]
                    out[(v + 2) * outStride + r] = result[2]
                    out[(v + 3) * outStride + r] = result[3]
                }
                v += 4
            }
            while v < count {
                let a = x.quants + v * aStride, da = x.scales + v * sStride
                for r in rows {
                    let q = UnsafeRawPointer(w.quants + r * w.rowStride)
                    out[v * outStride + r] = DotKernels.byte1(q, w.scales + r * w.scalesPerRow, a, da, blocks: blocks)
                }
                v += 1
            }
        case .float:
            guard let floats = x.floats else { return }
            for v in 0..<count {
                let xv = floats + v * x.floatStride
                for r in rows {
                    let row = (w.quants + r * w.rowStride).assumingMemoryBound(to: Float.self)
                    out[v * outStride + r] = DotKernels.float1(row, xv, count: w.columns)
                }
            }
        }
    }
}

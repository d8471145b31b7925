/// Matrix products of a ``WeightMatrix`` with a batch of activation vectors, spread over a ``ThreadPool``.
///
/// One pass over the weights serves every vector of the batch: rows are split into chunks across
/// threads, and inside a chunk each group of eight weight rows is unpacked once for eight vectors
/// at a time (then four, then one) while it sits in the L1 cache.
enum MatMul {
    /// Rows per parallel work item; a multiple of 8, sized so each thread gets several items.
    static func rowsPerChunk(rows: Int, threads: Int) -> Int {
        let target = max(8, rows / max(1, threads * 6))
        return min(64, (target + 7) / 8 * 8)
    }

    /// `out[v * outStride + r] = Σₖ W[r, k] · x_v[k]` for every vector `v` of `x` and row `r` of `w`.
    ///
    /// `x` must have been quantized for `w.format` with `w.columns` elements. `path` picks the
    /// kernels (same results either way).
    static func multiply(
        _ w: WeightMatrix, _ x: QuantizedActivations, into out: UnsafeMutablePointer<Float>, outStride: Int,
        pool: ThreadPool, path: KernelPath = .preferred
    ) {
        precondition(x.format == w.format && x.width == w.columns, "activations quantized for another matrix")
        let chunk = rowsPerChunk(rows: w.rows, threads: pool.threadCount)
        let chunks = (w.rows + chunk - 1) / chunk
        pool.parallelFor(chunks) { c in
            let start = c * chunk
            rowRange(w, x, start..<min(w.rows, start + chunk), out, outStride, path: path)
        }
    }

    /// Several products of the same activations (`out` of each has stride `rows`), in one parallel
    /// pass so that the threads synchronize once (the query, key and value projections, say).
    static func multiply(
        _ products: [(matrix: WeightMatrix, out: UnsafeMutablePointer<Float>)], _ x: QuantizedActivations,
        pool: ThreadPool, path: KernelPath = .preferred
    ) {
        var items: [(product: Int, rows: Range<Int>)] = []
        for (p, product) in products.enumerated() {
            let w = product.matrix
            precondition(x.format == w.format && x.width == w.columns, "activations quantized for another matrix")
            let chunk = rowsPerChunk(rows: w.rows, threads: pool.threadCount)
            for start in stride(from: 0, to: w.rows, by: chunk) {
                items.append((p, start..<min(w.rows, start + chunk)))
            }
        }
        items.withUnsafeBufferPointer { items in
            pool.parallelFor(items.count) { i in
                let (matrix, out) = products[items[i].product]
                rowRange(matrix, x, items[i].rows, out, matrix.rows, path: path)
            }
        }
    }

    /// The same product computed on the calling thread only, for rows `rows` (a range starting at a
    /// multiple of 8).
    static func rowRange(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int, path: KernelPath = .preferred
    ) {
        let count = x.count
        switch w.format {
        case .nibble, .byte:
            if path == .vnni {
                vnniRows(w, x, rows, out, outStride)
            } else {
                // Concrete storage types, so that every kernel is specialized (the nibble format
                // ignores the byte quants' type).
                switch (w.format, w.packedBits, w.quantBias) {
                case (.byte, 6, _): portableRows(w, x, rows, out, outStride, DotKernels.SixBits.self)
                case (.byte, 4, _): portableRows(w, x, rows, out, outStride, DotKernels.NonlinearNibbles.self)
                case (.byte, 3, _): portableRows(w, x, rows, out, outStride, DotKernels.ThreeBits.self)
                case (.byte, 2, _): portableRows(w, x, rows, out, outStride, DotKernels.TwoBits.self)
                case (.byte, 5, 16): portableRows(w, x, rows, out, outStride, DotKernels.FiveBits.self)
                case (.byte, 5, _): portableRows(w, x, rows, out, outStride, DotKernels.UnsignedFiveBits.self)
                default: portableRows(w, x, rows, out, outStride, DotKernels.SignedBytes.self)
                }
            }
            if w.hasByteOffsets { addByteOffsets(w, x, rows, out, outStride) }
        case .float:
            guard let floats = x.floats else { return }
            for r in rows {
                let row = (w.quants + r * w.groupStride).assumingMemoryBound(to: Float.self)
                var v = 0
                while v + 4 <= count {
                    let x0 = floats + v * x.floatStride
                    let s = DotKernels.float4(
                        row, x0, x0 + x.floatStride, x0 + 2 * x.floatStride, x0 + 3 * x.floatStride, count: w.columns)
                    for i in 0..<4 { out[(v + i) * outStride + r] = s[i] }
                    v += 4
                }
                while v < count {
                    out[v * outStride + r] = DotKernels.float1(row, floats + v * x.floatStride, count: w.columns)
                    v += 1
                }
            }
        }
    }

    /// The portable kernels for `w`'s scale encoding, `Q` its byte quants' storage.
    @inline(__always)
    private static func portableRows<Q: DotKernels.ByteQuants>(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int, _ quants: Q.Type
    ) {
        switch w.scaleEncoding {
        case .float: groups(w, x, rows, out, outStride, quants) { base, _ in DotKernels.FloatScales(base: base) }
        case .half: groups(w, x, rows, out, outStride, quants) { base, _ in DotKernels.HalfScales(base: base) }
        case .coded:
            let shift = w.codedIndexShift
            groups(w, x, rows, out, outStride, quants) { codes, multipliers in
                DotKernels.CodedScales(codes: codes, multipliers: multipliers, indexShift: shift)
            }
        }
    }

    /// The scales and offsets of row group `group` of `w`, as `storage` reads them from their
    /// bases (``WeightMatrix/scales`` or ``WeightMatrix/offsets``, and the matching multipliers).
    @inline(__always)
    static func scaleStorage<S: DotKernels.ScaleStorage>(
        _ w: WeightMatrix, group: Int, _ storage: (UnsafeRawPointer, UnsafeRawPointer) -> S
    ) -> (scales: S, offsets: S) {
        let multipliers = group * w.superScalesPerGroup * 2
        return (
            storage(w.scales + group * w.scalesPerGroup * w.scaleBytes, w.superScales + multipliers),
            storage(w.offsets + group * w.offsetsPerGroup * w.scaleBytes, w.superOffsets + multipliers)
        )
    }

    /// The quantized formats: row groups of eight, eight vectors at a time, then four, then one
    /// (`Q` how a byte matrix stores its quants).
    @inline(__always)
    private static func groups<S: DotKernels.ScaleStorage, Q: DotKernels.ByteQuants>(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int, _: Q.Type, storage: (UnsafeRawPointer, UnsafeRawPointer) -> S
    ) {
        let count = x.count, blocks = w.blocksPerRow, halfStep = w.scalesPerBlock - 8
        let constants = w.constants.pointee
        var g = rows.lowerBound
        while g < rows.upperBound {
            let group = g / WeightMatrix.groupRows
            let q = UnsafeRawPointer(w.quants + group * w.groupStride)
            let (s, m) = scaleStorage(w, group: group, storage)
            let valid = min(WeightMatrix.groupRows, w.rows - g)
            let o = out + g
            for eight in 0..<x.groupsOfEight {
                withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8) { acc in
                    let a = acc.baseAddress!
                    a.initialize(repeating: SIMD8(), count: 8)
                    if w.format == .nibble {
                        DotKernels.nibble8(q, s, m, x.group(eight), blocks: blocks, constants: constants, into: a)
                    } else {
                        DotKernels.byte8(
                            q, s, halfStep: halfStep, x.group(eight), blocks: blocks, constants: constants, quants: Q.self,
                            into: a)
                    }
                    for i in 0..<8 { store(a[i], o + (8 * eight + i) * outStride, valid) }
                }
            }
            var v = 8 * x.groupsOfEight
            while v + 4 <= count {
                let x0 = x.activation(v), x1 = x.activation(v + 1), x2 = x.activation(v + 2), x3 = x.activation(v + 3)
                let r =
                    w.format == .nibble
                    ? DotKernels.nibble4(q, s, m, x0, x1, x2, x3, blocks: blocks, constants: constants)
                    : DotKernels.byte4(
                        q, s, halfStep: halfStep, x0, x1, x2, x3, blocks: blocks, constants: constants, quants: Q.self)
                store(r.0, o + v * outStride, valid)
                store(r.1, o + (v + 1) * outStride, valid)
                store(r.2, o + (v + 2) * outStride, valid)
                store(r.3, o + (v + 3) * outStride, valid)
                v += 4
            }
            while v < count {
                let r =
                    w.format == .nibble
                    ? DotKernels.nibble1(q, s, m, x.activation(v), blocks: blocks, constants: constants)
                    : DotKernels.byte1(
                        q, s, halfStep: halfStep, x.activation(v), blocks: blocks, constants: constants, quants: Q.self)
                store(r, o + v * outStride, valid)
                v += 1
            }
            g += WeightMatrix.groupRows
        }
    }

    /// Adds the offsets' share of a byte matrix's products (Q5_1's, Q5_K's and Q2_K's minimums):
    /// Σ_b m_b · (d·Σq)_b for each row and vector, from the activations' block sums, eight rows at a
    /// time; with an offset per half block (Q2_K), Σ m_bh · d_b · Σq_bh from the half blocks' sums
    /// (their corrections, −128·Σq).
    private static func addByteOffsets(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int
    ) {
        switch w.scaleEncoding {
        case .float: addByteOffsets(w, x, rows, out, outStride) { base, _ in DotKernels.FloatScales(base: base) }
        case .half: addByteOffsets(w, x, rows, out, outStride) { base, _ in DotKernels.HalfScales(base: base) }
        case .coded:
            let shift = w.codedIndexShift  // the offsets are laid out as the scales
            addByteOffsets(w, x, rows, out, outStride) { DotKernels.CodedScales(codes: $0, multipliers: $1, indexShift: shift) }
        }
    }

    /// A row group's offsets are decoded once for every vector; each vector's terms are summed in
    /// block order. The half blocks' sums `d · Σq` are formed once for all the row groups.
    @inline(__always)
    private static func addByteOffsets<S: DotKernels.ScaleStorage>(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int, storage: (UnsafeRawPointer, UnsafeRawPointer) -> S
    ) {
        let blocks = w.blocksPerRow, perHalf = w.scalesPerBlock == 16, count = x.count
        let termsPerVector = perHalf ? 2 * blocks : blocks
        withUnsafeTemporaryAllocation(of: Float.self, capacity: perHalf ? count * termsPerVector : 0) { halfSums in
            // Per block: the activations' scaled sums; per half block: d · Σq from the corrections (−128 · Σq).
            let sums = perHalf ? UnsafePointer(halfSums.baseAddress!) : UnsafePointer(x.sums)
            if perHalf {
                for v in 0..<count {
                    for i in 0..<termsPerVector {
                        halfSums[v * termsPerVector + i] =
                            x.scales[v * blocks + i / 2] * Float(-(x.corrections[v * termsPerVector + i] / 128))
                    }
                }
            }
            withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: termsPerVector) { buffer in
                let m = buffer.baseAddress!
                var g = rows.lowerBound
                while g < rows.upperBound {
                    let offsets = scaleStorage(w, group: g / WeightMatrix.groupRows, storage).offsets
                    for i in 0..<termsPerVector { m[i] = offsets.load8(8 * i) }  // laid out as the scales
                    let valid = min(WeightMatrix.groupRows, w.rows - g)
                    for v in 0..<count {
                        let terms = sums + v * termsPerVector
                        var acc = SIMD8<Float>()
                        for i in 0..<termsPerVector { acc = acc.addingProduct(m[i], terms[i]) }
                        let o = out + v * outStride + g
                        for r in 0..<valid { o[r] += acc[r] }
                    }
                    g += WeightMatrix.groupRows
                }
            }
        }
    }

    /// Stores the first `valid` lanes of `r` at `p`.
    @inline(__always)
    private static func store(_ r: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ valid: Int) {
        if valid == 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: r, as: SIMD8<Float>.self)
        } else {
            for i in 0..<valid { p[i] = r[i] }
        }
    }
}

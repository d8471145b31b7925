import Testing

@testable import ParleyEngine

@Suite struct MatMulTests {
    static let types: [GGMLType] = GGMLType.allCases

    @Test(arguments: types)
    func repackedWeightsEqualTheReferenceDequantizer(type: GGMLType) throws {
        let rows = 5, columns = 512
        var gen = SyntheticBlocks(seed: 1)
        let bytes = gen.tensor(type, rows: rows, columns: columns)
        let matrix = try bytes.withUnsafeBytes {
            try WeightMatrix(repacking: $0, type: type, rows: rows, columns: columns)
        }
        let expected = try bytes.withUnsafeBytes {
            try GGMLDequantizer.dequantize($0, type: type, count: rows * columns)
        }
        for r in 0..<rows {
            for c in 0..<columns {
                #expect(matrix.element(row: r, column: c) == expected[r * columns + c], "row \(r) column \(c)")
            }
        }
    }

    /// The K-quants keep their sub-scales as 8-bit codes with an f16 multiplier per super-block and
    /// row, the 5- and 6-bit types their bits, and a block whose halves share a scale stores it once,
    /// so a decode step reads about as many bytes as the file holds (bits per weight: Q4_K 4.63
    /// against 4.5, Q5_K 5.63 against 5.5, Q6_K 6.56, Q3_K 3.56 against 3.44, Q2_K 3.13 against
    /// 2.63, Q5_0 5.5, Q8_0 8.5, IQ4_NL 4.5 and IQ4_XS 4.31 against 4.25).
    @Test func weightsAreStoredAboutAsCompactlyAsInTheFile() throws {
        let rows = 16, columns = 512
        // Bytes per 32 × 8 weights (a block of a row group): the quants, then the scales and
        // offsets (one code each, or an f16), then the multipliers of the codes.
        let expected: [(GGMLType, WeightMatrix.ScaleEncoding, Double)] = [
            (.q4_K, .coded, 128 + 8 + 8 + 2 + 2), (.q6_K, .coded, 192 + 16 + 2), (.q3_K, .coded, 96 + 16 + 2),
            (.q2_K, .coded, 64 + 16 + 16 + 2 + 2),
            (.q5_K, .coded, 160 + 8 + 8 + 2 + 2), (.q5_0, .half, 160 + 16), (.q5_1, .half, 160 + 16 + 16),
            (.q8_0, .half, 256 + 16), (.q4_0, .half, 128 + 16 + 16), (.iq4_nl, .half, 128 + 16),
            (.iq4_xs, .coded, 128 + 8 + 2),
        ]
        var gen = SyntheticBlocks(seed: 4)
        for (type, encoding, bytesPerBlock) in expected {
            let bytes = gen.tensor(type, rows: rows, columns: columns)
            let w = try bytes.withUnsafeBytes { try WeightMatrix(repacking: $0, type: type, rows: rows, columns: columns) }
            #expect(w.scaleEncoding == encoding, "\(type)")
            #expect(Double(w.byteCount) == bytesPerBlock / 256 * Double(rows * columns), "\(type)")
        }
    }

    @Test func quantizedActivationsRoundTrip() {
        var gen = SyntheticBlocks(seed: 2)
        let width = 96
        let x = (0..<2 * width).map { _ in gen.unit() * 3 }
        for format in [WeightMatrix.Format.nibble, .byte] {
            let q = QuantizedActivations()
            x.withUnsafeBufferPointer { q.quantize($0.baseAddress!, count: 2, stride: width, width: width, format: format) }
            for v in 0..<2 {
                let back = q.dequantized(v)
                for i in 0..<width {
                    // Half a quantization step (amax/127/2 ≤ 3/254) plus the f16 rounding of d.
                    #expect(abs(back[i] - x[v * width + i]) <= 0.0125, "\(format) vector \(v) element \(i)")
                }
            }
        }
    }

    /// Every kernel (one, four and eight vectors at a time, single thread and pooled) equals a plain
    /// double-precision product of the dequantized weights and dequantized activations.
    @Test(arguments: types)
    func productsEqualDequantizedReference(type: GGMLType) throws {
        let rows = 37, columns = type.blockSize == 256 ? 768 : 576
        var gen = SyntheticBlocks(seed: 3)
        let bytes = gen.tensor(type, rows: rows, columns: columns)
        let w = try bytes.withUnsafeBytes { try WeightMatrix(repacking: $0, type: type, rows: rows, columns: columns) }
        let pool = ThreadPool(threadCount: 2)
        defer { pool.shutdown() }
        for count in [1, 3, 4, 9, 20] {
            let x = (0..<count * columns).map { _ in gen.unit() }
            let q = QuantizedActivations()
            var out = [Float](repeating: .nan, count: count * rows)
            x.withUnsafeBufferPointer { xp in
                q.quantize(xp.baseAddress!, count: count, stride: columns, width: columns, scheme: .init(for: w))
                out.withUnsafeMutableBufferPointer { MatMul.multiply(w, q, into: $0.baseAddress!, outStride: rows, pool: pool) }
            }
            for v in 0..<count {
                let a = q.dequantized(v)
                for r in 0..<rows {
                    var exact = 0.0, magnitude = 0.0
                    for c in 0..<columns {
                        let term = Double(w.element(row: r, column: c)) * Double(a[c])
                        exact += term
                        magnitude += abs(term)
                    }
                    // Float accumulation, plus (nibble formats, Q5_1) the f16 rounding of the block sums.
                    let roundedSums = w.format == .nibble || QuantizedActivations.Scheme(for: w).roundSums
                    let tolerance = magnitude * (roundedSums ? 2e-3 : 1e-5) + 1e-5
                    #expect(abs(Double(out[v * rows + r]) - exact) <= tolerance, "\(type) vector \(v) row \(r)")
                }
            }
        }
    }

    @Test func threadPoolRunsEveryIndexOnce() {
        let pool = ThreadPool(threadCount: 3, spinLimit: 10)
        defer { pool.shutdown() }
        // Jobs follow each other at once, as a decode step's do: a worker still on the previous
        // job's ticket must not claim against the next job's count.
        for round in 0..<20_000 {
            let n = round % 17 + 1
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: n)
            hits.initialize(repeating: 0, count: n)
            pool.parallelFor(n) { hits[$0] += 1 }
            #expect((0..<n).allSatisfy { hits[$0] == 1 })
            hits.deallocate()
        }
    }
}

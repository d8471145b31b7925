import CParleyKernels

extension MatMul {
    /// ``groups`` with the VNNI kernels of `CParleyKernels`: each row group of eight against the
    /// groups of eight interleaved vectors, then the rest up to four at a time. Each vector's sums
    /// go through the same integer and float steps as in the portable kernels.
    static func vnniGroups(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int
    ) {
        let count = x.count, blocks = Int32(w.blocksPerRow), halfScales: Int32 = w.halfScales ? 1 : 0
        let nibble = w.format == .nibble
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8) { buffer in
            let acc = buffer.baseAddress!
            let floats = UnsafeMutableRawPointer(acc).assumingMemoryBound(to: Float.self)
            var g = rows.lowerBound
            while g < rows.upperBound {
                let group = g / WeightMatrix.groupRows
                let q = UnsafeRawPointer(w.quants + group * w.groupStride)
                let s = UnsafeRawPointer(w.scales + group * w.scalesPerGroup * w.scaleBytes)
                let m = UnsafeRawPointer(w.offsets + (nibble ? group * w.scalesPerGroup * w.scaleBytes : 0))
                let valid = min(WeightMatrix.groupRows, w.rows - g)
                let o = out + g
                var v = 0
                while v < count {
                    var view: parley_activations
                    let n: Int
                    if v < 8 * x.groupsOfEight {
                        view = x.vnniGroup(v / 8)
                        n = 8
                    } else {
                        n = min(4, count - v)
                        view = x.vnniVectors(v, count: n)
                    }
                    floats.initialize(repeating: 0, count: 8 * n)
                    if nibble {
                        parley_vnni_nibble(q, s, m, halfScales, blocks, &view, floats)
                    } else {
                        parley_vnni_byte(q, s, halfScales, blocks, &view, floats)
                    }
                    for i in 0..<n { store(acc[i], o + (v + i) * outStride, valid) }
                    v += n
                }
                g += WeightMatrix.groupRows
            }
        }
    }
}

extension QuantizedActivations {
    /// Group `g` of eight interleaved vectors for the VNNI kernels.
    func vnniGroup(_ g: Int) -> parley_activations {
        let blocks = blocksPerVector
        return parley_activations(
            quants: UnsafeRawPointer(interleavedQuants + g * paddedWidth * 2).assumingMemoryBound(to: Int8.self),
            scales: interleavedScales + g * blocks * 8, sums: interleavedSums + g * blocks * 8,
            corrections: interleavedCorrections + g * blocks * 16, quant_stride: paddedWidth, count: 8, layout: 1)
    }

    /// Vectors `first…first+count-1` (`count` ≤ 4) in element order for the VNNI kernels.
    func vnniVectors(_ first: Int, count: Int) -> parley_activations {
        let blocks = blocksPerVector
        return parley_activations(
            quants: quants + first * paddedWidth, scales: scales + first * blocks, sums: sums + first * blocks,
            corrections: corrections + first * blocks * 2, quant_stride: paddedWidth, count: Int32(count), layout: 0)
    }
}

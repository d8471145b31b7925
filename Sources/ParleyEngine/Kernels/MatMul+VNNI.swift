import CParleyKernels

extension MatMul {
    /// ``rowRange(_:_:_:_:_:path:)`` for the quantized formats with the VNNI kernels of
    /// `CParleyKernels`: each vector's sums go through the same integer and float steps as in the
    /// portable kernels.
    static func vnniRows(
        _ w: WeightMatrix, _ x: QuantizedActivations, _ rows: Range<Int>, _ out: UnsafeMutablePointer<Float>,
        _ outStride: Int
    ) {
        let scaleKind: Int32 =
            switch w.scaleEncoding {
            case .float: 0
            case .half: 1
            case .coded: 2
            }
        var matrix = parley_matrix(
            quants: UnsafeRawPointer(w.quants), scales: UnsafeRawPointer(w.scales), offsets: UnsafeRawPointer(w.offsets),
            super_scales: UnsafeRawPointer(w.superScales), super_offsets: UnsafeRawPointer(w.superOffsets),
            group_stride: w.groupStride, scale_stride: w.scalesPerGroup * w.scaleBytes,
            super_stride: w.superScalesPerGroup * 2, rows: Int32(w.rows), blocks: Int32(w.blocksPerRow),
            scale_kind: scaleKind, nibble: w.format == .nibble ? 1 : 0,
            packed_bits: Int32(w.packedBits), quant_bias: Int32(w.quantBias), scales_per_block: Int32(w.scalesPerBlock))
        var batch = parley_batch(
            quants: x.quants, scales: x.scales, sums: x.sums, corrections: x.corrections,
            group_quants: UnsafeRawPointer(x.interleavedQuants).assumingMemoryBound(to: Int8.self),
            group_scales: x.interleavedScales, group_sums: x.interleavedSums, group_corrections: x.interleavedCorrections,
            padded_width: x.paddedWidth, count: Int32(x.count), groups: Int32(x.groupsOfEight))
        parley_vnni_multiply(&matrix, &batch, Int32(rows.lowerBound), Int32(rows.upperBound), out, outStride)
    }
}

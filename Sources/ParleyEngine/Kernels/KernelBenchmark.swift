#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Throughput of the matrix kernels on one thread, for `parley-bench-engine --kernels`: products of
/// synthetic matrices with 1, 4, 8 and 16 vectors, timed in thread CPU time so that other processes
/// on the machine do not distort it. 1536×576 (SmolLM2's feed-forward) stays in the caches;
/// 49152×576 (its output projection, 28 MB at 8 bits) streams from memory. The K-quants (Q4_K and
/// Q6_K, what Q4_K_M files hold) and IQ4_XS have rows of 768 (whole super-blocks).
package enum KernelBenchmark {
    /// One measured product.
    package struct Result: Sendable {
        package var type: String
        /// The kernels that ran (`portable` or `vnni`, see ``KernelPath``).
        package var kernels: String
        package var rows: Int
        package var columns: Int
        package var vectors: Int
        /// Multiply-accumulates per second.
        package var macsPerSecond: Double
    }

    /// The kernels the engine uses in this process (`vnni` or `portable`, see ``KernelPath``).
    package static var activeKernels: String { "\(KernelPath.preferred)" }

    /// Runs the products for Q4_1, Q8_0, Q4_K, Q6_K and IQ4_XS weights with every kernel path this CPU has.
    package static func run() throws -> [Result] {
        var results: [Result] = []
        let types: [GGMLType] = [.q4_1, .q8_0, .q4_K, .q6_K, .iq4_xs]
        for (type, rows) in types.map({ ($0, 1536) }) + types.map({ ($0, 49152) }) {
            let columns = type.hasSuperBlocks ? 768 : 576
            let w = try matrix(type, rows: rows, columns: columns)
            for path in KernelPath.available {
                for count in [1, 4, 8, 16] {
                    let x = (0..<count * columns).map { Float(($0 * 7919) % 255) / 127 - 1 }
                    let q = QuantizedActivations()
                    var out = [Float](repeating: 0, count: count * rows)
                    x.withUnsafeBufferPointer {
                        q.quantize($0.baseAddress!, count: count, stride: columns, width: columns, scheme: .init(for: w))
                    }
                    let iterations = max(1, 800 * 1536 / rows / count)
                    let start = threadCPUTime()
                    out.withUnsafeMutableBufferPointer { o in
                        for _ in 0..<iterations {
                            for r in stride(from: 0, to: rows, by: 64) {
                                MatMul.rowRange(w, q, r..<min(rows, r + 64), o.baseAddress!, rows, path: path)
                            }
                        }
                    }
                    let seconds = threadCPUTime() - start
                    results.append(
                        Result(
                            type: "\(type)", kernels: "\(path)", rows: rows, columns: columns, vectors: count,
                            macsPerSecond: Double(rows * columns * count * iterations) / seconds))
                }
            }
        }
        return results
    }

    /// A matrix of pseudo-random quants with moderate f16 scales (1/8, offsets 1/8; the K-quants'
    /// sub-scales stay random).
    private static func matrix(_ type: GGMLType, rows: Int, columns: Int) throws -> WeightMatrix {
        var bytes = [UInt8](repeating: 0, count: type.byteCount(elements: rows * columns)!)
        var state: UInt64 = 1
        for i in bytes.indices {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        let blockBytes = type.bytesPerBlock
        let halves = type == .q6_K ? [208] : type == .q4_1 || type == .q4_K ? [0, 2] : [0]
        for b in 0..<rows * columns / type.blockSize {
            for h in halves {  // f16 0x3000 = 0.125
                bytes[b * blockBytes + h] = 0
                bytes[b * blockBytes + h + 1] = 0x30
            }
        }
        return try bytes.withUnsafeBytes { try WeightMatrix(repacking: $0, type: type, rows: rows, columns: columns) }
    }

    private static func threadCPUTime() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}

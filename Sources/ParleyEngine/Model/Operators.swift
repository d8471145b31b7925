#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The element-wise and per-head operations of the llama forward pass, following llama.cpp's
/// arithmetic (sums of squares in double, rotary angles by repeated multiplication).
enum Operators {
    /// `out = x / sqrt(mean(x²) + eps) · weight` over `count` elements.
    static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, count: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        var sum = 0.0
        for i in 0..<count { sum += Double(x[i]) * Double(x[i]) }
        let scale = 1 / (Float(sum / Double(count)) + epsilon).squareRoot()
        for i in 0..<count { out[i] = (x[i] * scale) * weight[i] }
    }

    /// The rotary cos/sin table of one position: `dims / 2` pairs, angle `p · base^(-2i/dims)`.
    static func ropeTable(position: Int, base: Float, dims: Int, cos: UnsafeMutablePointer<Float>,
                          sin: UnsafeMutablePointer<Float>) {
        let thetaScale = powf(base, -2 / Float(dims))
        var theta = Float(position)
        for i in 0..<dims / 2 {
            cos[i] = cosf(theta)
            sin[i] = sinf(theta)
            theta *= thetaScale
        }
    }

    /// Rotates adjacent pairs `(x[2i], x[2i+1])` of each of `heads` heads of `headDim` elements
    /// (ggml's normal, non-NeoX mode; the first `dims` elements of each head).
    static func rope(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, dims: Int, cos: UnsafePointer<Float>,
        sin: UnsafePointer<Float>
    ) {
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<dims / 2 {
                let x0 = v[2 * i], x1 = v[2 * i + 1]
                v[2 * i] = x0 * cos[i] - x1 * sin[i]
                v[2 * i + 1] = x0 * sin[i] + x1 * cos[i]
            }
        }
    }

    /// `gate[i] = silu(gate[i]) · up[i]`, eight at a time with ``VectorMath/exp(_:)`` (like llama.cpp's
    /// vectorized SiLU, which also uses a polynomial exponential).
    static func swiGLU(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let g = UnsafeRawPointer(gate + i).loadUnaligned(as: SIMD8<Float>.self)
            let u = UnsafeRawPointer(up + i).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(gate + i).storeBytes(of: g / (1 + VectorMath.exp(-g)) * u, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            let g = gate[i]
            gate[i] = g / (1 + expf(-g)) * up[i]
            i += 1
        }
    }

    /// Causal attention of one query head over positions `0...last` of `cache` in `layer`:
    /// `out = softmax(q·Kᵀ / sqrt(d)) · V`. Like llama.cpp, the query and the attention weights are
    /// rounded to f16 before they meet the f16 cache.
    static func attendHead(
        query: UnsafePointer<Float>, cache: KVCache, layer: Int, kvOffset: Int, headDim: Int, last: Int,
        scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    ) {
        let scale = 1 / Float(headDim).squareRoot()
        let vectors = headDim / 8
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: vectors) { q in
            for j in 0..<vectors {
                let raw = UnsafeRawPointer(query + 8 * j).loadUnaligned(as: SIMD8<Float>.self)
                q[j] = SIMD8<Float>(SIMD8<Float16>(raw))
            }
            var maxScore = -Float.infinity
            for p in 0...last {
                let k = UnsafeRawPointer(cache.keyRow(layer: layer, position: p) + kvOffset)
                var acc = SIMD8<Float>()
                for j in 0..<vectors {
                    acc = acc.addingProduct(SIMD8<Float>(k.loadUnaligned(fromByteOffset: 16 * j, as: SIMD8<Float16>.self)), q[j])
                }
                let s = acc.sum() * scale
                scratch[p] = s
                maxScore = max(maxScore, s)
            }
            var total = 0.0
            for p in 0...last {
                let e = expf(scratch[p] - maxScore)
                scratch[p] = e
                total += Double(e)
            }
            let norm = Float(1 / total)
            for j in 0..<vectors { q[j] = SIMD8() }
            for p in 0...last {
                let weight = Float(Float16(scratch[p] * norm))
                let v = UnsafeRawPointer(cache.valueRow(layer: layer, position: p) + kvOffset)
                for j in 0..<vectors {
                    q[j] = q[j].addingProduct(SIMD8<Float>(v.loadUnaligned(fromByteOffset: 16 * j, as: SIMD8<Float16>.self)), weight)
                }
            }
            for j in 0..<vectors {
                UnsafeMutableRawPointer(out + 8 * j).storeBytes(of: q[j], as: SIMD8<Float>.self)
            }
        }
    }
}

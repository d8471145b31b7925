#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The element-wise and per-head operations of the forward pass, following llama.cpp's
/// arithmetic (sums of squares in double, rotary angles by repeated multiplication).
enum Operators {
    /// `out = x / sqrt(mean(x²) + eps) · weight` over `count` elements.
    static func rmsNorm(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, count: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        var sum = 0.0
        for i in 0..<count { sum += Double(x[i]) * Double(x[i]) }
        scaleNormalized(x, sumOfSquares: sum, weight: weight, epsilon: epsilon, count: count, into: out)
    }

    /// ``rmsNorm(_:weight:epsilon:count:into:)`` of `vectors` vectors `stride` apart (outputs likewise),
    /// four at a time: each vector's sum of squares still adds its elements one by one in order (so
    /// the results are the same bit for bit), but the four sums advance side by side instead of
    /// each waiting on its own chain of additions.
    static func rmsNorm(
        _ x: UnsafePointer<Float>, vectors: Int, stride: Int, weight: UnsafePointer<Float>, epsilon: Float,
        count: Int, into out: UnsafeMutablePointer<Float>
    ) {
        var t = 0
        while t + 4 <= vectors {
            let x0 = x + t * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride
            var sum = SIMD4<Double>()
            for i in 0..<count {
                let v = SIMD4(Double(x0[i]), Double(x1[i]), Double(x2[i]), Double(x3[i]))
                sum += v * v
            }
            for k in 0..<4 {
                scaleNormalized(
                    x + (t + k) * stride, sumOfSquares: sum[k], weight: weight, epsilon: epsilon, count: count,
                    into: out + (t + k) * stride)
            }
            t += 4
        }
        while t < vectors {
            rmsNorm(x + t * stride, weight: weight, epsilon: epsilon, count: count, into: out + t * stride)
            t += 1
        }
    }

    @inline(__always)
    private static func scaleNormalized(
        _ x: UnsafePointer<Float>, sumOfSquares sum: Double, weight: UnsafePointer<Float>, epsilon: Float, count: Int,
        into out: UnsafeMutablePointer<Float>
    ) {
        let scale = 1 / (Float(sum / Double(count)) + epsilon).squareRoot()
        for i in 0..<count { out[i] = (x[i] * scale) * weight[i] }
    }

    /// The rotary cos/sin table of one position: `dims / 2` pairs, angle `p · base^(-2i/dims)`,
    /// divided by `factors[i]` when given (Llama 3.1's `rope_freqs`), then by `positionScale`
    /// (linear scaling), in ggml's order of operations; cosines and sines are multiplied by
    /// `magnitude` (LongRoPE's attention factor).
    static func ropeTable(
        position: Int, base: Float, dims: Int, positionScale: Float = 1, factors: UnsafePointer<Float>? = nil,
        magnitude: Float = 1, cos: UnsafeMutablePointer<Float>, sin: UnsafeMutablePointer<Float>
    ) {
        let thetaScale = powf(base, -2 / Float(dims))
        let frequencyScale = 1 / positionScale
        var theta = Float(position)
        for i in 0..<dims / 2 {
            var angle = factors.map { theta / $0[i] } ?? theta
            if positionScale != 1 { angle = frequencyScale * angle }
            cos[i] = cosf(angle) * magnitude
            sin[i] = sinf(angle) * magnitude
            theta *= thetaScale
        }
    }

    /// Rotates pairs `(x[i], x[i + dims/2])` of each of `heads` heads of `headDim` elements
    /// (ggml's NeoX mode, Gemma's; the first `dims` elements of each head).
    static func ropeHalves(
        _ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, dims: Int, cos: UnsafePointer<Float>,
        sin: UnsafePointer<Float>
    ) {
        let half = dims / 2
        for h in 0..<heads {
            let v = x + h * headDim
            for i in 0..<half {
                let x0 = v[i], x1 = v[i + half]
                v[i] = x0 * cos[i] - x1 * sin[i]
                v[i + half] = x0 * sin[i] + x1 * cos[i]
            }
        }
    }

    /// `gate[i] = gelu(gate[i]) · up[i]` with GELU's tanh approximation, computed as ggml computes
    /// it (`1 + a·x·x` as one fused multiply-add, float `tanhf`). With `halfTable`, like llama.cpp's
    /// CPU kernel (a table over f16 inputs): the input is rounded to f16 and the GELU to f16 before
    /// the product, and inputs beyond ±10 give 0 or themselves.
    static func geluGate(_ gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int, halfTable: Bool) {
        let c: Float = 0.797_884_560_802_865_355_879_892_119_868_76  // √(2/π)
        for i in 0..<count {
            var g = gate[i]
            if halfTable {
                if g <= -10 {
                    gate[i] = 0
                    continue
                }
                if g >= 10 {
                    gate[i] = g * up[i]
                    continue
                }
                g = Float(Float16(g))
            }
            let cubic = Float(1).addingProduct(0.044_715 * g, g)
            var y = 0.5 * g * (1 + tanhf(c * g * cubic))
            if halfTable { y = Float(Float16(y)) }
            gate[i] = y * up[i]
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
}

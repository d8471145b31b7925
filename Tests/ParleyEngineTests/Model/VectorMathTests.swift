import Foundation
import Testing

@testable import ParleyEngine

@Suite struct VectorMathTests {
    /// Within 2 ulp of `expf` over the range SiLU meets, including the clamped ends.
    @Test func expMatchesExpf() {
        var worst: Float = 0
        var x: Float = -87
        while x <= 87 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let e = VectorMath.exp(lanes)
            for l in 0..<8 where lanes[l] <= 87 {
                let expected = expf(lanes[l])
                let ulps = abs(e[l] - expected) / expected.ulp
                worst = max(worst, ulps)
                #expect(ulps <= 2, "exp(\(lanes[l])) = \(e[l]), expf = \(expected)")
            }
            x += 0.1
        }
        print("VectorMath.exp: worst error \(worst) ulp")
        #expect(VectorMath.exp(SIMD8(repeating: -1000)).max() < 1e-37)
        #expect(VectorMath.exp(SIMD8(repeating: 0)) == SIMD8(repeating: 1))
    }

    /// The vector rounding to f16 precision rounds as the scalar conversion does: normal,
    /// subnormal (softmax weights below 6e-5), ties, overflow to infinity.
    @Test func roundToHalfEqualsTheScalarConversion() {
        var state: UInt64 = 11
        var values: [Float] = [0, -0, 1, 65504, 65520, 1e6, -1e6, 5.96e-8, 2.98e-8, 1e-9, 6.1e-5, 1.0009766, 1.0004883]
        for _ in 0..<4000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let bits = UInt32(truncatingIfNeeded: state >> 32)
            let exponent = Float(Int(bits % 40) - 30)
            values.append(Float(Int32(bitPattern: bits) >> 8) / 8_388_608 * powf(2, exponent))
        }
        while values.count % 8 != 0 { values.append(0.5) }
        for chunk in stride(from: 0, to: values.count, by: 8) {
            let lanes = SIMD8<Float>(values[chunk..<chunk + 8])
            let rounded = VectorMath.roundToHalf(lanes)
            for l in 0..<8 {
                #expect(rounded[l].bitPattern == Float(Float16(lanes[l])).bitPattern, "\(lanes[l])")
            }
        }
    }

    @Test func horizontalMaxAndDoubleSum() {
        var state: UInt64 = 7
        for _ in 0..<100 {
            let x = (0..<64).map { _ -> Float in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state) >> 40) / 1000
            }
            #expect(VectorMath.horizontalMax(SIMD8(x[0..<8])) == x[0..<8].max()!)
            let sum = x.withUnsafeBufferPointer { VectorMath.sumInDouble($0.baseAddress!, count: 64) }
            let exact = x.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - exact) <= 1e-9 * max(1, abs(exact)))
        }
    }
}

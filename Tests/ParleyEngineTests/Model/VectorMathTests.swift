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
}

import Testing

@testable import ParleyEngine

@Suite struct RMSNormTests {
    /// The batched norm (four vectors' sums side by side) equals the one-vector norm bit for bit,
    /// for every batch size around the groups of four.
    @Test func batchedNormEqualsOneByOne() {
        var gen = SyntheticBlocks(seed: 21)
        let count = 576
        for vectors in 1...9 {
            let x = (0..<vectors * count).map { _ in gen.unit() * Float(1 + gen.next() % 50) }
            let weight = (0..<count).map { _ in gen.unit() * 2 }
            var one = [Float](repeating: .nan, count: x.count), batched = one
            x.withUnsafeBufferPointer { x in
                weight.withUnsafeBufferPointer { w in
                    one.withUnsafeMutableBufferPointer { o in
                        for t in 0..<vectors {
                            Operators.rmsNorm(
                                x.baseAddress! + t * count, weight: w.baseAddress!, epsilon: 1e-5, count: count,
                                into: o.baseAddress! + t * count)
                        }
                    }
                    batched.withUnsafeMutableBufferPointer { o in
                        Operators.rmsNorm(
                            x.baseAddress!, vectors: vectors, stride: count, weight: w.baseAddress!, epsilon: 1e-5,
                            count: count, into: o.baseAddress!)
                    }
                }
            }
            #expect(one.map(\.bitPattern) == batched.map(\.bitPattern), "\(vectors) vectors")
        }
    }
}

import Foundation
import Testing

@testable import ParleyEngine

/// The log probabilities reported with tokens: the normaliser read eight lanes at a time agrees with
/// a plain sum in Double, and what is reported is always a finite number ≤ 0.
struct LogprobDistributionTests {
    static func plainLogSumExp(_ values: [Float]) -> Double {
        let largest = Double(values.max()!)
        return largest + log(values.reduce(0.0) { $0 + Foundation.exp(Double($1) - largest) })
    }

    @Test(arguments: [1, 7, 8, 9, 1_000, 49_152 + 3])
    func theNormaliserMatchesAPlainSum(count: Int) {
        var state: UInt64 = UInt64(count)
        let logits = (0..<count).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int((state >> 33) % 4_000)) / 100 - 20
        }
        let ours = Double(LogprobDistribution.logSumExp(logits))
        #expect(abs(ours - Self.plainLogSumExp(logits)) < 1e-4 * max(1, abs(ours)))
    }

    @Test func probabilitiesOfAllTokensAddUpToOne() {
        let logits: [Float] = (0..<100).map { Float($0 % 17) * 0.7 - 3 }
        let distribution = LogprobDistribution(logits, top: 100)
        let total = distribution.top.map { Foundation.exp(Double($0.logprob)) }.reduce(0, +)
        #expect(abs(total - 1) < 1e-4)
        #expect(distribution.top.count == 100)
        #expect(distribution.logprobs(of: 16).logprob == distribution.top[0].logprob)
    }

    @Test func whatIsReportedIsAlwaysAFiniteNumberAtMostZero() {
        let distribution = LogprobDistribution([0, -.infinity, 80, -80], top: 0)
        #expect(distribution.top.isEmpty)
        // A broken model's NaN logits.
        let broken = LogprobDistribution([0, .nan, 1], top: 3)
        for id in Int32(-1)...Int32(5) {
            for logprob in [distribution.logprobs(of: id).logprob, broken.logprobs(of: id).logprob] {
                #expect(logprob.isFinite && logprob <= 0 && logprob >= LogprobDistribution.floor, "id \(id)")
            }
        }
        #expect(broken.top.allSatisfy { $0.logprob.isFinite })
        #expect(distribution.logprobs(of: 2).logprob > -0.001)
        #expect(distribution.logprobs(of: 1).logprob == LogprobDistribution.floor)
    }
}

import Foundation
import Testing

@testable import ParleyEngine

@Suite struct SamplerTests {
    @Test func greedyPicksTheLargestLogit() {
        var sampler = Sampler(parameters: .greedy, seed: 1)
        var logits: [Float] = [0.1, 3, -2, 2.9]
        #expect(sampler.sample(&logits, recent: []) == 1)
    }

    @Test func sameSeedSameTokensDifferentSeedDifferentTokens() {
        let parameters = SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0)
        let logits: [Float] = (0..<50).map { Float($0 % 7) * 0.3 }
        func draws(_ seed: UInt64) -> [Int32] {
            var sampler = Sampler(parameters: parameters, seed: seed)
            return (0..<64).map { _ in
                var copy = logits
                return sampler.sample(&copy, recent: [])
            }
        }
        #expect(draws(7) == draws(7))
        #expect(draws(7) != draws(8))
    }

    @Test func topKOfOneIsGreedyAtAnyTemperature() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 5, topK: 1), seed: 3)
        for _ in 0..<100 {
            var logits: [Float] = [1, 1.5, 0.2, 1.4]
            #expect(sampler.sample(&logits, recent: []) == 1)
        }
    }

    @Test func minPAndTopPDropUnlikelyTokens() {
        var minP = Sampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.5), seed: 4)
        var topP = Sampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 0.5, minP: 0), seed: 4)
        for _ in 0..<200 {
            var a: [Float] = [5, 0, 0, 0, 4.9]  // tokens 0 and 4 carry almost all mass, nearly equal
            var b = a
            #expect([0, 4].contains(minP.sample(&a, recent: [])))
            #expect(topP.sample(&b, recent: []) == 0)  // token 0 alone exceeds half the mass
        }
    }

    @Test func temperatureSamplingFollowsTheDistribution() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0), seed: 5)
        var ones = 0
        let draws = 4000
        for _ in 0..<draws {
            var logits: [Float] = [0, Float(log(3.0))]  // p = 0.25, 0.75
            if sampler.sample(&logits, recent: []) == 1 { ones += 1 }
        }
        let share = Double(ones) / Double(draws)
        #expect(share > 0.71 && share < 0.79, "share of token 1: \(share)")
    }

    @Test func repetitionPenaltyDiscouragesRecentTokens() {
        var sampler = Sampler(parameters: SamplingParameters(temperature: 0, repetitionPenalty: 1.5), seed: 1)
        var logits: [Float] = [2.0, 1.9, -1]
        #expect(sampler.sample(&logits, recent: [0, 0, 2]) == 1)
        #expect(logits[2] == -1.5)
    }

    @Test func stopMatcherHoldsBackPrefixesAndCutsAtTheStop() {
        var matcher = StopMatcher(stops: ["</end>", "STOP"])
        #expect(matcher.append("Hello <").text == "Hello ")
        #expect(matcher.append("/e").text == "")
        let out = matcher.append("x> more ST")
        #expect(out.text == "</ex> more " && !out.stopped)
        let end = matcher.append("OP and after")
        #expect(end.text == "")  // the held "ST" was the start of the stop string
        #expect(end.stopped)
    }

    @Test func stopMatcherReleasesHeldTextOnFlushAndFindsEarliestStop() {
        var matcher = StopMatcher(stops: ["\n\n", "User:"])
        #expect(matcher.append("Answer.\n").text == "Answer.")
        #expect(matcher.flush() == "\n")
        var other = StopMatcher(stops: ["b", "a"])
        let result = other.append("xxabyy")
        #expect(result.text == "xx" && result.stopped)
    }

    /// The vectorized scans over a vocabulary-sized array: top-k equals a full sort's first k (ties
    /// keep the lower id first), argmax is the lowest index of the maximum.
    @Test func topCandidatesAndArgmaxOverALargeVocabulary() {
        var state: UInt64 = 11
        let logits = (0..<5_003).map { _ -> Float in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float((state >> 33) % 2_000) / 100  // many ties
        }
        let sampler = Sampler(parameters: SamplingParameters(), seed: 1)
        for k in [1, 40, 100] {
            let ours = sampler.topCandidates(logits, k: k).map(\.id)
            let expected = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
                .prefix(k).map { Int32($0) }
            #expect(ours == Array(expected), "k = \(k)")
        }
        let best = logits.max()!
        #expect(Sampler.argmax(logits) == Int32(logits.firstIndex(of: best)!))
        var late = logits
        late[5_002] = 100
        #expect(Sampler.argmax(late) == 5_002)
    }
}

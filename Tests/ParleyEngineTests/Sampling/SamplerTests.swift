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

    @Test func logitBiasIsAddedBeforeChoosing() {
        var banned = Sampler(parameters: SamplingParameters(temperature: 0, logitBias: [0: -100]), seed: 1)
        var logits: [Float] = [5, 4, 3]
        #expect(banned.sample(&logits, recent: []) == 1)
        var forced = Sampler(parameters: SamplingParameters(temperature: 1, logitBias: [2: 100]), seed: 1)
        for _ in 0..<50 {
            var logits: [Float] = [5, 4, 3]
            #expect(forced.sample(&logits, recent: []) == 2)
        }
    }

    /// OpenAI's formula: logit − count × frequency − (count > 0) × presence, over the answer's tokens
    /// (the sampler's own picks and a resumed answer's tokens), never the prompt's.
    @Test func frequencyAndPresencePenaltiesCountTheAnswerOnly() {
        var sampler = Sampler(
            parameters: SamplingParameters(temperature: 0, frequencyPenalty: 0.5, presencePenalty: 0.25), seed: 1,
            answerSoFar: [0, 0])
        var logits: [Float] = [3, 2, 1]
        // Token 0 was in the answer twice: 3 − 2 × 0.5 − 0.25 = 1.75 < 2.
        #expect(sampler.sample(&logits, recent: [0, 0, 0, 0]) == 1)
        #expect(logits == [1.75, 2, 1])
        #expect(sampler.answerCounts == [0: 2, 1: 1])
        logits = [3, 2, 1]
        // Now token 1 was picked once (2 − 0.75 = 1.25); token 0 still scores 1.75.
        #expect(sampler.sample(&logits, recent: []) == 0)
        #expect(logits == [1.75, 1.25, 1])
        // A negative penalty encourages repeats; with both at 0 nothing is counted.
        var repeats = Sampler(parameters: SamplingParameters(temperature: 0, presencePenalty: -2), seed: 1, answerSoFar: [2])
        logits = [3, 2, 1.5]
        #expect(repeats.sample(&logits, recent: []) == 2)
        var off = Sampler(parameters: SamplingParameters(temperature: 0), seed: 1, answerSoFar: [0, 1])
        logits = [3, 2, 1]
        #expect(off.sample(&logits, recent: []) == 0)
        #expect(off.answerCounts.isEmpty)
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
        for k in [1, 40, 100] {
            let ours = Sampler.topCandidates(logits, k: k).map(\.id)
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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Chooses the next token from logits according to ``SamplingParameters``.
///
/// Order as in llama.cpp's default chain: logit bias, then the penalties (repetition, frequency and
/// presence), then (unless greedy) top-k, top-p and min-p on the untempered distribution, then
/// temperature, then a draw from the seeded generator. With an ``AnswerConstraint`` (JSON mode,
/// structured outputs, tool calls) only tokens that continue an answer of its grammar are candidates.
struct Sampler: Sendable {
    let parameters: SamplingParameters
    /// Keeps the answer inside a grammar (nil: any text).
    private(set) var constraint: AnswerConstraint?
    private var random: Xoshiro256
    /// How often each token occurs in the answer so far (kept only while a frequency or presence
    /// penalty is on).
    private(set) var answerCounts: [Int32: Int] = [:]

    /// A sampler for one sequence; `answerSoFar` are tokens of the answer that are already in the
    /// prompt (a resumed answer), counted by the frequency and presence penalties.
    init(
        parameters: SamplingParameters, seed: UInt64, answerSoFar: ArraySlice<Int32> = [],
        constraint: AnswerConstraint? = nil
    ) {
        self.parameters = parameters
        self.constraint = constraint
        self.random = Xoshiro256(seed: seed)
        if parameters.countsAnswerTokens {
            for token in answerSoFar { answerCounts[token, default: 0] += 1 }
        }
    }

    /// Picks a token; `recent` are the latest tokens of the sequence (prompt and output) for the
    /// repetition penalty.
    mutating func sample(_ logits: inout [Float], recent: ArraySlice<Int32>) -> Int32 {
        let chosen = choose(&logits, recent: recent)
        if parameters.countsAnswerTokens { answerCounts[chosen, default: 0] += 1 }
        constraint?.accept(chosen)
        return chosen
    }

    private mutating func choose(_ logits: inout [Float], recent: ArraySlice<Int32>) -> Int32 {
        applyLogitBias(&logits)
        applyRepetitionPenalty(&logits, recent: recent)
        applyAnswerPenalties(&logits)
        if let constraint, !constraint.isFree { return chooseWithin(constraint, logits) }
        let chosen =
            parameters.temperature <= 0 ? Self.argmax(logits) : draw(from: Self.topCandidates(logits, k: parameters.topK))
        // Free text under a grammar: the usual choice, unless it breaks the grammar (a tool call
        // opened wrongly).
        if let constraint, !constraint.allows(chosen) { return chooseWithin(constraint, logits) }
        return chosen
    }

    /// The choice among the tokens `constraint` allows: the likeliest (greedy) or a draw from the
    /// usual filters over the allowed ones among the likeliest. Usually a few of the top tokens
    /// are tried; only when none of them fits is the whole vocabulary searched.
    private mutating func chooseWithin(_ constraint: AnswerConstraint, _ logits: [Float]) -> Int32 {
        if constraint.isComplete { return constraint.endToken(logits) }
        let greedy = parameters.temperature <= 0
        let wanted = greedy ? 1 : parameters.topK > 0 ? parameters.topK : logits.count
        // The first `wanted` allowed tokens, likeliest first.
        func allowed(among candidates: [Candidate]) -> [Candidate] {
            var allowed: [Candidate] = []
            for candidate in candidates where constraint.allows(candidate.id) {
                allowed.append(candidate)
                if allowed.count == wanted { break }
            }
            return allowed
        }
        var choices = allowed(among: Self.topCandidates(logits, k: max(wanted, 64)))
        if choices.isEmpty { choices = allowed(among: Self.topCandidates(logits, k: 0)) }
        guard let best = choices.first else { return constraint.endToken(logits) }
        return greedy ? best.id : draw(from: choices)
    }

    /// A draw from `candidates` (the likeliest first): top-p and min-p, then temperature.
    private mutating func draw(from candidates: [Candidate]) -> Int32 {
        var candidates = candidates
        // Softmax at temperature 1 for the nucleus and min-p filters.
        let maxLogit = candidates[0].logit
        var probabilities = candidates.map { exp(Double($0.logit - maxLogit)) }
        let total = probabilities.reduce(0, +)
        for i in probabilities.indices { probabilities[i] /= total }

        var keep = candidates.count
        if parameters.topP < 1 {
            var cumulative = 0.0
            for i in 0..<candidates.count {
                cumulative += probabilities[i]
                if cumulative >= Double(parameters.topP) {
                    keep = i + 1
                    break
                }
            }
        }
        if parameters.minP > 0 {
            let threshold = probabilities[0] * Double(parameters.minP)
            var i = 1
            while i < keep && probabilities[i] >= threshold { i += 1 }
            keep = i
        }
        candidates.removeSubrange(keep...)

        let temperature = Double(parameters.temperature)
        var weights = candidates.map { exp(Double($0.logit - maxLogit) / temperature) }
        let sum = weights.reduce(0, +)
        var target = random.nextUnit() * sum
        for i in weights.indices {
            target -= weights[i]
            if target < 0 { return candidates[i].id }
            weights[i] = 0
        }
        return candidates[candidates.count - 1].id
    }

    /// The index of the largest logit (the lowest index among ties): the maximum eight lanes at a
    /// time, then the first index holding it.
    static func argmax(_ logits: [Float]) -> Int32 {
        logits.withUnsafeBufferPointer { l in
            var i = 0
            var best = -Float.infinity
            if l.count >= 8 {
                var m = SIMD8<Float>(repeating: -.infinity)
                while i + 8 <= l.count {
                    m = VectorMath.maximum(m, UnsafeRawPointer(l.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self))
                    i += 8
                }
                best = VectorMath.horizontalMax(m)
            }
            while i < l.count {
                best = max(best, l[i])
                i += 1
            }
            // NaN logits never compare equal; fall back to index 0 like the scalar scan did.
            return Int32(l.firstIndex(of: best) ?? 0)
        }
    }

    private func applyLogitBias(_ logits: inout [Float]) {
        for (id, bias) in parameters.logitBias {
            let i = Int(id)
            guard i >= 0, i < logits.count else { continue }
            logits[i] += bias
        }
    }

    /// OpenAI's penalties: logit − count × frequency − (count > 0) × presence, for the tokens of the answer.
    private func applyAnswerPenalties(_ logits: inout [Float]) {
        guard parameters.countsAnswerTokens else { return }
        for (id, count) in answerCounts {
            let i = Int(id)
            guard i >= 0, i < logits.count else { continue }
            logits[i] -= Float(count) * parameters.frequencyPenalty + parameters.presencePenalty
        }
    }

    private func applyRepetitionPenalty(_ logits: inout [Float], recent: ArraySlice<Int32>) {
        let penalty = parameters.repetitionPenalty
        guard penalty != 1, parameters.repetitionWindow > 0 else { return }
        var seen = Set<Int32>()
        for id in recent.suffix(parameters.repetitionWindow) where seen.insert(id).inserted {
            let i = Int(id)
            guard i >= 0, i < logits.count else { continue }
            logits[i] = logits[i] > 0 ? logits[i] / penalty : logits[i] * penalty
        }
    }

    struct Candidate {
        var id: Int32
        var logit: Float
    }

    /// The `k` largest logits in descending order (all of them when `k` is 0 or too large).
    static func topCandidates(_ logits: [Float], k: Int) -> [Candidate] {
        let k = k <= 0 || k > logits.count ? logits.count : k
        if k == logits.count {
            return logits.indices.map { Candidate(id: Int32($0), logit: logits[$0]) }.sorted { $0.logit > $1.logit }
        }
        // Keep a sorted buffer of the best k; most logits fail the first comparison, which is made
        // for 32 at a time (their maximum) against the current k-th best.
        var best: [Candidate] = []
        best.reserveCapacity(k + 1)
        func consider(_ i: Int, _ value: Float) {
            if best.count == k, value <= best[k - 1].logit { return }
            var position = best.count
            while position > 0 && best[position - 1].logit < value { position -= 1 }
            best.insert(Candidate(id: Int32(i), logit: value), at: position)
            if best.count > k { best.removeLast() }
        }
        logits.withUnsafeBufferPointer { l in
            var i = 0
            while i + 32 <= l.count {
                let p = UnsafeRawPointer(l.baseAddress! + i)
                let m = VectorMath.maximum(
                    VectorMath.maximum(p.loadUnaligned(as: SIMD8<Float>.self), p.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)),
                    VectorMath.maximum(
                        p.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self),
                        p.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)))
                if best.count < k || VectorMath.horizontalMax(m) > best[k - 1].logit {
                    for j in 0..<32 { consider(i + j, l[i + j]) }
                }
                i += 32
            }
            while i < l.count {
                consider(i, l[i])
                i += 1
            }
        }
        return best
    }
}

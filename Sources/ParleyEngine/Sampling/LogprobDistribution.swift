#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The model's distribution over the next token as log probabilities, taken from the raw logits
/// before the sampler changes them: what ``TokenLogprobs`` reports for a generated token.
struct LogprobDistribution {
    /// log Σ eˡ over the vocabulary: a token's log probability is its logit minus this.
    let logNormalizer: Float
    /// The likeliest tokens, most likely first.
    let top: [TokenLogprobs.Candidate]
    /// The raw logits (shared with the sampler's array until it writes to it).
    private let logits: [Float]

    /// Reads `logits` once for the normaliser and once for the `top` likeliest.
    init(_ logits: [Float], top count: Int) {
        self.logits = logits
        logNormalizer = Self.logSumExp(logits)
        let normalizer = logNormalizer
        // `topCandidates` reads k = 0 as "all of them".
        let best = count > 0 ? Sampler.topCandidates(logits, k: count) : []
        top = best.map { TokenLogprobs.Candidate(id: $0.id, logprob: Self.finite($0.logit - normalizer)) }
    }

    /// What is reported for the token the sampler chose.
    func logprobs(of token: Int32) -> TokenLogprobs {
        let i = Int(token)
        let logprob = i >= 0 && i < logits.count ? Self.finite(logits[i] - logNormalizer) : Self.floor
        return TokenLogprobs(logprob: logprob, top: top)
    }

    /// A log probability so small it stands for 0 (OpenAI's stand-in for −∞): JSON has no infinity.
    static let floor: Float = -9999

    private static func finite(_ value: Float) -> Float {
        value.isFinite ? max(min(value, 0), floor) : floor
    }

    /// log Σ eˣ, computed as max + log Σ eˣ⁻ᵐᵃˣ eight lanes at a time (each lane's sum in Float,
    /// the lanes added in Double).
    static func logSumExp(_ values: [Float]) -> Float {
        guard let largest = values.max(), largest.isFinite else { return values.max() ?? 0 }
        return values.withUnsafeBufferPointer { v in
            var total = 0.0
            var i = 0
            let shift = SIMD8<Float>(repeating: largest)
            var lanes = SIMD8<Float>(repeating: 0)
            while i + 8 <= v.count {
                lanes += VectorMath.exp(UnsafeRawPointer(v.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self) - shift)
                i += 8
            }
            for lane in 0..<8 { total += Double(lanes[lane]) }
            while i < v.count {
                total += Double(expf(v[i] - largest))
                i += 1
            }
            return largest + Float(log(total))
        }
    }
}

import Foundation
import Testing

@testable import ParleyEngine

/// Llama 3.1's `rope_freqs` and linear rope scaling, on a small random llama model written for the
/// test (no real model with them is at hand): the engine at `.float32` precision against the NumPy
/// reference in float mode, which applies both as ggml's rope cache does.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct RopeScalingReferenceTests {
    static let dim = 64, heads = 4, kvHeads = 2, ff = 96, vocab = 64, blocks = 2

    /// A random llama file: F32 weights of moderate size, norms near 1.
    static func writeModel(ropeFactors: [Float]?, linearScale: Float?) throws -> String {
        var generator = SplitMix64(seed: 2026)
        func values(_ count: Int, scale: Float, around center: Float = 0) -> [UInt8] {
            (0..<count).flatMap { _ -> [UInt8] in
                let bits = (center + Float.random(in: -scale...scale, using: &generator)).bitPattern
                return (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
            }
        }
        func floats(_ list: [Float]) -> [UInt8] {
            list.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
        }
        let kvWidth = dim / heads * kvHeads
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(UInt32(dim))), ("llama.block_count", .uint32(UInt32(blocks))),
            ("llama.feed_forward_length", .uint32(UInt32(ff))), ("llama.attention.head_count", .uint32(UInt32(heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(kvHeads))), ("llama.context_length", .uint32(4096)),
            ("llama.rope.freq_base", .float32(500_000)), ("llama.vocab_size", .uint32(UInt32(vocab))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
        ]
        if let linearScale {
            writer.metadata += [
                ("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(linearScale)),
            ]
        }
        func tensor(_ name: String, _ shape: [Int], _ data: [UInt8]) {
            writer.tensors.append(.init(name: name, type: GGMLType.f32.rawValue, dimensions: shape.map(UInt64.init), data: data))
        }
        tensor("token_embd.weight", [dim, vocab], values(dim * vocab, scale: 1))
        tensor("output_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
        tensor("output.weight", [dim, vocab], values(dim * vocab, scale: 0.3))
        if let ropeFactors { tensor("rope_freqs.weight", [ropeFactors.count], floats(ropeFactors)) }
        for b in 0..<blocks {
            let p = "blk.\(b)."
            tensor(p + "attn_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
            tensor(p + "attn_q.weight", [dim, dim], values(dim * dim, scale: 0.3))
            tensor(p + "attn_k.weight", [dim, kvWidth], values(dim * kvWidth, scale: 0.3))
            tensor(p + "attn_v.weight", [dim, kvWidth], values(dim * kvWidth, scale: 0.3))
            tensor(p + "attn_output.weight", [dim, dim], values(dim * dim, scale: 0.1))
            tensor(p + "ffn_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
            tensor(p + "ffn_gate.weight", [dim, ff], values(dim * ff, scale: 0.2))
            tensor(p + "ffn_up.weight", [dim, ff], values(dim * ff, scale: 0.2))
            tensor(p + "ffn_down.weight", [ff, dim], values(ff * dim, scale: 0.1))
        }
        return try writer.write(named: "rope-scaling")
    }

    /// Float logits after a 300-token prompt (positions far enough for slow pairs to turn).
    static func compare(ropeFactors: [Float]?, linearScale: Float?) throws -> (worst: Float, spread: Float) {
        let path = try writeModel(ropeFactors: ropeFactors, linearScale: linearScale)
        let model = try TransformerModel(file: try GGUFFile(path: path), precision: .float32)
        let prompt = (0..<300).map { Int32(($0 * 37 + 11) % vocab) }
        let pool = ThreadPool(threadCount: 2)
        defer { pool.shutdown() }
        let cache = model.makeCache(capacity: prompt.count)
        let ours = ForwardPass(model: model, pool: pool).run(
            prompt.indices.map { .init(id: prompt[$0], position: $0, cache: cache, wantsLogits: $0 == prompt.count - 1) }
        ).last!
        let reference = try ReferenceModel.run(
            [.init(tokens: prompt, mode: "logits")], activations: "float", model: path)
        let expected = try #require(reference.first?.logits)
        let worst = zip(ours, expected).map { abs($0 - $1) }.max()!
        return (worst, expected.max()! - expected.min()!)
    }

    @Test func frequencyFactorsAndLinearScalingMatchTheReference() throws {
        let factors: [Float] = (0..<8).map { 1 + Float($0 * $0) / 4 }  // 1 … 13.25, as 3.1 grows them
        for (factors, scale) in [(nil, nil), (factors, nil), (nil, Float(4)), (factors, Float(4))] {
            let (worst, spread) = try Self.compare(ropeFactors: factors, linearScale: scale)
            print("rope factors \(factors != nil), linear scale \(scale ?? 1): max |Δ logit| \(worst) of a spread of \(spread)")
            #expect(worst < 1e-3, "factors \(factors != nil), scale \(scale ?? 1)")
        }
    }

    /// The test is able to fail: ignoring the factors changes the logits far beyond its tolerance.
    @Test func theFactorsMatter() throws {
        let factors: [Float] = (0..<8).map { 1 + Float($0 * $0) / 4 }
        let path = try Self.writeModel(ropeFactors: factors, linearScale: nil)
        let plain = try Self.writeModel(ropeFactors: nil, linearScale: nil)
        let prompt = (0..<300).map { Int32(($0 * 37 + 11) % Self.vocab) }
        let results = try [path, plain].map { model in
            try #require(ReferenceModel.run([.init(tokens: prompt, mode: "logits")], activations: "float", model: model).first?.logits)
        }
        #expect(zip(results[0], results[1]).map { abs($0 - $1) }.max()! > 1e-2)
    }
}

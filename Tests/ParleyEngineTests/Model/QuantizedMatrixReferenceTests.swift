import Testing

@testable import ParleyEngine

/// Files whose matrices are random blocks of each quantized type: the engine's 8-bit arithmetic
/// against the reference's q8 mode, which dequantizes with gguf-py and quantizes the activations
/// as llama.cpp does for each type (Q8_K for the K-quants and IQ4_XS).
///
/// The two agree to ~1e-5 until an activation lands on the other side of a rounding step in one
/// of them (the order of float sums differs); random weights then carry that quant's change to the
/// logits (measured up to 0.25 on Q4_0 files of other seeds). A wrong scale, minimum or bit
/// position moves them by whole units, so the bound is 1% of the logits' spread.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct QuantizedMatrixReferenceTests {
    static let prompt = (0..<12).map { Int32(($0 * 23 + 3) % 64) }

    @Test(arguments: [GGMLType.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_nl, .iq4_xs])
    func logitsMatchTheQ8Reference(type: GGMLType) throws {
        let file = RandomModelFile(family: .qwen2, dim: 256, heads: 4, kvHeads: 2, ff: 512, blocks: 2, biases: true, matrixType: type)
        let path = try file.write(named: "random-\(type)")
        let model = try TransformerModel(file: try GGUFFile(path: path), precision: .int8)
        #expect(model.layers[0].down.sourceType == type)
        let ours = ReferenceModel.engineLogits(model, Self.prompt, chunk: Self.prompt.count)
        let reference = try ReferenceModel.run([.init(tokens: Self.prompt, mode: "logits")], activations: "q8", model: path)
        let expected = try #require(reference.first?.logits)
        let worst = zip(ours, expected).map { abs($0 - $1) }.max()!
        let spread = expected.max()! - expected.min()!
        print("random \(type) matrices: max |Δ logit| \(worst) of a spread of \(spread)")
        #expect(worst < 1e-2 * spread)
    }
}

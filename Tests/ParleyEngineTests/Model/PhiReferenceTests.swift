import Testing

@testable import ParleyEngine

/// Phi-3 files with random weights against the float reference (itself checked against llama.cpp
/// within 3e-4 on such files): the fused query-key-value and gate-up matrices, partial NeoX
/// rotation, and LongRoPE's factors and attention factor, picked by the context as llama.cpp does.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct PhiReferenceTests {
    static let prompt = (0..<24).map { Int32(($0 * 41 + 7) % 64) }

    /// A phi3 file: heads of 32 with 16 rotated, LongRoPE factors for 8 pairs (long ones in 2…5,
    /// short ones in 1…2) beyond an original context of 256, attention factor 1.3.
    static func file(longRope: Bool = true, biases: Bool = false) -> RandomModelFile {
        var file = RandomModelFile(family: .phi3, biases: biases)
        file.metadata = [("phi3.rope.dimension_count", .uint32(16))]
        if longRope {
            file.metadata += [
                ("phi3.rope.scaling.original_context_length", .uint32(256)),
                ("phi3.rope.scaling.attn_factor", .float32(1.3)),
            ]
            file.extraTensors = [
                ("rope_factors_long.weight", (0..<8).map { 2 + Float($0) * 0.4 }),
                ("rope_factors_short.weight", (0..<8).map { 1 + Float($0 % 3) * 0.5 }),
            ]
        }
        return file
    }

    @Test(arguments: [(false, false, 4096), (true, false, 4096), (true, false, 256), (true, true, 512)])
    func phi3MatchesTheReference(longRope: Bool, biases: Bool, context: Int) throws {
        let path = try Self.file(longRope: longRope, biases: biases).write(named: "phi3-\(longRope)-\(biases)")
        let (ours, expected) = try RandomModelFile.logits(path: path, prompt: Self.prompt, context: context)
        let worst = zip(ours, expected).map { abs($0 - $1) }.max()!
        print("random phi3 (LongRoPE \(longRope), biases \(biases), context \(context)): max |Δ logit| \(worst)")
        #expect(worst < 1e-3)
    }

    /// The context picks the factors (long beyond the original 256 positions, rounded up to 256 as
    /// llama.cpp pads it), and the choice moves the logits far beyond the tolerance above.
    @Test func theContextPicksTheFactors() throws {
        let path = try Self.file().write(named: "phi3-factors")
        let file = try GGUFFile(path: path)
        let short = try TransformerModel(file: file, precision: .float32, contextLength: 200)
        let long = try TransformerModel(file: file, precision: .float32, contextLength: 257)
        #expect(short.ropeFrequencyFactors == [1, 1.5, 2, 1, 1.5, 2, 1, 1.5])
        #expect(long.ropeFrequencyFactors?.first == 2)
        let a = ReferenceModel.engineLogits(short, Self.prompt), b = ReferenceModel.engineLogits(long, Self.prompt)
        #expect(zip(a, b).map { abs($0 - $1) }.max()! > 1e-2)
    }

    @Test func aFileWithoutFusedOrSeparateProjectionsIsAClearError() throws {
        var file = Self.file()
        file.omitted = ["blk.1.attn_qkv.weight"]
        let error = #expect(throws: EngineError.self) {
            try TransformerModel(file: GGUFFile(path: file.write(named: "phi3-no-qkv")))
        }
        #expect(error?.message.contains("blk.1.attn_q.weight") == true)
    }
}

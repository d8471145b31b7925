import Testing

@testable import ParleyEngine

/// Qwen2 and Qwen3 files with random weights against the float reference: Qwen2's projection
/// biases and NeoX rotation, Qwen3's per-head query and key norms with heads wider than
/// `embedding / heads`, and llama files that carry biases. The reference was checked against
/// llama.cpp on such files (float logits within 4e-5).
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct QwenReferenceTests {
    static let prompt = (0..<24).map { Int32(($0 * 37 + 11) % 64) }

    static func worstDifference(_ file: RandomModelFile, named name: String) throws -> Float {
        let (ours, expected) = try RandomModelFile.logits(path: try file.write(named: name), prompt: Self.prompt)
        return zip(ours, expected).map { abs($0 - $1) }.max()!
    }

    /// With `output.bias`, which qwen2's graph adds.
    @Test func qwen2MatchesTheReference() throws {
        let file = RandomModelFile(family: .qwen2, biases: true, outputBias: true)
        let params = try ModelHyperparameters(gguf: GGUFFile(path: try file.write(named: "qwen2")))
        #expect(params.family == .qwen2 && params.family.rotatesHalves && !params.family.normalizesQueryKey)
        let worst = try Self.worstDifference(file, named: "qwen2")
        print("random qwen2: max |Δ logit| \(worst)")
        #expect(worst < 1e-3)
    }

    @Test func qwen3MatchesTheReference() throws {
        let file = RandomModelFile(family: .qwen3, headDimension: 32)
        let params = try ModelHyperparameters(gguf: GGUFFile(path: try file.write(named: "qwen3")))
        #expect(params.queryWidth == 128 && params.embeddingLength == 64 && params.family.normalizesQueryKey)
        let worst = try Self.worstDifference(file, named: "qwen3")
        print("random qwen3: max |Δ logit| \(worst)")
        #expect(worst < 1e-3)
    }

    /// With `attn_output.bias`, which llama's graph adds.
    @Test func llamaWithBiasesMatchesTheReference() throws {
        let worst = try Self.worstDifference(
            RandomModelFile(family: .llama, biases: true, attentionOutputBias: true), named: "llama-biases")
        print("random llama with biases: max |Δ logit| \(worst)")
        #expect(worst < 1e-3)
    }

    /// The biases and the rotation each move the logits far beyond the tolerance above, so the
    /// comparisons can fail.
    @Test func biasesAndRotationMatter() throws {
        func reference(_ file: RandomModelFile, _ name: String) throws -> [Float] {
            try #require(
                ReferenceModel.run(
                    [.init(tokens: Self.prompt, mode: "logits")], activations: "float", model: try file.write(named: name)
                ).first?.logits)
        }
        var unbiased = RandomModelFile(family: .qwen2, biases: true)
        unbiased.omitted = ["blk.0.attn_q.bias", "blk.0.attn_k.bias", "blk.1.attn_v.bias"]
        let biased = try reference(RandomModelFile(family: .qwen2, biases: true), "qwen2-biased")
        let withoutSome = try reference(unbiased, "qwen2-some-biases")
        #expect(zip(biased, withoutSome).map { abs($0 - $1) }.max()! > 1e-2)
        // The same weights as a llama file: only the rotation's pairing differs.
        let adjacentPairs = try reference(RandomModelFile(family: .llama, tiedOutput: true, biases: true), "llama-as-qwen2")
        #expect(zip(biased, adjacentPairs).map { abs($0 - $1) }.max()! > 1e-2)
    }

    /// A bias the family's graph does not add is refused rather than left out.
    @Test func biasesTheGraphDoesNotAddAreRefused() throws {
        for (file, name, tensor) in [
            (RandomModelFile(family: .qwen2, attentionOutputBias: true), "qwen2-attn-output-bias", "attn_output.bias"),
            (RandomModelFile(family: .llama, outputBias: true), "llama-output-bias", "output.bias"),
        ] {
            let error = #expect(throws: EngineError.self) {
                try TransformerModel(file: GGUFFile(path: file.write(named: name)))
            }
            #expect(error?.code == .unsupportedArchitecture && error?.message.contains(tensor) == true, "\(name)")
        }
    }

    @Test func aMissingQueryNormIsAClearError() throws {
        var file = RandomModelFile(family: .qwen3, headDimension: 32)
        file.omitted = ["blk.1.attn_k_norm.weight"]
        let error = #expect(throws: EngineError.self) {
            try TransformerModel(file: GGUFFile(path: file.write(named: "qwen3-no-norm")))
        }
        #expect(error?.message.contains("blk.1.attn_k_norm.weight") == true)
    }
}

/// SmolLM3 files with random weights against the float reference (itself checked against
/// llama.cpp within 3e-6 on such a file): llama's blocks, every fourth without rotation.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct SmolLM3ReferenceTests {
    @Test func smollm3MatchesTheReferenceAndItsUnrotatedBlocksMatter() throws {
        let file = RandomModelFile(family: .smollm3, blocks: 4)
        let (ours, expected) = try RandomModelFile.logits(path: try file.write(named: "smollm3"), prompt: QwenReferenceTests.prompt)
        let worst = zip(ours, expected).map { abs($0 - $1) }.max()!
        print("random smollm3: max |Δ logit| \(worst)")
        #expect(worst < 1e-3)
        // The same weights as a llama file, whose fourth block rotates too.
        let llama = try RandomModelFile.logits(
            path: try RandomModelFile(family: .llama, blocks: 4).write(named: "smollm3-as-llama"),
            prompt: QwenReferenceTests.prompt)
        #expect(zip(expected, llama.reference).map { abs($0 - $1) }.max()! > 1e-2)
    }
}

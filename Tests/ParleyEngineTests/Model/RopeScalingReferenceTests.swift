import Foundation
import Testing

@testable import ParleyEngine

/// Llama 3.1's `rope_freqs` and linear rope scaling, on a small random llama model written for the
/// test (no real model with them is at hand): the engine at `.float32` precision against the NumPy
/// reference in float mode, which applies both as ggml's rope cache does.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct RopeScalingReferenceTests {
    static let factors: [Float] = (0..<8).map { 1 + Float($0 * $0) / 4 }  // 1 … 13.25, as 3.1 grows them
    static let prompt = (0..<300).map { Int32(($0 * 37 + 11) % 64) }  // far enough for slow pairs to turn

    static func file(factors: [Float]?, linearScale: Float?) -> RandomModelFile {
        var file = RandomModelFile()
        if let factors { file.extraTensors = [("rope_freqs.weight", factors)] }
        if let linearScale {
            file.metadata = [("llama.rope.scaling.type", .string("linear")), ("llama.rope.scaling.factor", .float32(linearScale))]
        }
        return file
    }

    @Test func frequencyFactorsAndLinearScalingMatchTheReference() throws {
        for (factors, scale) in [(nil, nil), (Self.factors, nil), (nil, Float(4)), (Self.factors, Float(4))] {
            let path = try Self.file(factors: factors, linearScale: scale).write(named: "rope-scaling")
            let (ours, expected) = try RandomModelFile.logits(path: path, prompt: Self.prompt)
            let worst = zip(ours, expected).map { abs($0 - $1) }.max()!
            print("rope factors \(factors != nil), linear scale \(scale ?? 1): max |Δ logit| \(worst) of a spread of \(expected.max()! - expected.min()!)")
            #expect(worst < 1e-3, "factors \(factors != nil), scale \(scale ?? 1)")
        }
    }

    /// The test is able to fail: the factors, and the scaling, each move the logits far beyond its tolerance.
    @Test func theFactorsAndTheScalingMatter() throws {
        let variants = [(nil, nil), (Self.factors, nil), (nil, Float(4))].map { Self.file(factors: $0.0, linearScale: $0.1) }
        let results = try variants.map { file in
            try #require(
                ReferenceModel.run(
                    [.init(tokens: Self.prompt, mode: "logits")], activations: "float", model: try file.write(named: "rope")
                ).first?.logits)
        }
        for other in results.dropFirst() {
            #expect(zip(results[0], other).map { abs($0 - $1) }.max()! > 1e-2)
        }
    }

    /// A scaling this engine does not apply is refused, not ignored.
    @Test func yarnScalingIsRefused() throws {
        var file = RandomModelFile()
        file.metadata = [("llama.rope.scaling.type", .string("yarn")), ("llama.rope.scaling.factor", .float32(4))]
        let path = try file.write(named: "yarn")
        let error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: path)) }
        #expect(error?.code == .unsupportedArchitecture && error?.message.contains("yarn") == true)
    }
}

import Foundation

@testable import ParleyEngine

/// A small transformer file with random F32 weights, written for tests that compare the forward
/// pass with the NumPy reference where no real model has the feature under test.
struct RandomModelFile {
    var family: ModelFamily = .llama
    var dim = 64, heads = 4, kvHeads = 2, ff = 96, vocab = 64, blocks = 2
    /// Elements per head; nil: `dim / heads` (written as `key_length`/`value_length` when given).
    var headDimension: Int?
    var seed: UInt64 = 2026
    /// Whether the output matrix is the token embedding (no `output.weight`); default: all but llama.
    var tiedOutput: Bool?
    /// Whether the query, key and value projections have biases (as Qwen2's do).
    var biases = false
    /// Whether the attention output projection has a bias (`attn_output.bias`, llama's).
    var attentionOutputBias = false
    /// Whether the output matrix has a bias (`output.bias`, Qwen2's).
    var outputBias = false
    /// The type of the blocks' matrices: F32 random values, or random blocks of a quantized type
    /// (``SyntheticBlocks``; the widths must then be whole blocks).
    var matrixType: GGMLType = .f32
    /// More metadata (scaling, windows, …).
    var metadata: [(String, GGUFValue)] = []
    /// More F32 tensors: name and values.
    var extraTensors: [(String, [Float])] = []
    /// Tensors left out of the file (to test the errors of an incomplete one).
    var omitted: Set<String> = []

    func write(named name: String) throws -> String {
        var generator = SplitMix64(seed: seed)
        func values(_ count: Int, scale: Float, around center: Float = 0) -> [UInt8] {
            Self.bytes((0..<count).map { _ in center + Float.random(in: -scale...scale, using: &generator) })
        }
        let arch = family.rawValue
        let headDim = headDimension ?? dim / heads
        let queryWidth = heads * headDim, kvWidth = kvHeads * headDim
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string(arch)),
            ("\(arch).embedding_length", .uint32(UInt32(dim))), ("\(arch).block_count", .uint32(UInt32(blocks))),
            ("\(arch).feed_forward_length", .uint32(UInt32(ff))),
            ("\(arch).attention.head_count", .uint32(UInt32(heads))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(kvHeads))), ("\(arch).context_length", .uint32(4096)),
            ("\(arch).rope.freq_base", .float32(500_000)), ("\(arch).vocab_size", .uint32(UInt32(vocab))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-5)),
        ]
        if let headDimension {
            writer.metadata += [
                ("\(arch).attention.key_length", .uint32(UInt32(headDimension))),
                ("\(arch).attention.value_length", .uint32(UInt32(headDimension))),
            ]
        }
        writer.metadata += metadata
        func tensor(_ name: String, _ shape: [Int], _ data: [UInt8], type: GGMLType = .f32) {
            if omitted.contains(name) { return }
            writer.tensors.append(.init(name: name, type: type.rawValue, dimensions: shape.map(UInt64.init), data: data))
        }
        var synthetic = SyntheticBlocks(seed: seed)
        /// The bytes of a matrix of `rows` rows of `columns`: random F32 values of `scale`, or random blocks.
        func matrixBytes(columns: Int, rows: Int, scale: Float) -> [UInt8] {
            matrixType == .f32
                ? values(columns * rows, scale: scale) : synthetic.tensor(matrixType, rows: rows, columns: columns)
        }
        func matrix(_ name: String, columns: Int, rows: Int, scale: Float) {
            tensor(name, [columns, rows], matrixBytes(columns: columns, rows: rows, scale: scale), type: matrixType)
        }
        /// Matrices whose rows are stored one after the other in tensor `name` (Phi-3's fused ones).
        func fusedMatrix(_ name: String, columns: Int, rows: [Int], scale: Float) {
            let bytes = rows.flatMap { matrixBytes(columns: columns, rows: $0, scale: scale) }
            tensor(name, [columns, rows.reduce(0, +)], bytes, type: matrixType)
        }
        let fused = family == .phi3
        tensor("token_embd.weight", [dim, vocab], values(dim * vocab, scale: 1))
        tensor("output_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
        if !(tiedOutput ?? (family != .llama && family != .smollm3)) { tensor("output.weight", [dim, vocab], values(dim * vocab, scale: 0.3)) }
        if outputBias { tensor("output.bias", [vocab], values(vocab, scale: 2)) }
        for (name, list) in extraTensors { tensor(name, [list.count], Self.bytes(list)) }
        for b in 0..<blocks {
            let p = "blk.\(b)."
            tensor(p + "attn_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
            if fused {
                fusedMatrix(p + "attn_qkv.weight", columns: dim, rows: [queryWidth, kvWidth, kvWidth], scale: 0.3)
            } else {
                matrix(p + "attn_q.weight", columns: dim, rows: queryWidth, scale: 0.3)
                matrix(p + "attn_k.weight", columns: dim, rows: kvWidth, scale: 0.3)
                matrix(p + "attn_v.weight", columns: dim, rows: kvWidth, scale: 0.3)
            }
            matrix(p + "attn_output.weight", columns: queryWidth, rows: dim, scale: 0.1)
            tensor(p + "ffn_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
            if fused {
                fusedMatrix(p + "ffn_up.weight", columns: dim, rows: [ff, ff], scale: 0.2)
            } else {
                matrix(p + "ffn_gate.weight", columns: dim, rows: ff, scale: 0.2)
                matrix(p + "ffn_up.weight", columns: dim, rows: ff, scale: 0.2)
            }
            matrix(p + "ffn_down.weight", columns: ff, rows: dim, scale: 0.1)
            if biases && fused {
                tensor(p + "attn_qkv.bias", [queryWidth + 2 * kvWidth], values(queryWidth + 2 * kvWidth, scale: 1))
            } else if biases {
                tensor(p + "attn_q.bias", [queryWidth], values(queryWidth, scale: 1))
                tensor(p + "attn_k.bias", [kvWidth], values(kvWidth, scale: 1))
                tensor(p + "attn_v.bias", [kvWidth], values(kvWidth, scale: 1))
            }
            if attentionOutputBias { tensor(p + "attn_output.bias", [dim], values(dim, scale: 0.5)) }
            if family == .gemma3 || family == .qwen3 {
                tensor(p + "attn_q_norm.weight", [headDim], values(headDim, scale: 0.1, around: 1))
                tensor(p + "attn_k_norm.weight", [headDim], values(headDim, scale: 0.1, around: 1))
            }
            if family == .gemma2 || family == .gemma3 {
                tensor(p + "post_attention_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
                tensor(p + "post_ffw_norm.weight", [dim], values(dim, scale: 0.1, around: 1))
            }
        }
        return try writer.write(named: name)
    }

    static func bytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } }
    }

    /// The engine's float logits after `prompt` (one batch) and the float reference's, on the file at `path`.
    /// `context` is the context both run with (it picks LongRoPE's factors; default: the model's).
    static func logits(path: String, prompt: [Int32], context: Int? = nil) throws -> (ours: [Float], reference: [Float]) {
        let model = try TransformerModel(file: try GGUFFile(path: path), precision: .float32, contextLength: context)
        let ours = ReferenceModel.engineLogits(model, prompt, chunk: prompt.count)
        let reference = try ReferenceModel.run(
            [.init(tokens: prompt, mode: "logits")], activations: "float", model: path,
            context: context ?? model.hyperparameters.contextLength)
        guard let expected = reference.first?.logits else { throw ReferenceModel.ProcessFailed(description: "no logits") }
        return (ours, expected)
    }
}

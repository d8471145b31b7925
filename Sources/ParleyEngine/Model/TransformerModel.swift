/// The weights of a decoder-only transformer (a ``ModelFamily``), repacked for the kernels, and its
/// hyperparameters.
///
/// Loading reads every tensor once from the GGUF mapping; the file can be closed afterwards.
/// `@unchecked Sendable`: all stored properties are immutable after `init` (the matrices are
/// read-only after repacking).
final class TransformerModel: @unchecked Sendable {
    /// One transformer block.
    struct Layer {
        var attentionNorm: [Float]
        var query: WeightMatrix
        var key: WeightMatrix
        var value: WeightMatrix
        var attentionOutput: WeightMatrix
        var feedForwardNorm: [Float]
        var gate: WeightMatrix
        var up: WeightMatrix
        var down: WeightMatrix
        /// The biases of the projections, where the file has them and the family reads them (Qwen2:
        /// query, key and value).
        var biases = ProjectionBiases()
        /// Gemma 3 and Qwen3: the per-head norms of queries and keys (`headDimension` weights each).
        var queryNorm: [Float]?
        var keyNorm: [Float]?
        /// Gemma 3: the norms of the attention and feed-forward outputs.
        var attentionOutputNorm: [Float]?
        var feedForwardOutputNorm: [Float]?
    }

    /// The biases added after the attention's projections; nil where a file has none.
    struct ProjectionBiases {
        var query: [Float]?
        var key: [Float]?
        var value: [Float]?
        var output: [Float]?
    }

    let hyperparameters: ModelHyperparameters
    /// How the forward pass computes (and how the matrices were repacked).
    let precision: ActivationPrecision
    /// `token_embd.weight`: one row per token.
    let tokenEmbedding: WeightMatrix
    let layers: [Layer]
    let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the file ties them.
    let output: WeightMatrix
    /// `output.bias`, added to the logits (Qwen2 files may have one).
    let outputBias: [Float]?
    /// The model's name (`general.name`) or the file name.
    let name: String
    /// Each rotated pair's angle is divided by its factor (`ropeDimensionCount / 2` values): Llama
    /// 3.1's `rope_freqs.weight`, or LongRoPE's `rope_factors_long`/`_short` as the context picks
    /// them (``ropeFactorName(_:_:context:)``); nil when the file has none.
    let ropeFrequencyFactors: [Float]?

    /// Width of the key/value projections.
    var keyValueWidth: Int { hyperparameters.keyValueWidth }

    /// An empty KV cache for `capacity` positions of this model (f16, or float at `.float32` precision).
    func makeCache(capacity: Int) -> KVCache {
        KVCache(
            layerCount: layers.count, width: keyValueWidth, headDimension: hyperparameters.headDimension,
            capacity: capacity, element: cacheElement)
    }

    /// The KV-cache element type of this model's precision.
    var cacheElement: KVCache.Element { precision == .float32 ? .float : .half }

    /// Bytes of weights one forward step reads (all matrices once; the embedding row is negligible
    /// unless it is the output matrix, which is counted once).
    var weightBytesPerStep: Int {
        var total = output.byteCount
        for layer in layers {
            for m in [layer.query, layer.key, layer.value, layer.attentionOutput, layer.gate, layer.up, layer.down] {
                total += m.byteCount
            }
        }
        return total
    }

    /// The context the model runs with: the one asked for, at most the model's (at least 2).
    let contextLength: Int

    /// Loads and repacks the model in `file`; with `.float32` precision every matrix is dequantized.
    /// `contextLength` (default: the model's) is the context it will run with, which picks
    /// LongRoPE's factors.
    /// - Throws: `EngineError` for an unsupported architecture, a missing or misshapen tensor.
    init(file: GGUFFile, precision: ActivationPrecision = .int8, contextLength: Int? = nil) throws {
        let hp = try ModelHyperparameters(gguf: file)
        hyperparameters = hp
        self.precision = precision
        name = file.string("general.name") ?? String(file.path.split(separator: "/").last ?? "model")
        let dim = hp.embeddingLength
        // The head counts and rotation were checked with the hyperparameters; the kernels read heads
        // eight elements at a time.
        guard hp.headDimension % 8 == 0 else {
            throw EngineError(
                .corruptFile, "heads of \(hp.headDimension) elements are not a shape this engine runs (multiples of 8)")
        }

        let reader = TensorReader(file: file, dequantized: precision == .float32)
        tokenEmbedding = try reader.matrix("token_embd.weight", rows: hp.vocabularySize, columns: dim)
        output =
            reader.has("output.weight")
            ? try reader.matrix("output.weight", rows: hp.vocabularySize, columns: dim) : tokenEmbedding
        outputNorm = try reader.vector("output_norm.weight", count: dim)
        outputBias = try reader.optionalVector("output.bias", count: hp.vocabularySize, when: hp.family.readsOutputBias)
        let context = max(2, min(contextLength ?? hp.contextLength, hp.contextLength))
        self.contextLength = context
        ropeFrequencyFactors = try Self.ropeFactorName(reader, hp, context: context).map {
            try reader.vector($0, count: hp.ropeDimensionCount / 2)
        }
        layers = try (0..<hp.blockCount).map { try Self.layer($0, reader, hp) }
        // A bias the family's graph does not add (a feed-forward bias, Qwen2's `attn_output.bias`,
        // a fused `attn_qkv.bias` beside separate projections, …) would be silently left out: such
        // a file is refused, as llama.cpp refuses tensors it does not load.
        if let name = reader.unread(endingIn: ".bias").first {
            throw EngineError(
                .unsupportedArchitecture,
                "'\(file.path)' has tensor \(name), which this engine's \(hp.architecture) forward pass does not use")
        }
    }

    /// The tensor of rope factors to use: `rope_freqs` if the file has it, else LongRoPE's long
    /// factors when the context (rounded up to 256, as llama.cpp pads it) exceeds the original
    /// context and the short ones otherwise (as llama.cpp picks them); nil when there is none.
    private static func ropeFactorName(
        _ reader: TensorReader, _ hp: ModelHyperparameters, context: Int
    ) -> String? {
        if reader.has("rope_freqs.weight") { return "rope_freqs.weight" }
        let padded = (context + 255) / 256 * 256
        let name = padded > hp.originalContextLength ? "rope_factors_long.weight" : "rope_factors_short.weight"
        return reader.has(name) ? name : nil
    }

    /// Block `i`'s weights. The query, key and value projections may be one fused `attn_qkv`
    /// matrix (rows of the queries, then keys, then values), and Phi-3's `ffn_up` holds the gate's
    /// rows and then the up projection's.
    private static func layer(_ i: Int, _ reader: TensorReader, _ hp: ModelHyperparameters) throws -> Layer {
        let p = "blk.\(i).", family = hp.family
        let dim = hp.embeddingLength, queryWidth = hp.queryWidth, kvWidth = hp.keyValueWidth, ff = hp.feedForwardLength
        let fused = !reader.has(p + "attn_q.weight") && reader.has(p + "attn_qkv.weight")
        let qkv =
            !fused
            ? [
                try reader.matrix(p + "attn_q.weight", rows: queryWidth, columns: dim),
                try reader.matrix(p + "attn_k.weight", rows: kvWidth, columns: dim),
                try reader.matrix(p + "attn_v.weight", rows: kvWidth, columns: dim),
            ]
            : try reader.matrices(p + "attn_qkv.weight", rows: [queryWidth, kvWidth, kvWidth], columns: dim)
        let gateUp =
            family.fusesGateAndUp
            ? try reader.matrices(p + "ffn_up.weight", rows: [ff, ff], columns: dim)
            : [
                try reader.matrix(p + "ffn_gate.weight", rows: ff, columns: dim),
                try reader.matrix(p + "ffn_up.weight", rows: ff, columns: dim),
            ]
        return Layer(
            attentionNorm: try reader.vector(p + "attn_norm.weight", count: dim),
            query: qkv[0], key: qkv[1], value: qkv[2],
            attentionOutput: try reader.matrix(p + "attn_output.weight", rows: dim, columns: queryWidth),
            feedForwardNorm: try reader.vector(p + "ffn_norm.weight", count: dim),
            gate: gateUp[0], up: gateUp[1],
            down: try reader.matrix(p + "ffn_down.weight", rows: dim, columns: ff),
            // llama.cpp reads the q/k/v biases of every family where the file has them.
            biases: try projectionBiases(p, reader, hp, fused: fused),
            queryNorm: family.normalizesQueryKey ? try reader.vector(p + "attn_q_norm.weight", count: hp.headDimension) : nil,
            keyNorm: family.normalizesQueryKey ? try reader.vector(p + "attn_k_norm.weight", count: hp.headDimension) : nil,
            attentionOutputNorm: family.normalizesSublayerOutputs
                ? try reader.vector(p + "post_attention_norm.weight", count: dim) : nil,
            feedForwardOutputNorm: family.normalizesSublayerOutputs
                ? try reader.vector(p + "post_ffw_norm.weight", count: dim) : nil)
    }

    /// Block `p`'s projection biases where the file has them: a fused `attn_qkv.bias` split like its
    /// matrix, or the separate ones (llama.cpp reads the q/k/v biases of every family).
    private static func projectionBiases(
        _ p: String, _ reader: TensorReader, _ hp: ModelHyperparameters, fused: Bool
    ) throws -> ProjectionBiases {
        let queryWidth = hp.queryWidth, kvWidth = hp.keyValueWidth
        let output = try reader.optionalVector(
            p + "attn_output.bias", count: hp.embeddingLength, when: hp.family.readsAttentionOutputBias)
        if fused, let all = try reader.optionalVector(p + "attn_qkv.bias", count: queryWidth + 2 * kvWidth) {
            return ProjectionBiases(
                query: Array(all[..<queryWidth]), key: Array(all[queryWidth..<queryWidth + kvWidth]),
                value: Array(all[(queryWidth + kvWidth)...]), output: output)
        }
        return ProjectionBiases(
            query: try reader.optionalVector(p + "attn_q.bias", count: queryWidth),
            key: try reader.optionalVector(p + "attn_k.bias", count: kvWidth),
            value: try reader.optionalVector(p + "attn_v.bias", count: kvWidth), output: output)
    }
}

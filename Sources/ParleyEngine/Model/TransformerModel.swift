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
    /// `rope_freqs.weight` (Llama 3.1 and later): each rotated pair's angle is divided by its factor
    /// (`ropeDimensionCount / 2` values); nil when the file has none.
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

    /// Loads and repacks the model in `file`; with `.float32` precision every matrix is dequantized.
    /// - Throws: `EngineError` for an unsupported architecture, a missing or misshapen tensor.
    init(file: GGUFFile, precision: ActivationPrecision = .int8) throws {
        let hp = try ModelHyperparameters(gguf: file)
        hyperparameters = hp
        self.precision = precision
        name = file.string("general.name") ?? String(file.path.split(separator: "/").last ?? "model")
        let dim = hp.embeddingLength, queryWidth = hp.queryWidth, kvWidth = hp.keyValueWidth
        // The head counts and rotation were checked with the hyperparameters; the kernels read heads
        // eight elements at a time.
        guard hp.headDimension % 8 == 0 else {
            throw EngineError(
                .corruptFile, "heads of \(hp.headDimension) elements are not a shape this engine runs (multiples of 8)")
        }

        func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
            let info = try file.tensorInfo(name)
            guard info.rowLength == columns, info.rowCount == rows else {
                throw EngineError(
                    .corruptFile, "tensor \(name) has shape \(info.dimensions), expected [\(columns), \(rows)]")
            }
            return try WeightMatrix(
                repacking: try file.tensorData(name), type: info.type, rows: rows, columns: columns,
                dequantized: precision == .float32)
        }
        func vector(_ name: String, count: Int) throws -> [Float] {
            let info = try file.tensorInfo(name)
            guard info.elementCount == count else {
                throw EngineError(.corruptFile, "tensor \(name) has \(info.elementCount) elements, expected \(count)")
            }
            return try GGMLDequantizer.dequantize(try file.tensorData(name), type: info.type, count: count)
        }

        tokenEmbedding = try matrix("token_embd.weight", rows: hp.vocabularySize, columns: dim)
        output =
            file.tensors["output.weight"] == nil
            ? tokenEmbedding : try matrix("output.weight", rows: hp.vocabularySize, columns: dim)
        outputNorm = try vector("output_norm.weight", count: dim)
        outputBias =
            hp.family.readsOutputBias && file.tensors["output.bias"] != nil
            ? try vector("output.bias", count: hp.vocabularySize) : nil
        ropeFrequencyFactors =
            file.tensors["rope_freqs.weight"] == nil
            ? nil : try vector("rope_freqs.weight", count: hp.ropeDimensionCount / 2)
        let family = hp.family
        /// A bias vector where the file has it (llama.cpp requires none, not even Qwen2's).
        func bias(_ name: String, count: Int) throws -> [Float]? {
            file.tensors[name] == nil ? nil : try vector(name, count: count)
        }
        var layers: [Layer] = []
        for i in 0..<hp.blockCount {
            let p = "blk.\(i)."
            let biases = ProjectionBiases(
                query: try bias(p + "attn_q.bias", count: queryWidth),
                key: try bias(p + "attn_k.bias", count: kvWidth),
                value: try bias(p + "attn_v.bias", count: kvWidth),
                output: family.readsAttentionOutputBias ? try bias(p + "attn_output.bias", count: dim) : nil)
            layers.append(
                Layer(
                    attentionNorm: try vector(p + "attn_norm.weight", count: dim),
                    query: try matrix(p + "attn_q.weight", rows: queryWidth, columns: dim),
                    key: try matrix(p + "attn_k.weight", rows: kvWidth, columns: dim),
                    value: try matrix(p + "attn_v.weight", rows: kvWidth, columns: dim),
                    attentionOutput: try matrix(p + "attn_output.weight", rows: dim, columns: queryWidth),
                    feedForwardNorm: try vector(p + "ffn_norm.weight", count: dim),
                    gate: try matrix(p + "ffn_gate.weight", rows: hp.feedForwardLength, columns: dim),
                    up: try matrix(p + "ffn_up.weight", rows: hp.feedForwardLength, columns: dim),
                    down: try matrix(p + "ffn_down.weight", rows: dim, columns: hp.feedForwardLength),
                    biases: biases,
                    queryNorm: family.normalizesQueryKey
                        ? try vector(p + "attn_q_norm.weight", count: hp.headDimension) : nil,
                    keyNorm: family.normalizesQueryKey
                        ? try vector(p + "attn_k_norm.weight", count: hp.headDimension) : nil,
                    attentionOutputNorm: family.normalizesSublayerOutputs
                        ? try vector(p + "post_attention_norm.weight", count: dim) : nil,
                    feedForwardOutputNorm: family.normalizesSublayerOutputs
                        ? try vector(p + "post_ffw_norm.weight", count: dim) : nil))
        }
        self.layers = layers
    }
}

/// The weights of a llama-architecture model, repacked for the kernels, and its hyperparameters.
///
/// Loading reads every tensor once from the GGUF mapping; the file can be closed afterwards.
/// `@unchecked Sendable`: all stored properties are immutable after `init` (the matrices are
/// read-only after repacking).
final class LlamaModel: @unchecked Sendable {
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
    }

    let hyperparameters: LlamaHyperparameters
    /// How the forward pass computes (and how the matrices were repacked).
    let precision: ActivationPrecision
    /// `token_embd.weight`: one row per token.
    let tokenEmbedding: WeightMatrix
    let layers: [Layer]
    let outputNorm: [Float]
    /// `output.weight`, or the token embedding when the file ties them.
    let output: WeightMatrix
    /// The model's name (`general.name`) or the file name.
    let name: String

    /// Width of the key/value projections.
    var keyValueWidth: Int { hyperparameters.headCountKV * hyperparameters.headDimension }

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
        let hp = try LlamaHyperparameters(gguf: file)
        hyperparameters = hp
        self.precision = precision
        name = file.string("general.name") ?? String(file.path.split(separator: "/").last ?? "model")
        let dim = hp.embeddingLength
        let kvWidth = hp.headCountKV * hp.headDimension
        guard hp.headCount > 0, hp.headCountKV > 0, hp.headCount % hp.headCountKV == 0,
            dim % hp.headCount == 0, hp.headDimension % 8 == 0, hp.ropeDimensionCount <= hp.headDimension
        else {
            throw EngineError(
                .corruptFile,
                "head counts \(hp.headCount)/\(hp.headCountKV) do not divide the width \(dim)")
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
        var layers: [Layer] = []
        for i in 0..<hp.blockCount {
            let p = "blk.\(i)."
            layers.append(
                Layer(
                    attentionNorm: try vector(p + "attn_norm.weight", count: dim),
                    query: try matrix(p + "attn_q.weight", rows: dim, columns: dim),
                    key: try matrix(p + "attn_k.weight", rows: kvWidth, columns: dim),
                    value: try matrix(p + "attn_v.weight", rows: kvWidth, columns: dim),
                    attentionOutput: try matrix(p + "attn_output.weight", rows: dim, columns: dim),
                    feedForwardNorm: try vector(p + "ffn_norm.weight", count: dim),
                    gate: try matrix(p + "ffn_gate.weight", rows: hp.feedForwardLength, columns: dim),
                    up: try matrix(p + "ffn_up.weight", rows: hp.feedForwardLength, columns: dim),
                    down: try matrix(p + "ffn_down.weight", rows: dim, columns: hp.feedForwardLength)))
        }
        self.layers = layers
    }
}

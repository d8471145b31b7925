/// The shape of a llama-architecture model, read from `<arch>.*` metadata keys of a GGUF file.
public struct LlamaHyperparameters: Sendable, Equatable {
    /// Architectures whose tensors and metadata follow the llama layout.
    public static let supportedArchitectures: Set<String> = ["llama"]

    /// The value of `general.architecture`.
    public var architecture: String
    /// Number of tokens (`<arch>.vocab_size`, else the length of `tokenizer.ggml.tokens`).
    public var vocabularySize: Int
    /// Training context length in tokens (`<arch>.context_length`).
    public var contextLength: Int
    /// Width of the residual stream (`<arch>.embedding_length`).
    public var embeddingLength: Int
    /// Number of transformer blocks (`<arch>.block_count`).
    public var blockCount: Int
    /// Hidden width of the feed-forward network (`<arch>.feed_forward_length`).
    public var feedForwardLength: Int
    /// Number of query heads (`<arch>.attention.head_count`).
    public var headCount: Int
    /// Number of key/value heads (`<arch>.attention.head_count_kv`, default: ``headCount``).
    public var headCountKV: Int
    /// Rotary base frequency (`<arch>.rope.freq_base`, default 10000).
    public var ropeFreqBase: Float
    /// Epsilon of RMSNorm (`<arch>.attention.layer_norm_rms_epsilon`, default 1e-5).
    public var rmsNormEpsilon: Float
    /// Number of dimensions per head that are rotated (`<arch>.rope.dimension_count`, default: ``headDimension``).
    public var ropeDimensionCount: Int

    /// Width of one attention head (`embeddingLength / headCount`).
    public var headDimension: Int { embeddingLength / headCount }

    /// Reads the hyperparameters of `gguf`.
    /// - Throws: `.unsupportedArchitecture` if `general.architecture` is missing or not llama-like;
    ///   `.missingMetadata` if a required key is missing; `.corruptFile` if the values are inconsistent.
    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.architecture else {
            throw EngineError(.unsupportedArchitecture, "'\(gguf.path)' has no general.architecture")
        }
        guard Self.supportedArchitectures.contains(arch) else {
            throw EngineError(
                .unsupportedArchitecture,
                "'\(gguf.path)' is a '\(arch)' model; supported: \(Self.supportedArchitectures.sorted().joined(separator: ", "))"
            )
        }
        architecture = arch
        embeddingLength = try gguf.requireInt("\(arch).embedding_length")
        blockCount = try gguf.requireInt("\(arch).block_count")
        feedForwardLength = try gguf.requireInt("\(arch).feed_forward_length")
        headCount = try gguf.requireInt("\(arch).attention.head_count")
        contextLength = try gguf.requireInt("\(arch).context_length")
        headCountKV = gguf.int("\(arch).attention.head_count_kv") ?? headCount
        ropeFreqBase = gguf.float("\(arch).rope.freq_base") ?? 10_000
        rmsNormEpsilon = gguf.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5
        if let size = gguf.int("\(arch).vocab_size") {
            vocabularySize = size
        } else if case .array(let tokens)? = gguf.metadata["tokenizer.ggml.tokens"] {
            vocabularySize = tokens.count
        } else {
            throw EngineError(
                .missingMetadata, "'\(gguf.path)' has neither \(arch).vocab_size nor tokenizer.ggml.tokens")
        }
        guard embeddingLength > 0, blockCount > 0, feedForwardLength > 0, headCount > 0, headCountKV > 0,
            contextLength > 0, vocabularySize > 0,
            embeddingLength % headCount == 0, headCount % headCountKV == 0
        else {
            throw EngineError(
                .corruptFile,
                "'\(gguf.path)' has inconsistent hyperparameters: width \(embeddingLength), "
                    + "\(headCount) heads, \(headCountKV) key/value heads, \(blockCount) blocks"
            )
        }
        ropeDimensionCount = gguf.int("\(arch).rope.dimension_count") ?? embeddingLength / headCount
    }
}

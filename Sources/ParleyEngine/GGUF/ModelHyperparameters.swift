/// The shape of a decoder-only transformer model, read from `<arch>.*` metadata keys of a GGUF
/// file, and the ``ModelFamily`` whose arithmetic it follows.
public struct ModelHyperparameters: Sendable, Equatable {
    /// Architectures (`general.architecture`) this engine runs.
    public static let supportedArchitectures: Set<String> = Set(ModelFamily.allCases.map(\.rawValue))

    /// The value of `general.architecture`.
    public var architecture: String
    /// How the forward pass differs between the supported architectures.
    public var family: ModelFamily
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
    /// Width of one attention head (`<arch>.attention.key_length`, default `embeddingLength / headCount`).
    public var headDimension: Int
    /// Rotary base frequency of the layers that see the whole context (`<arch>.rope.freq_base`, default 10000).
    public var ropeFreqBase: Float
    /// Positions are divided by this before rotation in the layers that see the whole context
    /// (`<arch>.rope.scaling.factor` when `<arch>.rope.scaling.type` is `linear`; default 1).
    public var ropeLinearScale: Float
    /// Cosines and sines of the rotation are multiplied by this (`<arch>.rope.scaling.attn_factor`,
    /// default 1; LongRoPE's files set it).
    public var ropeAttentionFactor: Float
    /// The context the model was first trained with, before its rope was stretched
    /// (`<arch>.rope.scaling.original_context_length`, default ``contextLength``): LongRoPE's long
    /// factors serve contexts beyond it, the short ones shorter contexts.
    public var originalContextLength: Int
    /// Epsilon of RMSNorm (`<arch>.attention.layer_norm_rms_epsilon`, default 1e-5).
    public var rmsNormEpsilon: Float
    /// Number of dimensions per head that are rotated (`<arch>.rope.dimension_count`, default: ``headDimension``).
    public var ropeDimensionCount: Int
    /// How many positions back the sliding-window layers see, the current one included
    /// (`<arch>.attention.sliding_window`); nil when every layer sees the whole context.
    public var slidingWindow: Int?
    /// Rotary base frequency of the sliding-window layers (`<arch>.rope.freq_base_swa`; default
    /// 10000, Gemma 2's the global base).
    public var slidingRopeFreqBase: Float

    /// Every how many blocks one sees the whole context, the others attending through the sliding
    /// window (`<arch>.attention.sliding_window_pattern`; default Gemma 3's 6, five sliding then one
    /// global, and Gemma 2's 2).
    public var slidingWindowPattern: Int
    /// The factor attention scores are scaled by: `1/√headDimension`, except Gemma 2's and 3's 27B
    /// `1/√(embeddingLength / headCount)` (as llama.cpp has it).
    public var attentionScale: Float
    /// Gemma 2: scaled attention scores `s` become `c · tanh(s / c)` (`attn_logit_softcapping`,
    /// default 50); nil for the other families.
    public var attentionSoftcap: Float?
    /// Gemma 2: logits `l` become `c · tanh(l / c)` (`final_logit_softcapping`, default 30); nil for
    /// the other families.
    public var finalLogitSoftcap: Float?

    /// Width of all query heads together (`headCount · headDimension`; most often the embedding width).
    public var queryWidth: Int { headCount * headDimension }
    /// Width of all key (or value) heads together (`headCountKV · headDimension`).
    public var keyValueWidth: Int { headCountKV * headDimension }

    /// Whether block `layer` attends through the sliding window.
    public func isSlidingWindowLayer(_ layer: Int) -> Bool {
        guard slidingWindow != nil, family.hasSlidingWindowLayers else { return false }
        return layer % slidingWindowPattern != slidingWindowPattern - 1
    }

    /// Reads the hyperparameters of `gguf`.
    /// - Throws: `.unsupportedArchitecture` if `general.architecture` is missing or not supported;
    ///   `.missingMetadata` if a required key is missing; `.corruptFile` if the values are inconsistent.
    public init(gguf: GGUFFile) throws {
        guard let arch = gguf.architecture else {
            throw EngineError(.unsupportedArchitecture, "'\(gguf.path)' has no general.architecture")
        }
        guard let family = ModelFamily(rawValue: arch) else {
            throw EngineError(
                .unsupportedArchitecture,
                "'\(gguf.path)' is a '\(arch)' model; supported: \(Self.supportedArchitectures.sorted().joined(separator: ", "))"
            )
        }
        architecture = arch
        self.family = family
        embeddingLength = try gguf.requireInt("\(arch).embedding_length")
        blockCount = try gguf.requireInt("\(arch).block_count")
        feedForwardLength = try gguf.requireInt("\(arch).feed_forward_length")
        headCount = try gguf.requireInt("\(arch).attention.head_count")
        contextLength = try gguf.requireInt("\(arch).context_length")
        headCountKV = gguf.int("\(arch).attention.head_count_kv") ?? headCount
        ropeFreqBase = gguf.float("\(arch).rope.freq_base") ?? 10_000
        rmsNormEpsilon = gguf.float("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5
        // As llama.cpp reads it: a factor (or the older `rope.scale_linear`) without a type is linear.
        let scaling = gguf.string("\(arch).rope.scaling.type") ?? "linear"
        let factor = gguf.float("\(arch).rope.scaling.factor") ?? gguf.float("\(arch).rope.scale_linear") ?? 0
        guard scaling == "none" || scaling == "linear" || factor == 0 || factor == 1 else {
            throw EngineError(
                .unsupportedArchitecture,
                "'\(gguf.path)' uses '\(scaling)' rope scaling (factor \(factor)); this engine applies linear scaling only")
        }
        ropeLinearScale = scaling == "linear" && factor > 0 ? factor : 1
        ropeAttentionFactor = gguf.float("\(arch).rope.scaling.attn_factor") ?? 1
        originalContextLength = gguf.int("\(arch).rope.scaling.original_context_length").flatMap { $0 > 0 ? $0 : nil }
            ?? contextLength
        guard ropeAttentionFactor.isFinite, ropeAttentionFactor > 0 else {
            throw EngineError(.corruptFile, "'\(gguf.path)' has a rope attention factor of \(ropeAttentionFactor)")
        }
        // Gemma 2 (llama.cpp's defaults): a window of 4096 in every other block, the global base.
        let gemma2 = family == .gemma2
        slidingWindow = (gguf.int("\(arch).attention.sliding_window") ?? (gemma2 ? 4096 : nil)).flatMap { $0 > 0 ? $0 : nil }
        slidingRopeFreqBase = gguf.float("\(arch).rope.freq_base_swa") ?? (gemma2 ? ropeFreqBase : 10_000)
        slidingWindowPattern = gguf.int("\(arch).attention.sliding_window_pattern") ?? (gemma2 ? 2 : 6)
        attentionSoftcap = gemma2 ? gguf.float("\(arch).attn_logit_softcapping") ?? 50 : nil
        finalLogitSoftcap = gemma2 ? gguf.float("\(arch).final_logit_softcapping") ?? 30 : nil
        for cap in [attentionSoftcap, finalLogitSoftcap] {
            guard cap.map({ $0.isFinite && $0 > 0 }) ?? true else {
                throw EngineError(.corruptFile, "'\(gguf.path)' has a soft cap of \(cap ?? 0)")
            }
        }
        guard slidingWindowPattern >= 1 else {
            throw EngineError(
                .corruptFile, "'\(gguf.path)' has a sliding-window pattern of \(slidingWindowPattern) blocks")
        }
        if let size = gguf.int("\(arch).vocab_size") {
            vocabularySize = size
        } else if case .array(let tokens)? = gguf.metadata["tokenizer.ggml.tokens"] {
            vocabularySize = tokens.count
        } else {
            throw EngineError(
                .missingMetadata, "'\(gguf.path)' has neither \(arch).vocab_size nor tokenizer.ggml.tokens")
        }
        let keyLength = gguf.int("\(arch).attention.key_length")
        let valueLength = gguf.int("\(arch).attention.value_length")
        guard embeddingLength > 0, blockCount > 0, feedForwardLength > 0, headCount > 0, headCountKV > 0,
            contextLength > 0, vocabularySize > 0, headCount % headCountKV == 0,
            keyLength != nil || embeddingLength % headCount == 0
        else {
            throw EngineError(
                .corruptFile,
                "'\(gguf.path)' has inconsistent hyperparameters: width \(embeddingLength), "
                    + "\(headCount) heads, \(headCountKV) key/value heads, \(blockCount) blocks"
            )
        }
        headDimension = keyLength ?? embeddingLength / headCount
        guard valueLength == nil || valueLength == headDimension else {
            throw EngineError(
                .corruptFile,
                "'\(gguf.path)' has keys of \(headDimension) and values of \(valueLength ?? 0) elements per head; "
                    + "this engine needs them equal")
        }
        ropeDimensionCount = gguf.int("\(arch).rope.dimension_count") ?? headDimension
        // Bounds that keep every width computed from them far from overflowing.
        let limit = 1 << 20
        guard (1...4096).contains(headDimension), (1...4096).contains(headCount), embeddingLength <= limit,
            feedForwardLength <= limit, (0...headDimension).contains(ropeDimensionCount), ropeDimensionCount % 2 == 0
        else {
            throw EngineError(
                .corruptFile,
                "'\(gguf.path)' has an impossible shape: width \(embeddingLength), \(headCount) heads of "
                    + "\(headDimension) (\(ropeDimensionCount) rotated), feed-forward \(feedForwardLength)")
        }
        attentionScale =
            (family == .gemma3 && blockCount == 62) || (family == .gemma2 && blockCount == 46)
            ? 1 / Float(embeddingLength / headCount).squareRoot() : 1 / Float(headDimension).squareRoot()
    }
}

/// The architectures the engine runs, and what their forward passes do differently.
///
/// - `llama` (Llama 2/3, SmolLM2, TinyLlama, Mistral): SwiGLU, rotation of adjacent pairs (the
///   converter permutes the query and key rows for it), pre-norms only.
/// - `smollm3` (SmolLM3): llama's blocks, with no rotation in every fourth block.
/// - `qwen2` (Qwen2, Qwen2.5, DeepSeek-R1's Qwen distills): llama's blocks with biases on the query,
///   key and value projections, and NeoX rotation (element i with i + d/2).
/// - `qwen3`: qwen2 without the biases, with RMSNorm of each query and key head before rotation
///   (heads may be wider than `embedding / heads`).
/// - `phi3` (Phi-3, Phi-3.5, Phi-4-mini): llama's blocks with the query, key and value projections
///   in one `attn_qkv` matrix and the gate and up projections in one `ffn_up`, NeoX rotation
///   (of part of each head in Phi-4-mini), LongRoPE's per-pair factors.
/// - `gemma2`: gemma3's blocks without the query and key norms, a window of 4096 in every other
///   block, soft caps on the attention scores (50) and the logits (30).
/// - `gemma3`: the embedding scaled by √width, RMSNorm of each query and key head before rotation,
///   NeoX rotation, norms after attention and after the feed-forward network too, GELU (tanh)
///   gating, and five sliding-window layers to each global one.
///
/// As in llama.cpp, every family adds the biases of the query, key and value projections
/// (`attn_q.bias`, `attn_k.bias`, `attn_v.bias`) when its file has them; llama also that of the
/// attention output (`attn_output.bias`), qwen2 that of the output matrix (`output.bias`).
public enum ModelFamily: String, Sendable, CaseIterable {
    case llama
    case smollm3
    case qwen2
    case qwen3
    case phi3
    case gemma2
    case gemma3

    /// The embedding row is multiplied by √(embedding width) before the first block.
    var scalesEmbedding: Bool { self == .gemma2 || self == .gemma3 }
    /// Each query and key head is RMS-normalized (`attn_q_norm`, `attn_k_norm`) before rotation.
    var normalizesQueryKey: Bool { self == .gemma3 || self == .qwen3 }
    /// `attn_output.bias` is added where the file has it (llama.cpp's llama graph alone reads it).
    var readsAttentionOutputBias: Bool { self == .llama }
    /// `output.bias` is added to the logits where the file has it (llama.cpp's qwen2 graph alone reads it).
    var readsOutputBias: Bool { self == .qwen2 }
    /// The attention output and the feed-forward output are normalized before the residual add.
    var normalizesSublayerOutputs: Bool { self == .gemma2 || self == .gemma3 }
    /// `ffn_up` holds the gate's rows and then the up projection's (Phi-3), with no `ffn_gate`.
    var fusesGateAndUp: Bool { self == .phi3 }
    /// The gate of the feed-forward network goes through GELU (tanh approximation) instead of SiLU.
    var gatesWithGELU: Bool { self == .gemma2 || self == .gemma3 }
    /// Blocks may attend through a sliding window (`attention.sliding_window`).
    var hasSlidingWindowLayers: Bool { self == .gemma2 || self == .gemma3 }
    /// Rotation pairs element i with i + d/2 (NeoX) instead of 2i with 2i+1.
    var rotatesHalves: Bool { self != .llama && self != .smollm3 }
    /// Whether block `layer` rotates its queries and keys (SmolLM3 leaves every fourth one alone).
    func rotates(layer: Int) -> Bool { self != .smollm3 || (layer + 1) % 4 != 0 }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs the forward pass of a ``TransformerModel`` over a batch of tokens from any number of sequences.
///
/// Every matrix product serves the whole batch in one pass over the weights (prefill of a long
/// prompt and one decode token of each of many sequences alike); attention is per sequence,
/// against that sequence's ``KVCache``. Not thread-safe: one compute thread owns it.
final class ForwardPass {
    /// One token of a batch.
    struct Token {
        /// The token id.
        var id: Int32
        /// Its position in its sequence (the KV-cache row it fills).
        var position: Int
        /// Its sequence's cache.
        var cache: KVCache
        /// Whether the logits after this token are wanted.
        var wantsLogits: Bool
    }

    let model: TransformerModel
    let pool: ThreadPool
    private let activations = QuantizedActivations()
    /// Runs only the first `layerLimit` blocks (for diagnostics against a reference); nil = all.
    var layerLimit: Int?
    /// Called with (stage name, first token's vector, width) after each stage (diagnostics); nil = off.
    var trace: ((String, UnsafePointer<Float>, Int) -> Void)?
    private var buffers = Buffers()
    /// The output projection's results, reused across calls (a decode step of eight streams writes
    /// 1.5 MB: a fresh zeroed array each step cost page faults and a memset).
    private var logits = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var logitsCapacity = 1

    init(model: TransformerModel, pool: ThreadPool) {
        self.model = model
        self.pool = pool
    }

    deinit {
        buffers.deallocate()
        logits.deallocate()
    }

    /// Runs `tokens` through the model, writes their keys and values into their caches, and returns
    /// the logits (`vocabularySize` floats each) of the tokens that want them, in batch order.
    ///
    /// Tokens of one sequence must be in position order and the positions must continue the cache
    /// (`position ≤ cache.count` for the first); each cache's `count` is advanced.
    func run(_ tokens: [Token]) -> [[Float]] {
        run(tokens, unless: { false })!
    }

    /// ``run(_:)``, asking `abandoned` before each layer: once it answers true (every sequence of
    /// the batch was cancelled — a long prompt's step takes seconds) the pass stops and answers nil.
    /// The caches' counts then stay as they were: the rows it wrote beyond them are not used.
    func run(_ tokens: [Token], unless abandoned: () -> Bool) -> [[Float]]? {
        let hp = model.hyperparameters, family = hp.family
        let n = tokens.count
        if n == 0 { return [] }
        let dim = hp.embeddingLength, queryWidth = hp.queryWidth, kvWidth = model.keyValueWidth
        let ff = hp.feedForwardLength, headDim = hp.headDimension, ropeDims = hp.ropeDimensionCount
        let pairs = ropeDims / 2
        let hasSlidingLayers = (0..<model.layers.count).contains(where: hp.isSlidingWindowLayer)
        buffers.reserve(tokens: n, dim: dim, queryWidth: queryWidth, kvWidth: kvWidth, ff: ff, rope: pairs)
        let b = buffers

        let embeddingScale = Float(dim).squareRoot()
        for (t, token) in tokens.enumerated() {
            let x = b.x + t * dim
            model.tokenEmbedding.dequantizeRow(Int(token.id), into: x)
            if family.scalesEmbedding {
                for i in 0..<dim { x[i] *= embeddingScale }
            }
            withRopeFactors { factors in
                Operators.ropeTable(
                    position: token.position, base: hp.ropeFreqBase, dims: ropeDims, positionScale: hp.ropeLinearScale,
                    factors: factors, magnitude: hp.ropeAttentionFactor, cos: b.cos + t * pairs, sin: b.sin + t * pairs)
            }
            if hasSlidingLayers {
                // llama.cpp scales the sliding layers' positions like the global ones for Gemma 2
                // only (Gemma 3's sliding layers keep theirs).
                Operators.ropeTable(
                    position: token.position, base: hp.slidingRopeFreqBase, dims: ropeDims,
                    positionScale: family == .gemma2 ? hp.ropeLinearScale : 1, magnitude: hp.ropeAttentionFactor,
                    cos: b.slidingCos + t * pairs, sin: b.slidingSin + t * pairs)
            }
        }

        let tiles = Self.tiles(tokens, size: Self.attentionTile)
        for (l, layer) in model.layers.prefix(layerLimit ?? model.layers.count).enumerated() {
            if abandoned() { return nil }
            let sliding = hp.isSlidingWindowLayer(l)
            let cosines = sliding ? b.slidingCos : b.cos, sines = sliding ? b.slidingSin : b.sin
            normalize(n, b.x, weights: layer.attentionNorm, into: b.normed)
            trace?("\(l).attn_norm", b.normed, dim)
            multiply([(layer.query, b.q), (layer.key, b.k), (layer.value, b.v)], input: b.normed, count: n, width: dim)
            for (t, token) in tokens.enumerated() {
                let q = b.q + t * queryWidth, k = b.k + t * kvWidth
                addBias(layer.biases.query, to: q)
                addBias(layer.biases.key, to: k)
                addBias(layer.biases.value, to: b.v + t * kvWidth)
                if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                    normalizeHeads(q, heads: hp.headCount, weights: queryNorm)
                    normalizeHeads(k, heads: hp.headCountKV, weights: keyNorm)
                }
                let c = cosines + t * pairs, s = sines + t * pairs
                // SmolLM3's every fourth block has no position information.
                if family.rotates(layer: l) {
                    let rotate = family.rotatesHalves ? Operators.ropeHalves : Operators.rope
                    rotate(q, hp.headCount, headDim, ropeDims, c, s)
                    rotate(k, hp.headCountKV, headDim, ropeDims, c, s)
                }
                token.cache.store(layer: l, position: token.position, keys: k, values: b.v + t * kvWidth)
            }
            trace?("\(l).q", b.q, queryWidth)
            trace?("\(l).v", b.v, kvWidth)
            attention(tokens, tiles: tiles, layer: l, window: sliding ? hp.slidingWindow : nil)
            trace?("\(l).attended", b.attended, queryWidth)
            multiply(layer.attentionOutput, input: b.attended, count: n, width: queryWidth, into: b.projected)
            for t in 0..<n { addBias(layer.biases.output, to: b.projected + t * dim) }
            if let norm = layer.attentionOutputNorm { normalize(n, b.projected, weights: norm, into: b.projected) }
            for i in 0..<n * dim { b.x[i] += b.projected[i] }

            normalize(n, b.x, weights: layer.feedForwardNorm, into: b.normed)
            multiply([(layer.gate, b.gate), (layer.up, b.up)], input: b.normed, count: n, width: dim)
            trace?("\(l).ffn_norm", b.normed, dim)
            trace?("\(l).gate", b.gate, ff)
            gate(count: n * ff, gelu: family.gatesWithGELU)
            trace?("\(l).act", b.gate, ff)
            multiply(layer.down, input: b.gate, count: n, width: ff, into: b.projected)
            if let norm = layer.feedForwardOutputNorm { normalize(n, b.projected, weights: norm, into: b.projected) }
            trace?("\(l).down", b.projected, dim)
            for i in 0..<n * dim { b.x[i] += b.projected[i] }
        }
        for token in tokens { token.cache.count = max(token.cache.count, token.position + 1) }

        // Final norm and output projection only for the tokens that want logits.
        let wanted = tokens.indices.filter { tokens[$0].wantsLogits }
        if wanted.isEmpty { return [] }
        model.outputNorm.withUnsafeBufferPointer { w in
            for (row, t) in wanted.enumerated() {
                Operators.rmsNorm(
                    b.x + t * dim, weight: w.baseAddress!, epsilon: hp.rmsNormEpsilon, count: dim,
                    into: b.normed + row * dim)
            }
        }
        let vocab = hp.vocabularySize
        if wanted.count * vocab > logitsCapacity {
            logits.deallocate()
            logitsCapacity = wanted.count * vocab
            logits = .allocate(capacity: logitsCapacity)
        }
        multiply(model.output, input: b.normed, count: wanted.count, width: dim, into: logits)
        for row in 0..<wanted.count { addBias(model.outputBias, to: logits + row * vocab) }
        if let cap = hp.finalLogitSoftcap {
            for i in 0..<wanted.count * vocab { logits[i] = tanhf(logits[i] / cap) * cap }
        }
        return (0..<wanted.count).map { Array(UnsafeBufferPointer(start: logits + $0 * vocab, count: vocab)) }
    }

    /// RMSNorm of `n` vectors of the embedding width at `x` into `out` (which may be `x`).
    private func normalize(
        _ n: Int, _ x: UnsafeMutablePointer<Float>, weights: [Float], into out: UnsafeMutablePointer<Float>
    ) {
        let hp = model.hyperparameters, dim = hp.embeddingLength
        weights.withUnsafeBufferPointer { w in
            let body = { (t: Int) in
                Operators.rmsNorm(
                    x + t * dim, weight: w.baseAddress!, epsilon: hp.rmsNormEpsilon, count: dim, into: out + t * dim)
            }
            // A decode step's few rows take microseconds: not worth a round trip to the other threads.
            if n >= 32 {
                pool.parallelFor(n, body)
            } else {
                Operators.rmsNorm(
                    x, vectors: n, stride: dim, weight: w.baseAddress!, epsilon: hp.rmsNormEpsilon, count: dim, into: out)
            }
        }
    }

    /// RMSNorm of each of `heads` heads at `x`, in place (Gemma 3's and Qwen3's query and key norms).
    private func normalizeHeads(_ x: UnsafeMutablePointer<Float>, heads: Int, weights: [Float]) {
        let hp = model.hyperparameters
        weights.withUnsafeBufferPointer { w in
            Operators.rmsNorm(
                x, vectors: heads, stride: hp.headDimension, weight: w.baseAddress!, epsilon: hp.rmsNormEpsilon,
                count: hp.headDimension, into: x)
        }
    }

    /// Adds `bias` (when there is one) to the vector at `x`, element by element.
    private func addBias(_ bias: [Float]?, to x: UnsafeMutablePointer<Float>) {
        guard let bias else { return }
        for i in bias.indices { x[i] += bias[i] }
    }

    /// Calls `body` with the model's rope factors (`rope_freqs` or LongRoPE's; nil when it has none).
    private func withRopeFactors(_ body: (UnsafePointer<Float>?) -> Void) {
        guard let factors = model.ropeFrequencyFactors else { return body(nil) }
        factors.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private func multiply(
        _ w: WeightMatrix, input: UnsafeMutablePointer<Float>, count: Int, width: Int,
        into out: UnsafeMutablePointer<Float>, reuseActivations: Bool = false
    ) {
        let scheme = QuantizedActivations.Scheme(for: w)
        if !reuseActivations || activations.scheme != scheme || activations.count != count || activations.width != width {
            activations.quantize(input, count: count, stride: width, width: width, scheme: scheme, pool: pool)
        }
        MatMul.multiply(w, activations, into: out, outStride: w.rows, pool: pool)
    }

    /// Products of several matrices with the same input, in one parallel pass when they share a
    /// quantization format (otherwise one after the other).
    private func multiply(
        _ products: [(WeightMatrix, UnsafeMutablePointer<Float>)], input: UnsafeMutablePointer<Float>, count: Int,
        width: Int
    ) {
        let scheme = QuantizedActivations.Scheme(for: products[0].0)
        let shared = products.allSatisfy { QuantizedActivations.Scheme(for: $0.0) == scheme }
        guard shared, scheme.format != .float else {
            for (i, (w, out)) in products.enumerated() {
                multiply(w, input: input, count: count, width: width, into: out, reuseActivations: i > 0)
            }
            return
        }
        activations.quantize(input, count: count, stride: width, width: width, scheme: scheme, pool: pool)
        MatMul.multiply(products.map { (matrix: $0.0, out: $0.1) }, activations, pool: pool)
    }

    /// `gate = silu(gate) · up` (or GELU) over `count` elements, spread over the pool when there are many.
    private func gate(count: Int, gelu: Bool) {
        let b = buffers
        let chunk = count >= 32_768 ? 2048 : count
        let halfTable = model.precision != .float32
        pool.parallelFor((count + chunk - 1) / chunk) { c in
            let start = c * chunk, length = min(chunk, count - start)
            if gelu {
                Operators.geluGate(b.gate + start, up: b.up + start, count: length, halfTable: halfTable)
            } else {
                Operators.swiGLU(b.gate + start, up: b.up + start, count: length)
            }
        }
    }

    /// Attention for every token and query head, over the last `window` positions when given.
    /// Runs of consecutive positions of one sequence (a prompt being read) go in `tiles` of
    /// ``attentionTile`` tokens (``tiles(_:size:)``), other tokens one by one. Work items are (tile
    /// or token, key/value head) pairs, whose query heads go together through
    /// ``Attention/attendRun``, four queries at a time over the same cached keys and values — unless
    /// the batch is all single tokens and that leaves too few items to share out, then (token, query
    /// head), each alone.
    private func attention(_ tokens: [Token], tiles: [Range<Int>], layer: Int, window: Int?) {
        let hp = model.hyperparameters
        let heads = hp.headCount, headDim = hp.headDimension, queryWidth = hp.queryWidth
        let group = hp.headCount / hp.headCountKV
        let perItem = tiles.count < tokens.count || tokens.count * hp.headCountKV >= 4 * pool.threadCount ? group : 1
        let itemsPerTile = heads / perItem
        let b = buffers
        pool.parallelFor(tiles.count * itemsPerTile) { item in
            let tile = tiles[item / itemsPerTile], head = (item % itemsPerTile) * perItem
            let token = tokens[tile.lowerBound]
            if tile.count > 1 || perItem > 1 {
                Attention.attendRun(
                    queries: b.q + tile.lowerBound * queryWidth + head * headDim, queryStride: queryWidth,
                    tokens: tile.count, heads: perItem, cache: token.cache, layer: layer, kvHead: head / group,
                    position: token.position, window: window, scale: hp.attentionScale, softcap: hp.attentionSoftcap,
                    out: b.attended + tile.lowerBound * queryWidth + head * headDim, outStride: queryWidth)
                return
            }
            let t = tile.lowerBound
            let oldest = window.map { max(0, token.position - $0 + 1) } ?? 0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: perItem * (token.position - oldest + 8)) { scratch in
                Attention.attendGroup(
                    query: b.q + t * queryWidth + head * headDim, heads: perItem, cache: token.cache, layer: layer,
                    kvHead: head / group, first: oldest, last: token.position, scale: hp.attentionScale,
                    softcap: hp.attentionSoftcap,
                    scratch: scratch.baseAddress!,
                    out: b.attended + t * queryWidth + head * headDim)
            }
        }
    }

    /// Tokens per tile of a run of positions in ``attention(_:tiles:layer:window:)``.
    static let attentionTile = 4

    /// `tokens` cut into ranges of at most `size` consecutive tokens of one sequence at consecutive
    /// positions, in order.
    static func tiles(_ tokens: [Token], size: Int) -> [Range<Int>] {
        var tiles: [Range<Int>] = []
        var start = 0
        for t in 1..<(tokens.count + 1) {
            let continues = t < tokens.count && t - start < size && tokens[t].cache === tokens[start].cache
                && tokens[t].position == tokens[t - 1].position + 1
            if !continues {
                tiles.append(start..<t)
                start = t
            }
        }
        return tiles
    }
}

extension ForwardPass {
    /// Scratch buffers sized for the largest batch seen so far.
    struct Buffers {
        private(set) var capacity = 0
        var x = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var normed = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var q = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var k = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var v = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var attended = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var projected = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var gate = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var up = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var cos = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var sin = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        /// The rotary table of the sliding-window layers (their own base frequency).
        var slidingCos = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        var slidingSin = UnsafeMutablePointer<Float>.allocate(capacity: 1)

        func deallocate() {
            for p in [x, normed, q, k, v, attended, projected, gate, up, cos, sin, slidingCos, slidingSin] {
                p.deallocate()
            }
        }

        mutating func reserve(tokens n: Int, dim: Int, queryWidth: Int, kvWidth: Int, ff: Int, rope: Int) {
            if n <= capacity { return }
            deallocate()
            capacity = n
            x = .allocate(capacity: n * dim)
            normed = .allocate(capacity: n * dim)
            q = .allocate(capacity: n * queryWidth)
            k = .allocate(capacity: n * kvWidth)
            v = .allocate(capacity: n * kvWidth)
            attended = .allocate(capacity: n * queryWidth)
            projected = .allocate(capacity: n * dim)
            gate = .allocate(capacity: n * ff)
            up = .allocate(capacity: n * ff)
            cos = .allocate(capacity: n * max(rope, 1))
            sin = .allocate(capacity: n * max(rope, 1))
            slidingCos = .allocate(capacity: n * max(rope, 1))
            slidingSin = .allocate(capacity: n * max(rope, 1))
        }
    }
}

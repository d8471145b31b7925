/// The tokenizer of a GGUF model, producing the same ids as llama.cpp for the same text:
/// byte-level BPE (`tokenizer.ggml.model == "gpt2"`, e.g. SmolLM2, Llama 3) or SentencePiece BPE
/// (`"llama"`, e.g. Llama 2, Mistral, TinyLlama).
///
/// Special (control) tokens such as `<|im_start|>` are recognised in text only when the caller
/// asks for it (`parseSpecial: true`); otherwise their text is tokenized like any other text, so
/// user input cannot forge chat markers. User-defined tokens are always recognised, as in llama.cpp.
///
/// Immutable after `init`, so it is `Sendable` and can be shared by all sequences.
public final class Tokenizer: Sendable {
    /// The kind of a vocabulary entry, as stored in `tokenizer.ggml.token_type`.
    public enum TokenKind: Int32, Sendable {
        /// Type 0: not specified.
        case undefined = 0
        /// Type 1: an ordinary vocabulary entry.
        case normal = 1
        /// Type 2: the unknown token.
        case unknown = 2
        /// Type 3: a control token (`<|im_start|>`, `<s>`), recognised in text only when asked.
        case control = 3
        /// Type 4: a user-defined token, always recognised in text.
        case userDefined = 4
        /// Type 5: an unused slot.
        case unused = 5
        /// Type 6: a byte-fallback token (`<0x0A>`).
        case byte = 6
    }

    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { tokenTexts.count }
    /// The beginning-of-sequence token (`tokenizer.ggml.bos_token_id`), if any.
    public let bosID: Int32?
    /// The end-of-sequence token (`tokenizer.ggml.eos_token_id`), if any.
    public let eosID: Int32?
    /// Whether a BOS token is put in front of a prompt (`tokenizer.ggml.add_bos_token`; default false
    /// for BPE, true for SentencePiece, as in llama.cpp).
    public let addsBOS: Bool
    /// Tokens that end a generation: EOS, EOT/EOM if declared, and tokens whose text is a
    /// known end-of-turn marker (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, …), as llama.cpp does.
    public let endOfGenerationIDs: Set<Int32>
    /// The `tokenizer.ggml.pre` value in use.
    public let preTokenizerName: String

    /// How text becomes tokens.
    enum Algorithm: Sendable {
        /// Byte-level BPE (`tokenizer.ggml.model == "gpt2"`) after the given pre-tokenizer.
        case bytePairs(PreTokenizer)
        /// SentencePiece BPE by token scores (`"llama"`), optionally with a space put before text.
        case sentencePiece(addSpacePrefix: Bool)
    }

    let algorithm: Algorithm
    let tokenTexts: [String]
    let kinds: [TokenKind]
    /// The token standing for each byte (-1 if the vocabulary lacks it): the byte-level scalar's
    /// token for BPE, `<0xXX>` for SentencePiece.
    let byteTokens: [Int32]
    /// BPE merge table: `(left << 32) | right` → (rank, merged token).
    let merges: [UInt64: Merge]
    /// SentencePiece scores (empty for BPE).
    let scores: [Float]
    /// `tokenizer.ggml.unknown_token_id`.
    let unknownID: Int32?
    /// Tokens matched in text before BPE: longest first. Control tokens only with `parseSpecial`.
    let specialTokens: [SpecialToken]
    /// Decoded bytes of every token, flattened: token `i` is `decodedBytes[pieceStarts[i]..<pieceStarts[i+1]]`.
    let decodedBytes: [UInt8]
    let pieceStarts: [Int32]
    let idsByText: [TokenTextKey: Int32]

    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    struct SpecialToken: Sendable {
        var id: Int32
        var scalars: [Unicode.Scalar]
        var isControl: Bool
    }

    /// Token texts llama.cpp treats as end-of-generation.
    static let endOfTurnTexts: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
        "_<EOT>", "<|end_of_text|>", "<｜end▁of▁sentence｜>",
    ]

    /// Reads the tokenizer of `gguf`.
    /// - Throws: `.unsupportedTokenizer` for a tokenizer model or pre-tokenizer that is not implemented;
    ///   `.missingMetadata` if the vocabulary is missing or inconsistent.
    public init(gguf: GGUFFile) throws {
        let model = gguf.string("tokenizer.ggml.model") ?? "(none)"
        guard let texts = gguf.stringArray("tokenizer.ggml.tokens"), !texts.isEmpty else {
            throw EngineError(.missingMetadata, "'\(gguf.path)' has no tokenizer.ggml.tokens")
        }
        let rawKinds = gguf.intArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: texts.count)
        guard rawKinds.count == texts.count else {
            throw EngineError(
                .missingMetadata, "'\(gguf.path)' has \(texts.count) tokens but \(rawKinds.count) token types")
        }
        var idsByText: [TokenTextKey: Int32] = [:]
        idsByText.reserveCapacity(texts.count)
        for (id, text) in texts.enumerated() where idsByText[TokenTextKey(text)] == nil {
            idsByText[TokenTextKey(text)] = Int32(id)
        }
        let kinds = rawKinds.map { TokenKind(rawValue: Int32(truncatingIfNeeded: $0)) ?? .undefined }

        switch model {
        case "gpt2":
            let pre = gguf.string("tokenizer.ggml.pre") ?? "(none)"
            guard let preTokenizer = PreTokenizer(ggmlName: pre) else {
                throw EngineError(
                    .unsupportedTokenizer,
                    "pre-tokenizer '\(pre)' in '\(gguf.path)' is not supported; supported: "
                        + PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            guard let mergeTexts = gguf.stringArray("tokenizer.ggml.merges") else {
                throw EngineError(.missingMetadata, "'\(gguf.path)' has no tokenizer.ggml.merges")
            }
            algorithm = .bytePairs(preTokenizer)
            preTokenizerName = pre
            merges = Self.mergeTable(mergeTexts, idsByText: idsByText)
            scores = []
            byteTokens = ByteLevel.scalarForByte.map { idsByText[TokenTextKey(String($0))] ?? -1 }
            addsBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? false
        case "llama":
            guard let scores = gguf.floatArray("tokenizer.ggml.scores"), scores.count == texts.count else {
                throw EngineError(
                    .missingMetadata, "'\(gguf.path)' has no tokenizer.ggml.scores for its \(texts.count) tokens")
            }
            algorithm = .sentencePiece(addSpacePrefix: gguf.bool("tokenizer.ggml.add_space_prefix") ?? true)
            preTokenizerName = gguf.string("tokenizer.ggml.pre") ?? "default"
            merges = [:]
            self.scores = scores
            byteTokens = Self.sentencePieceByteTokens(idsByText: idsByText)
            addsBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? true
        default:
            throw EngineError(
                .unsupportedTokenizer,
                "tokenizer model '\(model)' in '\(gguf.path)' is not supported; supported: byte-level BPE ('gpt2') "
                    + "and SentencePiece ('llama')"
            )
        }

        func tokenID(_ key: String) throws -> Int32? {
            guard let id = gguf.int(key) else { return nil }
            guard id >= 0, id < texts.count else {
                throw EngineError(.missingMetadata, "\(key) = \(id) is outside the vocabulary of \(texts.count)")
            }
            return Int32(id)
        }
        self.tokenTexts = texts
        self.kinds = kinds
        self.idsByText = idsByText
        self.bosID = try tokenID("tokenizer.ggml.bos_token_id")
        self.eosID = try tokenID("tokenizer.ggml.eos_token_id")
        self.unknownID = try tokenID("tokenizer.ggml.unknown_token_id")

        var endOfGeneration: Set<Int32> = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try tokenID(key) { endOfGeneration.insert(id) }
        }
        for (index, text) in texts.enumerated() where Self.endOfTurnTexts.contains(text) {
            endOfGeneration.insert(Int32(index))
        }
        self.endOfGenerationIDs = endOfGeneration

        var specials: [SpecialToken] = []
        for (index, kind) in kinds.enumerated() where kind == .control || kind == .userDefined || kind == .unknown {
            let text = texts[index]
            guard !text.isEmpty else { continue }
            specials.append(
                SpecialToken(id: Int32(index), scalars: Array(text.unicodeScalars), isControl: kind != .userDefined))
        }
        // Longest first, so a special token that contains another one wins; ties by id for determinism.
        specials.sort { ($0.scalars.count, -$0.id) > ($1.scalars.count, -$1.id) }
        self.specialTokens = specials

        var pieceBytes: [UInt8] = []
        var pieceStarts: [Int32] = [0]
        pieceStarts.reserveCapacity(texts.count + 1)
        for (index, text) in texts.enumerated() {
            pieceBytes.append(contentsOf: Self.decodedBytes(of: text, kind: kinds[index], algorithm: algorithm))
            pieceStarts.append(Int32(pieceBytes.count))
        }
        self.decodedBytes = pieceBytes
        self.pieceStarts = pieceStarts
    }

    /// The bytes a token stands for when decoded.
    private static func decodedBytes(of text: String, kind: TokenKind, algorithm: Algorithm) -> [UInt8] {
        switch (kind, algorithm) {
        case (.control, _), (.userDefined, _), (.unknown, _):
            return Array(text.utf8)
        case (_, .bytePairs):
            return ByteLevel.bytes(ofTokenText: text)
        case (.byte, .sentencePiece):
            if let byte = sentencePieceByte(text) { return [byte] }
            return Array(text.utf8)
        case (_, .sentencePiece):
            return Array(text.replacingSentencePieceSpaces().utf8)
        }
    }

    private static func mergeTable(_ mergeTexts: [String], idsByText: [TokenTextKey: Int32]) -> [UInt64: Merge] {
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergeTexts.count)
        for (rank, line) in mergeTexts.enumerated() {
            // "left right": the separator is the first space (token texts never contain a raw space).
            guard let space = line.firstIndex(of: " ") else { continue }
            let left = String(line[..<space])
            let right = String(line[line.index(after: space)...])
            guard let l = idsByText[TokenTextKey(left)], let r = idsByText[TokenTextKey(right)],
                let merged = idsByText[TokenTextKey(left + right)]
            else { continue }
            let key = UInt64(UInt32(bitPattern: l)) << 32 | UInt64(UInt32(bitPattern: r))
            if table[key] == nil { table[key] = Merge(rank: Int32(rank), result: merged) }
        }
        return table
    }

    /// The vocabulary text of a token (byte-level form, e.g. `"Ġthe"`), or `nil` if out of range.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < tokenTexts.count ? tokenTexts[Int(id)] : nil
    }

    /// The kind of a token, or `nil` if out of range.
    public func kind(of id: Int32) -> TokenKind? {
        id >= 0 && Int(id) < kinds.count ? kinds[Int(id)] : nil
    }

    /// The id of the token whose vocabulary text is exactly `text` (e.g. `"<|im_start|>"`).
    public func id(forTokenText text: String) -> Int32? { idsByText[TokenTextKey(text)] }
}

/// A token text compared by its exact UTF-8 bytes. Swift's `String` equality is canonical
/// equivalence (`"e\u{301}" == "é"`), but a vocabulary can hold both as different tokens.
struct TokenTextKey: Hashable, Sendable {
    var utf8: [UInt8]

    init(_ text: String) {
        utf8 = Array(text.utf8)
    }

    init(_ scalars: ArraySlice<Unicode.Scalar>) {
        utf8 = []
        utf8.reserveCapacity(scalars.count)
        for scalar in scalars { utf8.append(contentsOf: UTF8.encode(scalar)!) }
    }
}

/// A byte-level BPE tokenizer read from a GGUF file (`tokenizer.ggml.model == "gpt2"`), producing
/// the same ids as llama.cpp for the same text.
///
/// Special (control) tokens such as `<|im_start|>` are recognised in text only when the caller
/// asks for it (`parseSpecial: true`); otherwise their text is tokenized like any other text, so
/// user input cannot forge chat markers. User-defined tokens are always recognised, as in llama.cpp.
///
/// Immutable after `init`, so it is `Sendable` and can be shared by all sequences.
public final class Tokenizer: Sendable {
    /// The kind of a vocabulary entry, as stored in `tokenizer.ggml.token_type`.
    public enum TokenKind: Int32, Sendable {
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// Number of tokens in the vocabulary.
    public var vocabularySize: Int { tokenTexts.count }
    /// The beginning-of-sequence token (`tokenizer.ggml.bos_token_id`), if any.
    public let bosID: Int32?
    /// The end-of-sequence token (`tokenizer.ggml.eos_token_id`), if any.
    public let eosID: Int32?
    /// Whether a BOS token is put in front of a prompt (`tokenizer.ggml.add_bos_token`, default false).
    public let addsBOS: Bool
    /// Tokens that end a generation: EOS, EOT/EOM if declared, and tokens whose text is a
    /// known end-of-turn marker (`<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, …), as llama.cpp does.
    public let endOfGenerationIDs: Set<Int32>
    /// The `tokenizer.ggml.pre` value in use.
    public let preTokenizerName: String

    let tokenTexts: [String]
    let kinds: [TokenKind]
    let preTokenizer: PreTokenizer
    /// Token id of each byte's byte-level scalar (-1 if the vocabulary lacks it).
    let byteTokens: [Int32]
    /// Merge table: `(left << 32) | right` → (rank, merged token).
    let merges: [UInt64: Merge]
    /// Tokens matched in text before BPE: longest first. Control tokens only with `parseSpecial`.
    let specialTokens: [SpecialToken]
    /// Decoded bytes of every token, flattened: token `i` is `decodedBytes[pieceStarts[i]..<pieceStarts[i+1]]`.
    let decodedBytes: [UInt8]
    let pieceStarts: [Int32]
    let idsByText: [String: Int32]

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
    /// - Throws: `.unsupportedTokenizer` for a non-BPE model or an unknown pre-tokenizer;
    ///   `.missingMetadata` if the vocabulary is missing or inconsistent.
    public init(gguf: GGUFFile) throws {
        let model = gguf.string("tokenizer.ggml.model") ?? "(none)"
        guard model == "gpt2" else {
            throw EngineError(
                .unsupportedTokenizer,
                "tokenizer model '\(model)' in '\(gguf.path)' is not supported; only byte-level BPE ('gpt2') is"
            )
        }
        let pre = gguf.string("tokenizer.ggml.pre") ?? "(none)"
        guard let preTokenizer = PreTokenizer(ggmlName: pre) else {
            throw EngineError(
                .unsupportedTokenizer,
                "pre-tokenizer '\(pre)' in '\(gguf.path)' is not supported; supported: "
                    + PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        guard let texts = gguf.stringArray("tokenizer.ggml.tokens"), !texts.isEmpty else {
            throw EngineError(.missingMetadata, "'\(gguf.path)' has no tokenizer.ggml.tokens")
        }
        guard let mergeTexts = gguf.stringArray("tokenizer.ggml.merges") else {
            throw EngineError(.missingMetadata, "'\(gguf.path)' has no tokenizer.ggml.merges")
        }
        let rawKinds = gguf.intArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: texts.count)
        guard rawKinds.count == texts.count else {
            throw EngineError(
                .missingMetadata,
                "'\(gguf.path)' has \(texts.count) tokens but \(rawKinds.count) token types"
            )
        }
        func tokenID(_ key: String) throws -> Int32? {
            guard let id = gguf.int(key) else { return nil }
            guard id >= 0, id < texts.count else {
                throw EngineError(.missingMetadata, "\(key) = \(id) is outside the vocabulary of \(texts.count)")
            }
            return Int32(id)
        }

        self.preTokenizer = preTokenizer
        self.preTokenizerName = pre
        self.tokenTexts = texts
        self.kinds = rawKinds.map { TokenKind(rawValue: Int32(truncatingIfNeeded: $0)) ?? .undefined }
        self.bosID = try tokenID("tokenizer.ggml.bos_token_id")
        self.eosID = try tokenID("tokenizer.ggml.eos_token_id")
        self.addsBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? false

        var idsByText: [String: Int32] = [:]
        idsByText.reserveCapacity(texts.count)
        for (id, text) in texts.enumerated() where idsByText[text] == nil {
            idsByText[text] = Int32(id)
        }
        self.idsByText = idsByText
        self.byteTokens = ByteLevel.scalarForByte.map { idsByText[String($0)] ?? -1 }
        self.merges = Self.mergeTable(mergeTexts, idsByText: idsByText)

        var endOfGeneration: Set<Int32> = []
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = try tokenID(key) { endOfGeneration.insert(id) }
        }
        var specials: [SpecialToken] = []
        for (index, text) in texts.enumerated() where Self.endOfTurnTexts.contains(text) {
            endOfGeneration.insert(Int32(index))
        }
        for (index, kind) in kinds.enumerated() where kind == .control || kind == .userDefined {
            let text = texts[index]
            guard !text.isEmpty else { continue }
            specials.append(SpecialToken(id: Int32(index), scalars: Array(text.unicodeScalars), isControl: kind == .control))
        }
        // Longest first, so a special token that contains another one wins; ties by id for determinism.
        specials.sort { ($0.scalars.count, -$0.id) > ($1.scalars.count, -$1.id) }
        self.specialTokens = specials
        self.endOfGenerationIDs = endOfGeneration

        var pieceBytes: [UInt8] = []
        var pieceStarts: [Int32] = [0]
        pieceStarts.reserveCapacity(texts.count + 1)
        for (index, text) in texts.enumerated() {
            switch kinds[index] {
            case .normal, .undefined, .byte, .unused:
                pieceBytes.append(contentsOf: ByteLevel.bytes(ofTokenText: text))
            case .control, .userDefined, .unknown:
                pieceBytes.append(contentsOf: text.utf8)
            }
            pieceStarts.append(Int32(pieceBytes.count))
        }
        self.decodedBytes = pieceBytes
        self.pieceStarts = pieceStarts
    }

    private static func mergeTable(_ mergeTexts: [String], idsByText: [String: Int32]) -> [UInt64: Merge] {
        var table: [UInt64: Merge] = [:]
        table.reserveCapacity(mergeTexts.count)
        for (rank, line) in mergeTexts.enumerated() {
            // "left right": the separator is the first space (token texts never contain a raw space).
            guard let space = line.firstIndex(of: " ") else { continue }
            let left = String(line[..<space])
            let right = String(line[line.index(after: space)...])
            guard let l = idsByText[left], let r = idsByText[right], let merged = idsByText[left + right] else { continue }
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
    public func id(forTokenText text: String) -> Int32? { idsByText[text] }
}

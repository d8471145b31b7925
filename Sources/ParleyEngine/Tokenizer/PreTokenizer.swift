/// Splits text into words before BPE, the way llama.cpp does for a `tokenizer.ggml.pre` value.
///
/// The regexes are implemented as hand-written scanners over Unicode classes:
/// - `gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `smollm` (also StarCoder and friends): every `\p{N}` first becomes a word of its own, then `gpt2`.
/// - `llama-bpe` (Llama 3): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|`
///   ` ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// - `qwen2` (Qwen2, Qwen2.5, Qwen3, DeepSeek-R1's Qwen distills): Llama 3's with `\p{N}` alone
///   (one digit a word), without Llama 3's whole-word vocabulary lookup.
/// - `gpt-4o` (Phi-4-mini, Llama 4) and `tekken` (Mistral Nemo, Mistral Small 3): words split at
///   case changes (see ``PreTokenizerText/splitCased(_:contractions:digitRun:into:)``); Tekken
///   looks whole words up in the vocabulary first, as Llama 3 does.
enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2
    case smollm
    case llama3 = "llama-bpe"
    case qwen2
    case gpt4o = "gpt-4o"
    case tekken

    /// The pre-tokenizer for a `tokenizer.ggml.pre` value, or `nil` if not implemented.
    init?(ggmlName: String) {
        switch ggmlName {
        // Names that llama.cpp maps to the same regexes.
        case "gpt2", "mpt", "olmo", "jais": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "llama-bpe", "llama3", "llama-v3", "falcon3": self = .llama3
        case "qwen2", "deepseek-r1-qwen", "megrez": self = .qwen2
        case "gpt-4o", "llama4": self = .gpt4o
        case "tekken": self = .tekken
        default: return nil
        }
    }

    /// Whether a word that is itself a vocabulary entry is emitted whole, without merging
    /// (llama.cpp's `ignore_merges`, set for Llama 3 vocabularies).
    var ignoresMerges: Bool { self == .llama3 || self == .tekken }

    /// Appends the words of `scalars[range]` to `words` as ranges of `scalars`.
    func split(
        _ scalars: [Unicode.Scalar], _ classes: [CharacterClass], _ range: Range<Int>, into words: inout [Range<Int>]
    ) {
        let text = PreTokenizerText(scalars: scalars, classes: classes)
        switch self {
        case .gpt2:
            text.splitGPT2(range, into: &words)
        case .llama3:
            text.splitLlama3(range, into: &words)
        case .qwen2:
            text.splitLlama3(range, digitRun: 1, into: &words)
        case .gpt4o:
            text.splitCased(range, contractions: true, digitRun: 3, into: &words)
        case .tekken:
            text.splitCased(range, contractions: false, digitRun: 1, into: &words)
        case .smollm:
            // `\p{N}` isolates every digit; the runs between digits go through the GPT-2 scanner.
            var start = range.lowerBound
            for i in range where classes[i].contains(.number) {
                if start < i { text.splitGPT2(start..<i, into: &words) }
                words.append(i..<i + 1)
                start = i + 1
            }
            if start < range.upperBound { text.splitGPT2(start..<range.upperBound, into: &words) }
        }
    }
}

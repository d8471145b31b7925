import ParleyStructuredOutput
import ParleyToolCalls

/// Keeps a generation inside a grammar: a JSON value of a schema (JSON mode, structured outputs) or
/// an answer whose tool calls fit their tools (``ToolCallGrammar``). Says which tokens may come
/// next, given the answer so far: a token may come when all its bytes continue the answer; an
/// end-of-generation token only where the grammar lets the answer end; and once the grammar is
/// complete, nothing else.
struct AnswerConstraint: Sendable {
    private enum Grammar: Sendable {
        case json(JSONPrefixValidator)
        case toolCalls(ToolCallGrammar)

        mutating func read(_ bytes: ArraySlice<UInt8>) -> Bool {
            switch self {
            case .json(var validator):
                defer { self = .json(validator) }
                return validator.read(bytes)
            case .toolCalls(var grammar):
                defer { self = .toolCalls(grammar) }
                return grammar.read(bytes)
            }
        }
    }

    private let tokenizer: Tokenizer
    private var grammar: Grammar

    /// The constraint of `format` (nil for text) for an answer that starts with `answerSoFar` (a
    /// resumed answer's tokens).
    init?(format: OutputFormat, tokenizer: Tokenizer, answerSoFar: ArraySlice<Int32> = []) {
        switch format {
        case .text: return nil
        case .json(let schema): grammar = .json(JSONPrefixValidator(schema: schema))
        case .toolCalls(let calls): grammar = .toolCalls(calls)
        }
        self.tokenizer = tokenizer
        for token in answerSoFar where !tokenizer.endOfGenerationIDs.contains(token) {
            _ = grammar.read(tokenizer.pieceBytes(token))
        }
    }

    /// Whether the answer is complete (the next token must end it).
    var isComplete: Bool {
        switch grammar {
        case .json(let validator): validator.isComplete
        case .toolCalls(let calls): calls.isComplete
        }
    }

    /// Whether an end-of-generation token may come next.
    private var canEnd: Bool {
        switch grammar {
        case .json(let validator): validator.isComplete
        case .toolCalls(let calls): calls.canEnd
        }
    }

    /// Whether the answer is free text here (the sampler may choose as usual, then check).
    var isFree: Bool {
        if case .toolCalls(let calls) = grammar { calls.isFree } else { false }
    }

    /// Whether `token` may come next.
    func allows(_ token: Int32) -> Bool {
        if tokenizer.endOfGenerationIDs.contains(token) { return canEnd }
        let bytes = tokenizer.pieceBytes(token)
        // Control tokens have no bytes: none may appear in a constrained answer.
        guard !bytes.isEmpty, !isComplete else { return false }
        var trial = grammar
        return trial.read(bytes)
    }

    /// The end-of-generation token the model rates highest: the answer's last token once it is
    /// complete, or when no token can continue it.
    func endToken(_ logits: [Float]) -> Int32 {
        let ends = tokenizer.endOfGenerationIDs.filter { Int($0) < logits.count && $0 >= 0 }
        return ends.max { logits[Int($0)] < logits[Int($1)] } ?? tokenizer.eosID ?? 0
    }

    /// Takes in the chosen token.
    mutating func accept(_ token: Int32) {
        guard !tokenizer.endOfGenerationIDs.contains(token) else { return }
        _ = grammar.read(tokenizer.pieceBytes(token))
    }
}

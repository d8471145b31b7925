import ParleyStructuredOutput

/// Keeps a generation inside the grammar of a JSON value of a schema (JSON mode, structured
/// outputs): which tokens may come next, given the answer so far. A token may come when all its
/// bytes continue the value (``JSONPrefixValidator``); an end-of-generation token only once the
/// value is complete, and then nothing else: the answer ends with its value.
struct JSONConstraint: Sendable {
    private let tokenizer: Tokenizer
    private(set) var validator: JSONPrefixValidator

    /// A constraint whose answer starts with `answerSoFar` (a resumed answer's tokens).
    init(schema: OutputSchema, tokenizer: Tokenizer, answerSoFar: ArraySlice<Int32> = []) {
        self.tokenizer = tokenizer
        validator = JSONPrefixValidator(schema: schema)
        for token in answerSoFar { validator.read(tokenizer.pieceBytes(token)) }
    }

    /// Whether the object is complete (the next token must end the answer).
    var isComplete: Bool { validator.isComplete }

    /// Whether `token` may come next.
    func allows(_ token: Int32) -> Bool {
        if tokenizer.endOfGenerationIDs.contains(token) { return validator.isComplete }
        let bytes = tokenizer.pieceBytes(token)
        // Control tokens have no bytes: none may appear inside the object.
        guard !bytes.isEmpty, !validator.isComplete else { return false }
        var trial = validator
        return trial.read(bytes)
    }

    /// The end-of-generation token the model rates highest: the answer's last token once its object
    /// is complete, or when no token can continue it.
    func endToken(_ logits: [Float]) -> Int32 {
        let ends = tokenizer.endOfGenerationIDs.filter { Int($0) < logits.count && $0 >= 0 }
        return ends.max { logits[Int($0)] < logits[Int($1)] } ?? tokenizer.eosID ?? 0
    }

    /// Takes in the chosen token.
    mutating func accept(_ token: Int32) {
        guard !tokenizer.endOfGenerationIDs.contains(token) else { return }
        validator.read(tokenizer.pieceBytes(token))
    }
}

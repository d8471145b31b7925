/// A merge of two adjacent SentencePiece symbols, ordered by score (highest first), then position.
struct PieceCandidate: HeapElement {
    var score: Float
    var left: Int32
    var right: Int32
    /// Length in scalars of the merged piece, to detect candidates made stale by other merges.
    var length: Int32

    @inline(__always)
    func precedes(_ other: PieceCandidate) -> Bool {
        score != other.score ? score > other.score : left < other.left
    }
}

extension Tokenizer {
    /// The SentencePiece word separator, U+2581, which stands for a space.
    static let sentencePieceSpace: Unicode.Scalar = "\u{2581}"

    /// Encodes one run of text the way SentencePiece BPE (and llama.cpp's SPM tokenizer) does:
    /// spaces become `▁`, every character starts as a symbol, and the adjacent pair whose
    /// concatenation is the highest-scoring vocabulary entry is merged until none is left.
    /// Symbols that are not tokens fall back to `<0xXX>` byte tokens.
    func sentencePieceEncode(_ text: ArraySlice<Unicode.Scalar>, spacePrefix: Bool, into output: inout [Int32]) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.count + 1)
        if spacePrefix { scalars.append(Self.sentencePieceSpace) }
        for scalar in text { scalars.append(scalar == " " ? Self.sentencePieceSpace : scalar) }
        let count = scalars.count
        guard count > 0 else { return }
        var length = [Int32](repeating: 1, count: count)
        var previous = (0..<count).map { Int32($0 - 1) }
        var next = (0..<count).map { $0 + 1 < count ? Int32($0 + 1) : -1 }
        var heap = BinaryHeap<PieceCandidate>()

        func piece(_ start: Int, _ length: Int) -> TokenTextKey {
            TokenTextKey(scalars[start..<start + length])
        }
        func addCandidate(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let merged = length[Int(left)] + length[Int(right)]
            guard let id = idsByText[piece(Int(left), Int(merged))] else { return }
            heap.push(PieceCandidate(score: scores[Int(id)], left: left, right: right, length: merged))
        }

        for i in 1..<max(count, 1) { addCandidate(Int32(i - 1), Int32(i)) }
        while let candidate = heap.pop() {
            let l = Int(candidate.left)
            let r = Int(candidate.right)
            guard length[l] > 0, length[r] > 0, length[l] + length[r] == candidate.length, next[l] == candidate.right
            else { continue }
            length[l] += length[r]
            length[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { previous[Int(next[r])] = candidate.left }
            addCandidate(previous[l], candidate.left)
            addCandidate(candidate.left, next[l])
        }

        var i: Int32 = 0
        while i >= 0 {
            let text = piece(Int(i), Int(length[Int(i)]))
            if let id = idsByText[text] {
                output.append(id)
            } else {
                for byte in text.utf8 {
                    let id = byteTokens[Int(byte)]
                    if id >= 0 {
                        output.append(id)
                    } else if let unknownID {
                        output.append(unknownID)
                    }
                }
            }
            i = next[Int(i)]
        }
    }

    /// The `<0xXX>` token of each byte, else a single-character token for ASCII bytes, else -1.
    static func sentencePieceByteTokens(idsByText: [TokenTextKey: Int32]) -> [Int32] {
        (0..<256).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            if let id = idsByText[TokenTextKey("<0x" + (hex.count == 1 ? "0" + hex : hex) + ">")] { return id }
            if byte < 128, let id = idsByText[TokenTextKey(String(Unicode.Scalar(UInt8(byte))))] { return id }
            return -1
        }
    }

    /// The byte a `<0xXX>` token stands for.
    static func sentencePieceByte(_ text: String) -> UInt8? {
        guard text.count == 6, text.hasPrefix("<0x"), text.hasSuffix(">") else { return nil }
        return UInt8(text.dropFirst(3).dropLast(), radix: 16)
    }
}

extension String {
    /// The text with SentencePiece's `▁` turned back into spaces.
    func replacingSentencePieceSpaces() -> String {
        var result = String.UnicodeScalarView()
        for scalar in unicodeScalars { result.append(scalar == Tokenizer.sentencePieceSpace ? " " : scalar) }
        return String(result)
    }
}

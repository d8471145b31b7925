/// Reusable buffers for merging one word at a time.
struct BPEState {
    var ids: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var bytes: [UInt8] = []
    var heap = BinaryHeap<MergeCandidate>()
}

/// A merge that may be applied: the pair at `left`/`right` with the given ids, ordered by rank and then position.
struct MergeCandidate: HeapElement {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftID: Int32
    var rightID: Int32

    @inline(__always)
    func precedes(_ other: MergeCandidate) -> Bool {
        rank != other.rank ? rank < other.rank : left < other.left
    }
}

extension Tokenizer {
    /// Byte-pair encodes one pre-tokenized word: start from one token per byte, then repeatedly
    /// apply the lowest-ranked merge (leftmost first among equal ranks) until none applies.
    /// With `ignoringMerges`, a word that is a vocabulary entry is emitted whole.
    func bytePairEncode(
        _ word: ArraySlice<Unicode.Scalar>, ignoringMerges: Bool, state: inout BPEState, into output: inout [Int32]
    ) {
        state.bytes.removeAll(keepingCapacity: true)
        for scalar in word {
            state.bytes.append(contentsOf: UTF8.encode(scalar)!)
        }
        state.ids.removeAll(keepingCapacity: true)
        for byte in state.bytes {
            let id = byteTokens[Int(byte)]
            if id >= 0 { state.ids.append(id) }
        }
        let count = state.ids.count
        if ignoringMerges, count > 1 {
            let text = String(String.UnicodeScalarView(state.bytes.map { ByteLevel.scalarForByte[Int($0)] }))
            if let whole = idsByText[TokenTextKey(text)] {
                output.append(whole)
                return
            }
        }
        if count <= 1 {
            output.append(contentsOf: state.ids)
            return
        }
        state.previous.removeAll(keepingCapacity: true)
        state.next.removeAll(keepingCapacity: true)
        for i in 0..<count {
            state.previous.append(Int32(i - 1))
            state.next.append(i + 1 < count ? Int32(i + 1) : -1)
        }
        state.heap.removeAll()
        for i in 0..<count - 1 {
            pushCandidate(left: Int32(i), right: Int32(i + 1), state: &state)
        }
        while let candidate = state.heap.pop() {
            let l = Int(candidate.left)
            let r = Int(candidate.right)
            // Skip candidates made stale by an earlier merge.
            guard state.ids[l] == candidate.leftID, state.ids[r] == candidate.rightID, state.next[l] == candidate.right,
                let merge = merges[Self.pairKey(candidate.leftID, candidate.rightID)]
            else { continue }
            state.ids[l] = merge.result
            state.ids[r] = -1
            let after = state.next[r]
            state.next[l] = after
            if after >= 0 { state.previous[Int(after)] = Int32(l) }
            let before = state.previous[l]
            if before >= 0 { pushCandidate(left: before, right: Int32(l), state: &state) }
            if after >= 0 { pushCandidate(left: Int32(l), right: after, state: &state) }
        }
        var i: Int32 = 0
        while i >= 0 {
            output.append(state.ids[Int(i)])
            i = state.next[Int(i)]
        }
    }

    @inline(__always)
    static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private func pushCandidate(left: Int32, right: Int32, state: inout BPEState) {
        let leftID = state.ids[Int(left)]
        let rightID = state.ids[Int(right)]
        guard let merge = merges[Self.pairKey(leftID, rightID)] else { return }
        state.heap.push(MergeCandidate(rank: merge.rank, left: left, right: right, leftID: leftID, rightID: rightID))
    }
}

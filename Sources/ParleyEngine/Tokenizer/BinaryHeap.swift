/// An element of a ``BinaryHeap``: `precedes` says which of two comes out first.
protocol HeapElement {
    func precedes(_ other: Self) -> Bool
}

/// A binary min-heap (by ``HeapElement/precedes(_:)``), used for the merge queues of BPE and SentencePiece.
struct BinaryHeap<Element: HeapElement> {
    private(set) var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ item: Element) {
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < items.count else { break }
                var best = left
                if left + 1 < items.count && items[left + 1].precedes(items[left]) { best = left + 1 }
                guard items[best].precedes(items[parent]) else { break }
                items.swapAt(best, parent)
                parent = best
            }
        }
        return top
    }
}

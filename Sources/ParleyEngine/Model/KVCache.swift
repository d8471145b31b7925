/// The keys and values of one sequence, for every layer, stored as f16 (as llama.cpp does).
///
/// Layout: `[layer][position][kvHead · headDim]`, separately for keys and values. The capacity is
/// fixed at creation; the scheduler sizes it from the request and accounts it against its budget.
final class KVCache {
    let layerCount: Int
    let width: Int
    /// Positions this cache can hold.
    let capacity: Int
    /// Positions filled so far (the next token goes to position `count`).
    var count = 0
    let keys: UnsafeMutablePointer<Float16>
    let values: UnsafeMutablePointer<Float16>

    init(layerCount: Int, width: Int, capacity: Int) {
        self.layerCount = layerCount
        self.width = width
        self.capacity = capacity
        let total = max(1, layerCount * capacity * width)
        keys = .allocate(capacity: total)
        values = .allocate(capacity: total)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Bytes a cache of `capacity` positions takes.
    static func byteCount(layerCount: Int, width: Int, capacity: Int) -> Int {
        2 * layerCount * capacity * width * MemoryLayout<Float16>.size
    }

    /// Copies the keys and values of the first `positions` positions of every layer into `other`
    /// (same model, capacity at least `positions`).
    func copyPrefix(_ positions: Int, into other: KVCache) {
        precondition(other.layerCount == layerCount && other.width == width && positions <= other.capacity)
        for layer in 0..<layerCount {
            other.keyRow(layer: layer, position: 0).update(from: keyRow(layer: layer, position: 0), count: positions * width)
            other.valueRow(layer: layer, position: 0).update(from: valueRow(layer: layer, position: 0), count: positions * width)
        }
    }

    @inline(__always)
    func keyRow(layer: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        keys + (layer * capacity + position) * width
    }

    @inline(__always)
    func valueRow(layer: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        values + (layer * capacity + position) * width
    }
}

/// The keys and values of one sequence, for every layer, stored as f16 (as llama.cpp does).
///
/// Layout: `[layer][kvHead][position][headDimension]`, separately for keys and values, so that the
/// attention of one head reads its keys and values as one contiguous run. The capacity is fixed at
/// creation; the scheduler sizes it from the request and accounts it against its budget.
final class KVCache {
    let layerCount: Int
    /// Elements per position and layer (all key/value heads).
    let width: Int
    /// Elements per head (`width` is a multiple of it).
    let headDimension: Int
    /// Positions this cache can hold.
    let capacity: Int
    /// Positions filled so far (the next token goes to position `count`).
    var count = 0
    let keys: UnsafeMutablePointer<Float16>
    let values: UnsafeMutablePointer<Float16>

    /// - Parameter headDimension: elements per key/value head; defaults to `width` (one head).
    init(layerCount: Int, width: Int, headDimension: Int? = nil, capacity: Int) {
        self.layerCount = layerCount
        self.width = width
        self.headDimension = headDimension ?? width
        precondition(self.headDimension > 0 && width % self.headDimension == 0, "width is not whole heads")
        self.capacity = capacity
        let total = max(1, layerCount * capacity * width)
        keys = .allocate(capacity: total)
        values = .allocate(capacity: total)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Heads per layer.
    var headCount: Int { width / headDimension }

    /// Bytes a cache of `capacity` positions takes.
    static func byteCount(layerCount: Int, width: Int, capacity: Int) -> Int {
        2 * layerCount * capacity * width * MemoryLayout<Float16>.size
    }

    /// Copies the keys and values of the first `positions` positions of every layer into `other`
    /// (same model, capacity at least `positions`).
    func copyPrefix(_ positions: Int, into other: KVCache) {
        precondition(
            other.layerCount == layerCount && other.width == width && other.headDimension == headDimension
                && positions <= other.capacity)
        for layer in 0..<layerCount {
            for head in 0..<headCount {
                other.key(layer: layer, head: head, position: 0).update(
                    from: key(layer: layer, head: head, position: 0), count: positions * headDimension)
                other.value(layer: layer, head: head, position: 0).update(
                    from: value(layer: layer, head: head, position: 0), count: positions * headDimension)
            }
        }
    }

    /// The key of `head` at `position` in `layer` (`headDimension` elements; the next position follows).
    @inline(__always)
    func key(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        keys + ((layer * headCount + head) * capacity + position) * headDimension
    }

    /// The value of `head` at `position` in `layer`, laid out like ``key(layer:head:position:)``.
    @inline(__always)
    func value(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<Float16> {
        values + ((layer * headCount + head) * capacity + position) * headDimension
    }

    /// Stores the `width` keys and values of one position (all heads, head after head).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for head in 0..<headCount {
            let kd = key(layer: layer, head: head, position: position)
            let vd = value(layer: layer, head: head, position: position)
            let ks = k + head * headDimension, vs = v + head * headDimension
            for i in 0..<headDimension {
                kd[i] = Float16(ks[i])
                vd[i] = Float16(vs[i])
            }
        }
    }
}

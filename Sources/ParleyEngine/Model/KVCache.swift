/// The keys and values of one sequence, for every layer: f16 as llama.cpp stores them, or float
/// for the `.float32` precision.
///
/// Layout: `[layer][kvHead][position][headDimension]`, separately for keys and values, so that the
/// attention of one head reads its keys and values as one contiguous run. The capacity is fixed at
/// creation; the scheduler sizes it from the request and accounts it against its budget.
final class KVCache {
    /// The stored element type.
    enum Element: Sendable {
        case half, float

        /// Bytes per element.
        var size: Int { self == .half ? 2 : 4 }
    }

    let layerCount: Int
    /// Elements per position and layer (all key/value heads).
    let width: Int
    /// Elements per head (`width` is a multiple of it).
    let headDimension: Int
    /// Positions this cache can hold.
    let capacity: Int
    let element: Element
    /// Positions filled so far (the next token goes to position `count`).
    var count = 0
    private let keys: UnsafeMutableRawPointer
    private let values: UnsafeMutableRawPointer

    /// - Parameter headDimension: elements per key/value head; defaults to `width` (one head).
    init(layerCount: Int, width: Int, headDimension: Int? = nil, capacity: Int, element: Element = .half) {
        self.layerCount = layerCount
        self.width = width
        self.headDimension = headDimension ?? width
        precondition(self.headDimension > 0 && width % self.headDimension == 0, "width is not whole heads")
        self.capacity = capacity
        self.element = element
        let bytes = max(1, layerCount * capacity * width) * element.size
        keys = .allocate(byteCount: bytes, alignment: 64)
        values = .allocate(byteCount: bytes, alignment: 64)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    /// Heads per layer.
    var headCount: Int { width / headDimension }

    /// Bytes a cache of `capacity` positions takes.
    static func byteCount(layerCount: Int, width: Int, capacity: Int, element: Element = .half) -> Int {
        2 * layerCount * capacity * width * element.size
    }

    /// Copies the keys and values of the first `positions` positions of every layer into `other`
    /// (same model and element type, capacity at least `positions`), which then holds `positions`.
    func copyPrefix(_ positions: Int, into other: KVCache) {
        precondition(
            other.layerCount == layerCount && other.width == width && other.headDimension == headDimension
                && other.element == element && positions <= other.capacity)
        let bytes = positions * headDimension * element.size
        for layer in 0..<layerCount {
            for head in 0..<headCount {
                other.key(layer: layer, head: head, position: 0).copyMemory(
                    from: key(layer: layer, head: head, position: 0), byteCount: bytes)
                other.value(layer: layer, head: head, position: 0).copyMemory(
                    from: value(layer: layer, head: head, position: 0), byteCount: bytes)
            }
        }
        other.count = positions
    }

    /// The key of `head` at `position` in `layer` (`headDimension` elements; the next position follows).
    @inline(__always)
    func key(layer: Int, head: Int, position: Int) -> UnsafeMutableRawPointer {
        keys + ((layer * headCount + head) * capacity + position) * headDimension * element.size
    }

    /// The value of `head` at `position` in `layer`, laid out like ``key(layer:head:position:)``.
    @inline(__always)
    func value(layer: Int, head: Int, position: Int) -> UnsafeMutableRawPointer {
        values + ((layer * headCount + head) * capacity + position) * headDimension * element.size
    }

    /// Stores the `width` keys and values of one position (all heads, head after head).
    func store(layer: Int, position: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for head in 0..<headCount {
            let kd = key(layer: layer, head: head, position: position)
            let vd = value(layer: layer, head: head, position: position)
            let ks = k + head * headDimension, vs = v + head * headDimension
            switch element {
            case .half:
                for i in 0..<headDimension {
                    kd.storeBytes(of: Float16(ks[i]), toByteOffset: 2 * i, as: Float16.self)
                    vd.storeBytes(of: Float16(vs[i]), toByteOffset: 2 * i, as: Float16.self)
                }
            case .float:
                kd.copyMemory(from: ks, byteCount: 4 * headDimension)
                vd.copyMemory(from: vs, byteCount: 4 * headDimension)
            }
        }
    }
}

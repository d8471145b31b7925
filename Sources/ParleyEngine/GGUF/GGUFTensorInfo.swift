/// One entry of a GGUF file's tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. `"blk.0.attn_q.weight"`.
    public let name: String
    /// The element type.
    public let type: GGMLType
    /// The shape, innermost first: `dimensions[0]` is the row length (ggml's `ne[0]`).
    public let dimensions: [Int]
    /// Absolute byte offset of the tensor's data in the file.
    public let offset: Int

    /// Total number of elements (product of the dimensions).
    public var elementCount: Int { dimensions.reduce(1, *) }
    /// Bytes of data the tensor occupies.
    public var byteCount: Int { elementCount / type.blockSize * type.bytesPerBlock }
    /// Elements per row (`dimensions[0]`).
    public var rowLength: Int { dimensions.first ?? 1 }
    /// Number of rows (all dimensions but the first multiplied).
    public var rowCount: Int { dimensions.dropFirst().reduce(1, *) }
    /// Bytes one row occupies.
    public var rowByteCount: Int { rowLength / type.blockSize * type.bytesPerBlock }

    /// Creates a tensor entry; the reader validates the values before it makes one.
    public init(name: String, type: GGMLType, dimensions: [Int], offset: Int) {
        self.name = name
        self.type = type
        self.dimensions = dimensions
        self.offset = offset
    }
}

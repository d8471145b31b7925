/// Reads a model's tensors from a GGUF file into the engine's forms, checking each shape: weight
/// matrices repacked for the kernels (or dequantized, at `.float32` precision), vectors as floats,
/// and fused matrices (`attn_qkv`, Phi-3's gate-and-up `ffn_up`) split into their parts by rows.
/// It remembers which tensors it read, so that a loader can refuse what it left out.
final class TensorReader {
    let file: GGUFFile
    /// Whether every matrix is stored dequantized (`.float32` precision).
    let dequantized: Bool
    /// The tensors read so far.
    private(set) var read: Set<String> = []

    init(file: GGUFFile, dequantized: Bool) {
        self.file = file
        self.dequantized = dequantized
    }

    /// Whether the file has tensor `name`.
    func has(_ name: String) -> Bool { file.tensors[name] != nil }

    /// Matrix `name` of `rows` rows of `columns` elements.
    func matrix(_ name: String, rows: Int, columns: Int) throws -> WeightMatrix {
        try matrices(name, rows: [rows], columns: columns)[0]
    }

    /// Matrix `name`, whose rows are the given parts one after the other, as one matrix per part.
    func matrices(_ name: String, rows parts: [Int], columns: Int) throws -> [WeightMatrix] {
        let info = try file.tensorInfo(name)
        read.insert(name)
        let rows = parts.reduce(0, +)
        guard info.rowLength == columns, info.rowCount == rows, let rowBytes = info.type.byteCount(elements: columns)
        else {
            throw EngineError(
                .corruptFile, "tensor \(name) has shape \(info.dimensions), expected [\(columns), \(rows)]")
        }
        let data = try file.tensorData(name)
        var start = 0
        return try parts.map { count in
            defer { start += count }
            // `tensorData` holds exactly rows × rowBytes (checked when the file was read).
            let bytes = UnsafeRawBufferPointer(rebasing: data[start * rowBytes..<(start + count) * rowBytes])
            return try WeightMatrix(
                repacking: bytes, type: info.type, rows: count, columns: columns, dequantized: dequantized)
        }
    }

    /// Vector `name` of `count` elements.
    func vector(_ name: String, count: Int) throws -> [Float] {
        let info = try file.tensorInfo(name)
        read.insert(name)
        guard info.elementCount == count else {
            throw EngineError(.corruptFile, "tensor \(name) has \(info.elementCount) elements, expected \(count)")
        }
        return try GGMLDequantizer.dequantize(try file.tensorData(name), type: info.type, count: count)
    }

    /// Vector `name` if the file has it (and `when` holds).
    func optionalVector(_ name: String, count: Int, when condition: Bool = true) throws -> [Float]? {
        condition && has(name) ? try vector(name, count: count) : nil
    }

    /// The file's tensors whose names end in `suffix` and that were not read, sorted.
    func unread(endingIn suffix: String) -> [String] {
        file.tensors.keys.filter { $0.hasSuffix(suffix) && !read.contains($0) }.sorted()
    }
}

extension GGUFFile {
    struct Header {
        var version: Int
        var metadata: [String: GGUFValue]
        var tensors: [String: GGUFTensorInfo]
        var tensorOrder: [String]
        var alignment: Int
        var dataOffset: Int
    }

    /// Largest number of dimensions a ggml tensor has.
    static let maximumDimensions = 4

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Header {
        var cursor = GGUFCursor(bytes)
        let magic = try cursor.read(UInt32.self, "magic")
        guard magic == Self.magic else {
            throw EngineError(.notGGUF, "'\(path)' is not a GGUF file (magic 0x\(String(magic, radix: 16)))")
        }
        let version = try cursor.read(UInt32.self, "version")
        if version.byteSwapped == 2 || version.byteSwapped == 3 {
            throw EngineError(.notGGUF, "'\(path)' is a big-endian GGUF file; only little-endian files are supported")
        }
        guard version == 2 || version == 3 else {
            throw EngineError(.notGGUF, "'\(path)' has GGUF version \(version); versions 2 and 3 are supported")
        }
        // A tensor entry needs at least 8 (name length) + 4 (dims) + 4 (type) + 8 (offset) bytes.
        let tensorCount = try cursor.readCount("tensor count", minimumBytesEach: 24)
        // A key/value pair needs at least 8 (key length) + 4 (type) + 1 byte.
        let metadataCount = try cursor.readCount("metadata count", minimumBytesEach: 13)

        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(metadataCount)
        for index in 0..<metadataCount {
            let key = try cursor.readString("metadata key #\(index)")
            let type = try cursor.read(UInt32.self, "value type of '\(key)'")
            let value = try cursor.readValue(type: type, key: key)
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw EngineError(.corruptFile, "metadata key '\(key)' appears twice")
            }
        }

        var alignment = defaultAlignment
        if let value = metadata["general.alignment"] {
            guard let a = value.intValue, a > 0, a & (a - 1) == 0 else {
                throw EngineError(.corruptFile, "general.alignment must be a power of two, found \(value)")
            }
            alignment = a
        }

        var entries: [(name: String, type: GGMLType, dimensions: [Int], relativeOffset: Int)] = []
        entries.reserveCapacity(tensorCount)
        for index in 0..<tensorCount {
            let name = try cursor.readString("name of tensor #\(index)")
            let dimensionCount = try cursor.read(UInt32.self, "dimension count of '\(name)'")
            guard dimensionCount >= 1, dimensionCount <= maximumDimensions else {
                throw EngineError(.corruptFile, "tensor '\(name)' has \(dimensionCount) dimensions (1 to 4 allowed)")
            }
            var dimensions: [Int] = []
            for _ in 0..<dimensionCount {
                let raw = try cursor.read(UInt64.self, "dimensions of '\(name)'")
                guard let d = Int(exactly: raw), d > 0, d <= Int(Int32.max) else {
                    throw EngineError(.corruptFile, "tensor '\(name)' has dimension \(raw)")
                }
                dimensions.append(d)
            }
            let rawType = try cursor.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw EngineError(
                    .unsupportedTensorType,
                    "tensor '\(name)' has type \(rawType) (\(GGMLType.knownName(of: rawType))), which this engine cannot read"
                        + "; supported: \(GGMLType.allCases.map(\.description).joined(separator: ", "))"
                )
            }
            let rawOffset = try cursor.read(UInt64.self, "offset of '\(name)'")
            guard let relativeOffset = Int(exactly: rawOffset), relativeOffset % alignment == 0 else {
                throw EngineError(
                    .corruptFile, "tensor '\(name)' has offset \(rawOffset), not a multiple of \(alignment)")
            }
            entries.append((name, type, dimensions, relativeOffset))
        }

        let dataOffset = (cursor.offset + alignment - 1) / alignment * alignment
        var tensors: [String: GGUFTensorInfo] = [:]
        tensors.reserveCapacity(entries.count)
        var order: [String] = []
        order.reserveCapacity(entries.count)
        for entry in entries {
            var elements = 1
            for d in entry.dimensions {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw EngineError(.corruptFile, "tensor '\(entry.name)' is impossibly large") }
                elements = product
            }
            guard entry.dimensions[0] % entry.type.blockSize == 0,
                let byteCount = entry.type.byteCount(elements: elements)
            else {
                throw EngineError(
                    .corruptFile,
                    "tensor '\(entry.name)' has rows of \(entry.dimensions[0]) elements, "
                        + "not a multiple of the \(entry.type) block size \(entry.type.blockSize)"
                )
            }
            let (start, overflow) = dataOffset.addingReportingOverflow(entry.relativeOffset)
            guard !overflow, start <= bytes.count, byteCount <= bytes.count - start else {
                throw EngineError(
                    .truncatedFile,
                    "tensor '\(entry.name)' (\(byteCount) bytes at offset \(entry.relativeOffset) of the data section) "
                        + "lies outside the file of \(bytes.count) bytes"
                )
            }
            let info = GGUFTensorInfo(name: entry.name, type: entry.type, dimensions: entry.dimensions, offset: start)
            guard tensors.updateValue(info, forKey: entry.name) == nil else {
                throw EngineError(.corruptFile, "tensor '\(entry.name)' appears twice")
            }
            order.append(entry.name)
        }
        return Header(
            version: Int(version), metadata: metadata, tensors: tensors, tensorOrder: order,
            alignment: alignment, dataOffset: dataOffset
        )
    }
}

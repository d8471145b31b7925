/// A bounds-checked little-endian reader over a byte buffer. Every read throws
/// ``EngineError/Code/truncatedFile`` instead of reading past the end.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    private(set) var offset: Int = 0

    /// Deepest nesting of arrays accepted in metadata.
    static let maximumArrayDepth = 8

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var remaining: Int { bytes.count - offset }

    private mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard count >= 0, count <= remaining else {
            throw EngineError(
                .truncatedFile,
                "file ends while reading \(what()) at byte \(offset) (needs \(count) bytes, \(remaining) left)"
            )
        }
        let start = offset
        offset += count
        return start
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let start = try take(MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: start, as: T.self))
    }

    mutating func readFloat32(_ what: @autoclosure () -> String) throws -> Float {
        Float(bitPattern: try read(UInt32.self, what()))
    }

    mutating func readFloat64(_ what: @autoclosure () -> String) throws -> Double {
        Double(bitPattern: try read(UInt64.self, what()))
    }

    /// A count stored as uint64 that must also fit what is left of the file at `minimumBytesEach` bytes apiece.
    mutating func readCount(_ what: @autoclosure () -> String, minimumBytesEach: Int) throws -> Int {
        let raw = try read(UInt64.self, what())
        guard let count = Int(exactly: raw), count <= remaining / max(minimumBytesEach, 1) else {
            throw EngineError(
                .truncatedFile,
                "\(what()) declares \(raw) entries but only \(remaining) bytes remain at byte \(offset)"
            )
        }
        return count
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let length = try readCount("length of \(what())", minimumBytesEach: 1)
        let start = try take(length, what())
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]), as: UTF8.self)
    }

    mutating func readValue(type rawType: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw EngineError(.corruptFile, "metadata key '\(key)' has unknown value type \(rawType)")
        }
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, key))
        case .int8: return .int8(try read(Int8.self, key))
        case .uint16: return .uint16(try read(UInt16.self, key))
        case .int16: return .int16(try read(Int16.self, key))
        case .uint32: return .uint32(try read(UInt32.self, key))
        case .int32: return .int32(try read(Int32.self, key))
        case .uint64: return .uint64(try read(UInt64.self, key))
        case .int64: return .int64(try read(Int64.self, key))
        case .float32: return .float32(try readFloat32(key))
        case .float64: return .float64(try readFloat64(key))
        case .bool:
            let byte = try read(UInt8.self, key)
            guard byte <= 1 else { throw EngineError(.corruptFile, "metadata key '\(key)' has bool value \(byte)") }
            return .bool(byte == 1)
        case .string: return .string(try readString(key))
        case .array:
            guard depth < Self.maximumArrayDepth else {
                throw EngineError(
                    .corruptFile, "metadata key '\(key)' nests arrays deeper than \(Self.maximumArrayDepth)")
            }
            let elementType = try read(UInt32.self, "element type of '\(key)'")
            let count = try readCount("array '\(key)'", minimumBytesEach: Self.minimumSize(of: elementType))
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count {
                elements.append(try readValue(type: elementType, key: key, depth: depth + 1))
            }
            return .array(elements)
        }
    }

    /// The fewest bytes one value of a type can occupy (used to reject absurd counts before allocating).
    static func minimumSize(of rawType: UInt32) -> Int {
        switch GGUFValueType(rawValue: rawType) {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12
        case nil: 1
        }
    }
}

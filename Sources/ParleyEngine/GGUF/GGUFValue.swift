/// One metadata value of a GGUF file, with the on-disk type it was stored as.
public enum GGUFValue: Sendable, Equatable {
    /// Type 0.
    case uint8(UInt8)
    /// Type 1.
    case int8(Int8)
    /// Type 2.
    case uint16(UInt16)
    /// Type 3.
    case int16(Int16)
    /// Type 4.
    case uint32(UInt32)
    /// Type 5.
    case int32(Int32)
    /// Type 6.
    case float32(Float)
    /// Type 7 (one byte, 0 or 1).
    case bool(Bool)
    /// Type 8 (uint64 length + UTF-8 bytes).
    case string(String)
    /// Type 9: an array; GGUF arrays hold elements of one type, and may nest.
    case array([GGUFValue])
    /// Type 10.
    case uint64(UInt64)
    /// Type 11.
    case int64(Int64)
    /// Type 12.
    case float64(Double)

    /// The value as an `Int` if it is an integer of any width that fits.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as a `Float` if it is a float or an integer.
    public var floatValue: Float? {
        switch self {
        case .float32(let v): v
        case .float64(let v): Float(v)
        default: intValue.map { Float($0) }
        }
    }

    /// The value if it is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value if it is a bool.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements if the value is an array.
    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
}

/// The value type tags of GGUF metadata, as stored on disk.
enum GGUFValueType: UInt32 {
    case uint8 = 0
    case int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64
}

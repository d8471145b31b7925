import Foundation

/// A compact, positional binary `Encoder` for values that cross the wire.
///
/// The format has no field names and no type tags: a value is readable only by the same Swift type,
/// which the handshake guarantees by comparing protocol versions. Integers are little-endian and
/// fixed width (`Int` as 8 bytes), strings and data are a LEB128 length followed by the bytes,
/// optionals and keyed-container `encodeIfPresent` a presence byte, arrays a LEB128 count.
/// A nested keyed or unkeyed container is preceded by its key's name, which is how enums with
/// associated values name their case. Dictionaries are not supported (a positional decoder does not
/// know their keys) go through their own path: a count, then key–value pairs.
public struct BinaryEncoder: Sendable {
    public init() {}

    /// Encodes `value` into a new byte array.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let sink = BinarySink()
        try BinaryEncoding.encode(value, into: sink)
        return sink.bytes
    }
}

/// The growing byte array one encoding writes into; shared by nested containers.
final class BinarySink {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(128) }

    @inline(__always) func write<I: FixedWidthInteger>(_ value: I) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always) func writeLength(_ value: Int) {
        var v = UInt64(value)
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    func write(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            writeLength(utf8.count)
            bytes.append(contentsOf: utf8)
        }
    }
}

enum BinaryEncoding {
    /// Writes `value`, taking a fast path for the primitive and byte types (metatype comparisons,
    /// no dynamic casts), for ``WireCodable`` values (their own form) and for optionals (a presence
    /// byte), and `Encodable` otherwise.
    @inline(__always)
    static func encode<T: Encodable>(_ value: T, into sink: BinarySink) throws {
        if T.self == String.self {
            sink.write(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            sink.write(Int64(unsafeBitCast(value, to: Int.self)))
        } else if T.self == Bool.self {
            sink.bytes.append(unsafeBitCast(value, to: Bool.self) ? 1 : 0)
        } else if T.self == Double.self {
            sink.write(unsafeBitCast(value, to: Double.self).bitPattern)
        } else if T.self == Int32.self {
            sink.write(unsafeBitCast(value, to: Int32.self))
        } else if T.self == UInt64.self {
            sink.write(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == [UInt8].self {
            let v = unsafeBitCast(value, to: [UInt8].self)
            sink.writeLength(v.count)
            sink.bytes.append(contentsOf: v)
        } else if let v = value as? any WireCodable {
            v.write(wire: WireWriter(sink: sink))
        } else if let v = value as? any OptionalEncodingBridge {
            try v.encodeBinaryOptional(into: sink)
        } else if let v = value as? any DictionaryEncodingBridge {
            try v.encodeBinaryDictionary(into: sink)
        } else if T.self == Data.self {
            let v = value as! Data
            sink.writeLength(v.count)
            sink.bytes.append(contentsOf: v)
        } else if T.self == Date.self {
            sink.write((value as! Date).timeIntervalSince1970.bitPattern)
        } else if T.self == UUID.self {
            withUnsafeBytes(of: (value as! UUID).uuid) { sink.bytes.append(contentsOf: $0) }
        } else if T.self == URL.self {
            sink.write((value as! URL).absoluteString)
        } else {
            try value.encode(to: BinaryEncoderImpl(sink: sink))
        }
    }
}

/// Lets the encoder write a dictionary as a count and key–value pairs (sorted by the keys' encoding,
/// so equal dictionaries encode equally); `Dictionary.encode(to:)` would need field names.
protocol DictionaryEncodingBridge {
    func encodeBinaryDictionary(into sink: BinarySink) throws
}

extension Dictionary: DictionaryEncodingBridge where Key: Encodable, Value: Encodable {
    func encodeBinaryDictionary(into sink: BinarySink) throws {
        let pairs = try map { key, value -> ([UInt8], [UInt8]) in
            let keySink = BinarySink()
            try BinaryEncoding.encode(key, into: keySink)
            let valueSink = BinarySink()
            try BinaryEncoding.encode(value, into: valueSink)
            return (keySink.bytes, valueSink.bytes)
        }.sorted { $0.0.lexicographicallyPrecedes($1.0) }
        sink.writeLength(pairs.count)
        for (key, value) in pairs {
            sink.bytes.append(contentsOf: key)
            sink.bytes.append(contentsOf: value)
        }
    }
}

/// Lets the encoder write a presence byte for an `Optional` at any nesting level, which the
/// standard library's `Optional.encode(to:)` would not.
protocol OptionalEncodingBridge {
    func encodeBinaryOptional(into sink: BinarySink) throws
}

extension Optional: OptionalEncodingBridge where Wrapped: Encodable {
    func encodeBinaryOptional(into sink: BinarySink) throws {
        switch self {
        case .none:
            sink.bytes.append(0)
        case .some(let wrapped):
            sink.bytes.append(1)
            try BinaryEncoding.encode(wrapped, into: sink)
        }
    }
}

struct BinaryEncoderImpl: Encoder {
    let sink: BinarySink
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(sink: sink))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedContainer(sink: sink)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(sink: sink)
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let sink: BinarySink
        var codingPath: [any CodingKey] { [] }

        mutating func encodeNil(forKey key: Key) throws { sink.bytes.append(0) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            try BinaryEncoding.encode(value, into: sink)
        }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
            try encodePresence(value)
        }
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try encodePresence(value) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try encodePresence(value) }

        private func encodePresence<T: Encodable>(_ value: T?) throws {
            if let value {
                sink.bytes.append(1)
                try BinaryEncoding.encode(value, into: sink)
            } else {
                sink.bytes.append(0)
            }
        }

        // Nested containers are preceded by their key's name: that is how enums with associated
        // values say which case they are (their decoder asks for `allKeys`).
        mutating func nestedContainer<NestedKey: CodingKey>(
            keyedBy keyType: NestedKey.Type, forKey key: Key
        ) -> KeyedEncodingContainer<NestedKey> {
            sink.write(key.stringValue)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(sink: sink))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            sink.write(key.stringValue)
            return UnkeyedContainer(sink: sink)
        }
        mutating func superEncoder() -> any Encoder { BinaryEncoderImpl(sink: sink) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { BinaryEncoderImpl(sink: sink) }
    }

    /// Arrays: a LEB128 element count is written up front, so the count must be patched in once the
    /// container is done. Elements are written after a reserved 5-byte slot that holds the count.
    final class UnkeyedContainer: UnkeyedEncodingContainer {
        let sink: BinarySink
        let countIndex: Int
        var count: Int = 0 {
            didSet { patchCount() }
        }
        var codingPath: [any CodingKey] { [] }

        init(sink: BinarySink) {
            self.sink = sink
            self.countIndex = sink.bytes.count
            sink.bytes.append(contentsOf: [0x80, 0x80, 0x80, 0x80, 0x00])
        }

        private func patchCount() {
            var v = UInt32(truncatingIfNeeded: count)
            for i in 0..<5 {
                let last = i == 4
                sink.bytes[countIndex + i] = UInt8(truncatingIfNeeded: v & 0x7F) | (last ? 0 : 0x80)
                v >>= 7
            }
        }

        func encodeNil() throws {
            sink.bytes.append(0)
            count += 1
        }
        func encode<T: Encodable>(_ value: T) throws {
            try BinaryEncoding.encode(value, into: sink)
            count += 1
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            count += 1
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(sink: sink))
        }
        func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            count += 1
            return UnkeyedContainer(sink: sink)
        }
        func superEncoder() -> any Encoder {
            count += 1
            return BinaryEncoderImpl(sink: sink)
        }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let sink: BinarySink
        var codingPath: [any CodingKey] { [] }
        mutating func encodeNil() throws { sink.bytes.append(0) }
        mutating func encode<T: Encodable>(_ value: T) throws { try BinaryEncoding.encode(value, into: sink) }
        mutating func encode(_ value: Bool) throws { sink.bytes.append(value ? 1 : 0) }
        mutating func encode(_ value: String) throws { sink.write(value) }
        mutating func encode(_ value: Double) throws { sink.write(value.bitPattern) }
        mutating func encode(_ value: Float) throws { sink.write(value.bitPattern) }
        mutating func encode(_ value: Int) throws { sink.write(Int64(value)) }
        mutating func encode(_ value: Int8) throws { sink.write(value) }
        mutating func encode(_ value: Int16) throws { sink.write(value) }
        mutating func encode(_ value: Int32) throws { sink.write(value) }
        mutating func encode(_ value: Int64) throws { sink.write(value) }
        mutating func encode(_ value: UInt) throws { sink.write(UInt64(value)) }
        mutating func encode(_ value: UInt8) throws { sink.write(value) }
        mutating func encode(_ value: UInt16) throws { sink.write(value) }
        mutating func encode(_ value: UInt32) throws { sink.write(value) }
        mutating func encode(_ value: UInt64) throws { sink.write(value) }
    }
}

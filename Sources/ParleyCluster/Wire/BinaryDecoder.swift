import Foundation

/// Decodes what `BinaryEncoder` wrote. Every read is bounds-checked: truncated or hostile input
/// throws `ClusterError` with code `.malformed`, never traps.
public struct BinaryDecoder {
    /// Made available to `Decodable` implementations, e.g. `.actorSystemKey` for actor references.
    public var userInfo: [CodingUserInfoKey: Any] = [:]

    public init() {}

    /// Decodes a `T` from `bytes`; trailing bytes are an error.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { raw in
            let source = BinarySource(raw, userInfo: userInfo)
            let value = try BinaryDecoding.decode(T.self, from: source)
            guard source.offset == raw.count else {
                throw ClusterError(.malformed, "\(raw.count - source.offset) trailing bytes after \(T.self)")
            }
            return value
        }
    }
}

/// A read cursor over borrowed bytes. Valid only inside the `withUnsafeBytes` scope that made it.
final class BinarySource {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    let userInfo: [CodingUserInfoKey: Any]

    init(_ bytes: UnsafeRawBufferPointer, userInfo: [CodingUserInfoKey: Any]) {
        self.bytes = bytes
        self.userInfo = userInfo
    }

    @inline(__always) func need(_ count: Int) throws {
        guard count >= 0, bytes.count - offset >= count else {
            throw ClusterError(.malformed, "truncated value: need \(count) bytes, \(bytes.count - offset) left")
        }
    }

    @inline(__always) func read<I: FixedWidthInteger>(_: I.Type) throws -> I {
        try need(MemoryLayout<I>.size)
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: I.self)
        offset += MemoryLayout<I>.size
        return I(littleEndian: value)
    }

    func readByte() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    func readBool() throws -> Bool {
        switch try readByte() {
        case 0: return false
        case 1: return true
        case let other: throw ClusterError(.malformed, "invalid boolean byte \(other)")
        }
    }

    func readLength() throws -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try readByte()
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 35 else { throw ClusterError(.malformed, "length prefix too long") }
        }
        guard result <= UInt64(bytes.count - offset) || result <= UInt64(Int32.max) else {
            throw ClusterError(.malformed, "length \(result) out of range")
        }
        return Int(result)
    }

    /// An array's count. Every element takes at least one byte, so a count beyond the bytes left is
    /// malformed, found before anything is allocated for it.
    func readCount() throws -> Int {
        let count = try readLength()
        guard count <= bytes.count - offset else {
            throw ClusterError(.malformed, "array count \(count) exceeds remaining bytes")
        }
        return count
    }

    func readBytes() throws -> [UInt8] {
        let count = try readLength()
        try need(count)
        defer { offset += count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
    }

    func readString() throws -> String {
        let count = try readLength()
        try need(count)
        defer { offset += count }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
        guard let string = String(validating: slice.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw ClusterError(.malformed, "string is not valid UTF-8")
        }
        return string
    }
}

enum BinaryDecoding {
    @inline(__always)
    static func decode<T: Decodable>(_ type: T.Type, from source: BinarySource) throws -> T {
        if T.self == String.self {
            return unsafeBitCast(try source.readString(), to: T.self)
        } else if T.self == Int.self {
            return unsafeBitCast(Int(try source.read(Int64.self)), to: T.self)
        } else if T.self == Bool.self {
            return unsafeBitCast(try source.readBool(), to: T.self)
        } else if T.self == Double.self {
            return unsafeBitCast(Double(bitPattern: try source.read(UInt64.self)), to: T.self)
        } else if T.self == Int32.self {
            return unsafeBitCast(try source.read(Int32.self), to: T.self)
        } else if T.self == UInt64.self {
            return unsafeBitCast(try source.read(UInt64.self), to: T.self)
        } else if T.self == [UInt8].self {
            return unsafeBitCast(try source.readBytes(), to: T.self)
        } else if let wire = T.self as? any WireCodable.Type {
            return try wire.init(wire: WireReader(source: source)) as! T
        } else if let optional = T.self as? any OptionalDecodingBridge.Type {
            return try optional.decodeBinaryOptional(from: source) as! T
        } else if let dictionary = T.self as? any DictionaryDecodingBridge.Type {
            return try dictionary.decodeBinaryDictionary(from: source) as! T
        } else if T.self == Data.self {
            return Data(try source.readBytes()) as! T
        } else if T.self == Date.self {
            return Date(timeIntervalSince1970: Double(bitPattern: try source.read(UInt64.self))) as! T
        } else if T.self == UUID.self {
            try source.need(16)
            var uuid = UUID().uuid
            withUnsafeMutableBytes(of: &uuid) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: source.bytes[source.offset..<source.offset + 16])) }
            source.offset += 16
            return UUID(uuid: uuid) as! T
        } else if T.self == URL.self {
            let string = try source.readString()
            guard let url = URL(string: string) else { throw ClusterError(.malformed, "invalid URL") }
            return url as! T
        } else {
            return try T(from: BinaryDecoderImpl(source: source))
        }
    }
}

/// Mirrors `DictionaryEncodingBridge`: a count, then key–value pairs; a repeated key is malformed.
protocol DictionaryDecodingBridge {
    static func decodeBinaryDictionary(from source: BinarySource) throws -> Self
}

extension Dictionary: DictionaryDecodingBridge where Key: Decodable, Value: Decodable {
    static func decodeBinaryDictionary(from source: BinarySource) throws -> Self {
        let count = try source.readLength()
        guard count <= source.bytes.count - source.offset else {
            throw ClusterError(.malformed, "dictionary count \(count) exceeds remaining bytes")
        }
        var result: [Key: Value] = [:]
        result.reserveCapacity(count)
        for _ in 0..<count {
            let key = try BinaryDecoding.decode(Key.self, from: source)
            let value = try BinaryDecoding.decode(Value.self, from: source)
            guard result.updateValue(value, forKey: key) == nil else {
                throw ClusterError(.malformed, "repeated dictionary key")
            }
        }
        return result
    }
}

/// Mirrors `OptionalEncodingBridge`: reads the presence byte of an `Optional` at any nesting level.
protocol OptionalDecodingBridge {
    static func decodeBinaryOptional(from source: BinarySource) throws -> Self
}

extension Optional: OptionalDecodingBridge where Wrapped: Decodable {
    static func decodeBinaryOptional(from source: BinarySource) throws -> Self {
        try source.readBool() ? .some(try BinaryDecoding.decode(Wrapped.self, from: source)) : .none
    }
}

struct BinaryDecoderImpl: Decoder {
    let source: BinarySource
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { source.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(KeyedContainer<Key>(source: source))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try UnkeyedContainer(source: source)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleContainer(source: source)
    }

    /// Positional: keys are ignored except the name written before a nested container, which
    /// `allKeys` reads (once) so that enums with associated values can find their case.
    final class KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let source: BinarySource
        private var peekedKey: String?
        var codingPath: [any CodingKey] { [] }

        init(source: BinarySource) { self.source = source }

        var allKeys: [Key] {
            if peekedKey == nil { peekedKey = try? source.readString() }
            return peekedKey.flatMap { Key(stringValue: $0) }.map { [$0] } ?? []
        }

        private func consumeKeyName() throws {
            if peekedKey != nil {
                peekedKey = nil
            } else {
                _ = try source.readString()
            }
        }

        func contains(_ key: Key) -> Bool { true }
        func decodeNil(forKey key: Key) throws -> Bool {
            guard try source.readByte() == 0 else {
                source.offset -= 1
                return false
            }
            return true
        }
        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try BinaryDecoding.decode(T.self, from: source)
        }
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try presence(T.self) }
        func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try presence(type) }
        func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try presence(type) }
        func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try presence(type) }
        func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try presence(type) }
        func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try presence(type) }
        func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try presence(type) }
        func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try presence(type) }
        func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try presence(type) }
        func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try presence(type) }
        func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try presence(type) }
        func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try presence(type) }
        func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try presence(type) }
        func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try presence(type) }
        func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try presence(type) }

        private func presence<T: Decodable>(_ type: T.Type) throws -> T? {
            try source.readBool() ? try BinaryDecoding.decode(T.self, from: source) : nil
        }

        func nestedContainer<NestedKey: CodingKey>(
            keyedBy type: NestedKey.Type, forKey key: Key
        ) throws -> KeyedDecodingContainer<NestedKey> {
            try consumeKeyName()
            return KeyedDecodingContainer(KeyedContainer<NestedKey>(source: source))
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try consumeKeyName()
            return try UnkeyedContainer(source: source)
        }
        func superDecoder() throws -> any Decoder { BinaryDecoderImpl(source: source) }
        func superDecoder(forKey key: Key) throws -> any Decoder { BinaryDecoderImpl(source: source) }
    }

    final class UnkeyedContainer: UnkeyedDecodingContainer {
        let source: BinarySource
        let count: Int?
        var currentIndex = 0
        var codingPath: [any CodingKey] { [] }
        var isAtEnd: Bool { currentIndex >= (count ?? 0) }

        init(source: BinarySource) throws {
            self.source = source
            self.count = try source.readCount()
        }

        private func next() throws {
            guard !isAtEnd else { throw ClusterError(.malformed, "read past the end of an array") }
            currentIndex += 1
        }

        func decodeNil() throws -> Bool {
            try next()
            if try source.readByte() == 0 { return true }
            source.offset -= 1
            currentIndex -= 1
            return false
        }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try next()
            return try BinaryDecoding.decode(T.self, from: source)
        }
        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next()
            return KeyedDecodingContainer(KeyedContainer<NestedKey>(source: source))
        }
        func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            try next()
            return try UnkeyedContainer(source: source)
        }
        func superDecoder() throws -> any Decoder {
            try next()
            return BinaryDecoderImpl(source: source)
        }
    }

    struct SingleContainer: SingleValueDecodingContainer {
        let source: BinarySource
        var codingPath: [any CodingKey] { [] }
        func decodeNil() -> Bool { false }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try BinaryDecoding.decode(T.self, from: source) }
        func decode(_ type: Bool.Type) throws -> Bool { try source.readBool() }
        func decode(_ type: String.Type) throws -> String { try source.readString() }
        func decode(_ type: Double.Type) throws -> Double { Double(bitPattern: try source.read(UInt64.self)) }
        func decode(_ type: Float.Type) throws -> Float { Float(bitPattern: try source.read(UInt32.self)) }
        func decode(_ type: Int.Type) throws -> Int { Int(try source.read(Int64.self)) }
        func decode(_ type: Int8.Type) throws -> Int8 { try source.read(Int8.self) }
        func decode(_ type: Int16.Type) throws -> Int16 { try source.read(Int16.self) }
        func decode(_ type: Int32.Type) throws -> Int32 { try source.read(Int32.self) }
        func decode(_ type: Int64.Type) throws -> Int64 { try source.read(Int64.self) }
        func decode(_ type: UInt.Type) throws -> UInt { UInt(try source.read(UInt64.self)) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try source.read(UInt8.self) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try source.read(UInt16.self) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try source.read(UInt32.self) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try source.read(UInt64.self) }
    }
}

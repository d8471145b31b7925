/// A value with a hand-written wire form, for the types that cross the wire on every streamed token
/// or request of the serving path.
///
/// `BinaryEncoder` and `BinaryDecoder` call these two members directly instead of going through
/// `Codable`'s containers, whose keyed lookups, case names and dynamic casts cost more than the
/// token itself. The form must be self-delimiting (a reader knows where the value ends) and at
/// least one byte long, and `init(wire:)` must read exactly what `write(wire:)` wrote; every read
/// is checked, so truncated or hostile bytes throw `ClusterError(.malformed)`. The `Codable`
/// conformance stays for other encoders (JSON). Changing a type's wire form is an incompatible
/// change of the API version.
public protocol WireCodable: Codable {
    /// Writes the value.
    func write(wire: WireWriter)
    /// Reads a value written by `write(wire:)`.
    init(wire: WireReader) throws
}

/// Appends values to one encoding (see ``WireCodable``). Integers are zigzag LEB128 varints,
/// strings a varint length and their UTF-8 bytes.
public struct WireWriter {
    let sink: BinarySink

    public func write(_ value: UInt8) { sink.bytes.append(value) }

    public func write(_ value: Bool) { sink.bytes.append(value ? 1 : 0) }

    public func write(_ value: Int) {
        var zigzag = UInt64(UInt(bitPattern: (value << 1) ^ (value >> (Int.bitWidth - 1))))
        while zigzag >= 0x80 {
            sink.bytes.append(UInt8(truncatingIfNeeded: zigzag) | 0x80)
            zigzag >>= 7
        }
        sink.bytes.append(UInt8(zigzag))
    }

    public func write(_ value: Double) { sink.write(value.bitPattern) }

    public func write(_ value: String) { sink.write(value) }

    /// A length, then the bytes (which need not be UTF-8).
    public func write(bytes: [UInt8]) {
        sink.writeLength(bytes.count)
        sink.bytes.append(contentsOf: bytes)
    }

    /// A presence byte, then the string if there is one.
    public func write(_ value: String?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// Eight bytes, little-endian.
    public func write(_ value: UInt64) { sink.write(value) }

    /// A presence byte, then the integer if there is one.
    public func write(_ value: Int?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// A presence byte, then the number if there is one.
    public func write(_ value: Double?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// A presence byte, then the number if there is one.
    public func write(_ value: UInt64?) {
        write(value != nil)
        if let value { write(value) }
    }

    /// A count, then the strings.
    public func write(_ values: [String]) {
        sink.writeLength(values.count)
        for value in values { write(value) }
    }

    /// A presence byte, then the value's wire form if there is one.
    public func write<T: WireCodable>(_ value: T?) {
        write(value != nil)
        value?.write(wire: self)
    }

    /// A count, then each value's wire form.
    public func write<T: WireCodable>(_ values: [T]) {
        sink.writeLength(values.count)
        for value in values { value.write(wire: self) }
    }
}

/// Reads the values a ``WireWriter`` wrote, each read bounds-checked.
public struct WireReader {
    let source: BinarySource

    public func readByte() throws -> UInt8 { try source.readByte() }

    public func readBool() throws -> Bool { try source.readBool() }

    public func readInt() throws -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try source.readByte()
            guard shift < 64, shift < 63 || byte <= 1 else { throw ClusterError(.malformed, "integer too long") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
        }
        let unsigned = UInt(truncatingIfNeeded: result)
        return Int(bitPattern: unsigned >> 1) ^ -Int(bitPattern: unsigned & 1)
    }

    public func readDouble() throws -> Double { Double(bitPattern: try source.read(UInt64.self)) }

    public func readString() throws -> String { try source.readString() }

    /// Bytes written by `write(bytes:)`.
    public func readBytes() throws -> [UInt8] { try source.readBytes() }

    public func readOptionalString() throws -> String? { try readBool() ? try readString() : nil }

    public func readUInt64() throws -> UInt64 { try source.read(UInt64.self) }

    public func readOptionalInt() throws -> Int? { try readBool() ? try readInt() : nil }

    public func readOptionalDouble() throws -> Double? { try readBool() ? try readDouble() : nil }

    public func readOptionalUInt64() throws -> UInt64? { try readBool() ? try readUInt64() : nil }

    public func readStrings() throws -> [String] {
        try (0..<source.readCount()).map { _ in try readString() }
    }

    public func readOptional<T: WireCodable>(_: T.Type) throws -> T? { try readBool() ? try T(wire: self) : nil }

    public func readArray<T: WireCodable>(_: T.Type) throws -> [T] {
        try (0..<source.readCount()).map { _ in try T(wire: self) }
    }
}

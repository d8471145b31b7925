import ParleyCluster
import Testing

/// Values with a hand-written wire form (`WireCodable`) are written in that form wherever they
/// appear (alone, optional, in arrays and in `Codable` structs), and every malformed input throws.
@Suite("Hand-written wire forms")
struct WireCodableTests {
    /// An integer and a string, written as two varint-prefixed fields.
    struct Sample: WireCodable, Equatable {
        var number: Int
        var text: String

        init(number: Int, text: String) {
            self.number = number
            self.text = text
        }

        func write(wire: WireWriter) {
            wire.write(number)
            wire.write(text)
        }

        init(wire: WireReader) throws {
            self.init(number: try wire.readInt(), text: try wire.readString())
        }
    }

    struct Holder: Codable, Equatable {
        var first: Sample
        var maybe: Sample?
        var many: [Sample]
    }

    func roundTrip<T: Codable & Equatable>(_ value: T) throws -> T {
        try BinaryDecoder().decode(T.self, from: BinaryEncoder().encode(value))
    }

    @Test func theEncoderWritesTheHandWrittenForm() throws {
        // -3 as a zigzag varint is 5; "ab" is its length and bytes. The Codable form would take
        // 8 bytes for the integer alone.
        #expect(try BinaryEncoder().encode(Sample(number: -3, text: "ab")) == [5, 2, 97, 98])
        #expect(try BinaryEncoder().encode(Sample(number: 64, text: "")) == [0x80, 0x01, 0])
    }

    @Test func integersRoundTripAtTheirLimits() throws {
        for number in [0, 1, -1, 63, 64, -64, -65, 300, Int(Int32.max), Int.max, Int.min, Int.max - 1, Int.min + 1] {
            #expect(try roundTrip(Sample(number: number, text: "x")) == Sample(number: number, text: "x"))
        }
    }

    @Test func nestedValuesRoundTrip() throws {
        let holder = Holder(
            first: Sample(number: 7, text: "héllo"), maybe: Sample(number: -1, text: ""),
            many: [Sample(number: 1, text: "a"), Sample(number: Int.min, text: "b")])
        #expect(try roundTrip(holder) == holder)
        let empty = Holder(first: Sample(number: 0, text: ""), maybe: nil, many: [])
        #expect(try roundTrip(empty) == empty)
    }

    @Test func everyTruncationThrowsMalformed() throws {
        let bytes = try BinaryEncoder().encode(Sample(number: Int.min, text: "token"))
        for length in 0..<bytes.count {
            #expect(throws: ClusterError.self) { try BinaryDecoder().decode(Sample.self, from: Array(bytes[..<length])) }
        }
    }

    @Test func anOverlongIntegerThrowsMalformed() {
        // Eleven continuation bytes, and a tenth byte with more than the 64th bit.
        let tooLong = [UInt8](repeating: 0xFF, count: 11) + [0x01, 0]
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(Sample.self, from: tooLong) }
        let tooWide = [UInt8](repeating: 0xFF, count: 9) + [0x02, 0]
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(Sample.self, from: tooWide) }
    }

    @Test func invalidUTF8ThrowsMalformed() {
        #expect(throws: ClusterError.self) { try BinaryDecoder().decode(Sample.self, from: [2, 2, 0xC3, 0x28]) }
    }
}

import Foundation
import Testing

@testable import ParleyEngine

@Suite struct DequantizationTests {
    @Test func halfConversionIsExactForEveryBitPattern() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = Float(halfBits: bits)
            #expect(
                actual.bitPattern == expected.bitPattern || (actual.isNaN && expected.isNaN),
                "0x\(String(bits, radix: 16))")
        }
    }

    @Test func blockGeometry() {
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22),
            .q5_1: (32, 24), .q8_0: (32, 34),
            .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210),
            .iq4_nl: (32, 18), .iq4_xs: (256, 136),
        ]
        for type in GGMLType.allCases {
            #expect(type.blockSize == expected[type]?.0 && type.bytesPerBlock == expected[type]?.1, "\(type)")
        }
        #expect(GGMLType.q4_1.byteCount(elements: 576) == 18 * 20)
        #expect(GGMLType.q4_1.byteCount(elements: 100) == nil)
    }

    @Test func q4_0AndQ4_1AndQ8_0HandMadeBlocks() throws {
        // Nibble j of byte i: low nibbles are elements 0..<16, high nibbles 16..<32.
        var q4: [UInt8] = []
        q4.appendHalf(0.5)
        for i in 0..<16 { q4.append(UInt8(i) | UInt8(15 - i) << 4) }
        let a = try q4.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q4_0, count: 32) }
        let low: [Float] = (0..<16).map { Float($0 - 8) * 0.5 }
        let high: [Float] = (0..<16).map { Float(7 - $0) * 0.5 }
        #expect(a == low + high)

        var q41: [UInt8] = []
        q41.appendHalf(0.25)
        q41.appendHalf(-1)
        for i in 0..<16 { q41.append(UInt8(i) | UInt8(i) << 4) }
        let b = try q41.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q4_1, count: 32) }
        let half: [Float] = (0..<16).map { Float($0) * 0.25 - 1 }
        #expect(b == half + half)

        var q8: [UInt8] = []
        q8.appendHalf(2)
        for i in 0..<32 { q8.append(UInt8(bitPattern: Int8(i - 16))) }
        let c = try q8.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q8_0, count: 32) }
        #expect(c == (0..<32).map { Float($0 - 16) * 2 })

        var bf: [UInt8] = []
        bf.appendLE(UInt16(0x3FC0))  // 1.5
        bf.appendLE(UInt16(0xC020))  // -2.5
        #expect(try bf.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .bf16, count: 2) } == [1.5, -2.5])
    }

    @Test func q5_0HandMadeBlock() throws {
        // Element j takes its low four bits from nibble j (low nibbles 0..<16, high 16..<32) and its
        // fifth bit from bit j of the 32-bit word after d; values are centred at 16.
        var block: [UInt8] = []
        block.appendHalf(0.5)
        let fifthBits: UInt32 = 0xA5F0_0F5A
        block.appendLE(UInt16(fifthBits & 0xFFFF))
        block.appendLE(UInt16(fifthBits >> 16))
        for i in 0..<16 { block.append(UInt8(i) | UInt8(15 - i) << 4) }
        let values = try block.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q5_0, count: 32) }
        let expected: [Float] = (0..<32).map { j in
            let low = j < 16 ? j : 15 - (j - 16)
            let fifth = Int((fifthBits >> UInt32(j)) & 1) << 4
            return Float(low + fifth - 16) * 0.5
        }
        #expect(values == expected)
        #expect(values.min() == -8 && values.max()! <= 7.5)
    }

    @Test func q4_KHandMadeBlock() throws {
        // d = 1, dmin = 0.5; sub-block j has scale j+1 and minimum 2j (6-bit packed); every nibble = (element % 16).
        var block: [UInt8] = []
        block.appendHalf(1)
        block.appendHalf(0.5)
        let scales = (0..<8).map { UInt8($0 + 1) }
        let mins = (0..<8).map { UInt8(2 * $0) }
        var packed = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 {
            packed[j] = scales[j]
            packed[j + 4] = mins[j]
        }
        for j in 4..<8 {
            packed[j + 4] = (scales[j] & 0x0F) | (mins[j] & 0x0F) << 4
            packed[j - 4] |= (scales[j] >> 4) << 6
            packed[j] |= (mins[j] >> 4) << 6
        }
        block += packed
        // 4 chunks of 32 bytes: low nibbles belong to sub-block 2c, high nibbles to 2c+1.
        for _ in 0..<4 {
            for l in 0..<32 { block.append(UInt8(l % 16) | UInt8((l + 1) % 16) << 4) }
        }
        let values = try block.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q4_K, count: 256) }
        for i in 0..<256 {
            let sub = i / 32
            let l = i % 32
            let q = sub % 2 == 0 ? l % 16 : (l + 1) % 16
            let expected = Float(scales[sub]) * Float(q) - 0.5 * Float(mins[sub])
            #expect(values[i] == expected, "element \(i)")
        }
    }

    @Test func q6_KHandMadeBlock() throws {
        // Element e in half h, position p (0..<128): q = e % 64 split into 4 low and 2 high bits; scale of group e/16 = g - 8.
        var ql = [UInt8](repeating: 0, count: 128)
        var qh = [UInt8](repeating: 0, count: 64)
        var expected = [Float](repeating: 0, count: 256)
        let scales = (0..<16).map { Int8($0 - 8) }
        for e in 0..<256 {
            let half = e / 128
            let p = e % 128
            let quarter = p / 32
            let l = p % 32
            let q = UInt8((e * 7) % 64)
            let lowIndex = half * 64 + l + (quarter % 2) * 32
            ql[lowIndex] |= quarter < 2 ? (q & 0x0F) : (q & 0x0F) << 4
            qh[half * 32 + l] |= (q >> 4) << (2 * quarter)
            expected[e] = 0.5 * Float(scales[e / 16]) * Float(Int(q) - 32)
        }
        var block = ql + qh + scales.map { UInt8(bitPattern: $0) }
        block.appendHalf(0.5)
        let values = try block.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q6_K, count: 256) }
        #expect(values == expected)
    }

    @Test func q2_KHandMadeBlock() throws {
        // Sub-block i (16 elements) has scale i % 15 + 1 and minimum 15 − i; element e's quant is
        // (e / 3) % 4, stored in bits 2j, 2j+1 of byte 16 + 32h + l for e = 128h + 32j + l.
        var block: [UInt8] = (0..<16).map { (i: Int) -> UInt8 in
            let scale = UInt8(i % 15 + 1), minimum = UInt8(15 - i)
            return scale | minimum << 4
        }
        var qs = [UInt8](repeating: 0, count: 64)
        for e in 0..<256 {
            let h = e / 128, j = (e % 128) / 32, l = e % 32
            qs[32 * h + l] |= UInt8((e / 3) % 4) << (2 * j)
        }
        block += qs
        block.appendHalf(0.5)
        block.appendHalf(0.25)
        let values = try block.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q2_K, count: 256) }
        for e in 0..<256 {
            let i = e / 16
            let scale = Float(i % 15 + 1), quant = Float((e / 3) % 4), minimum = Float(15 - i)
            let expected: Float = 0.5 * scale * quant - 0.25 * minimum
            #expect(values[e] == expected, "element \(e)")
        }
    }

    @Test func iq4HandMadeBlocks() throws {
        let levels: [Float] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]
        // IQ4_NL: index i in the low nibble of byte i, 15 − i in the high one.
        var nl: [UInt8] = []
        nl.appendHalf(0.5)
        for i in 0..<16 { nl.append(UInt8(i) | UInt8(15 - i) << 4) }
        let a = try nl.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .iq4_nl, count: 32) }
        let expected: [Float] = (0..<32).map { e in 0.5 * levels[e < 16 ? e : 31 - e] }
        #expect(a == expected)

        // IQ4_XS: sub-block j has scale s_j = 7j − 25 (−25…24), stored as s + 32: the low four bits
        // in nibble j of bytes 4…7, the high two in bits 2j, 2j + 1 of the 16 bits at byte 2.
        let scales = (0..<8).map { 7 * $0 - 25 }
        var xs: [UInt8] = []
        xs.appendHalf(0.25)
        var high: UInt16 = 0
        var low = [UInt8](repeating: 0, count: 4)
        for (j, s) in scales.enumerated() {
            let stored = UInt8(s + 32)
            low[j / 2] |= (stored & 0x0F) << (4 * UInt8(j % 2))
            high |= UInt16(stored >> 4) << (2 * UInt16(j))
        }
        xs += [UInt8(high & 0xFF), UInt8(high >> 8)] + low
        for j in 0..<8 { for i in 0..<16 { xs.append(UInt8((i + j) % 16) | UInt8((i + 3 * j) % 16) << 4) } }
        let b = try xs.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .iq4_xs, count: 256) }
        for e in 0..<256 {
            let j = e / 32, i = e % 32
            let index = i < 16 ? (i + j) % 16 : (i - 16 + 3 * j) % 16
            let value: Float = 0.25 * Float(scales[j]) * levels[index]
            #expect(b[e] == value, "element \(e)")
        }
    }

    @Test func shortBufferIsAnError() {
        let bytes = [UInt8](repeating: 0, count: 19)
        #expect(throws: EngineError.self) {
            try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q4_1, count: 32) }
        }
        #expect(throws: EngineError.self) {
            try bytes.withUnsafeBytes { try GGMLDequantizer.dequantize($0, type: .q4_0, count: 31) }
        }
    }
}

/// The element type of a tensor in a GGUF file, with the numbering ggml uses on disk.
///
/// Quantized types store elements in blocks: ``blockSize`` elements share a scale (and for some
/// types a minimum) and occupy ``bytesPerBlock`` bytes. A tensor row always holds whole blocks.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    /// 32-bit IEEE float.
    case f32 = 0
    /// 16-bit IEEE half float.
    case f16 = 1
    /// 4-bit blocks of 32 with one f16 scale: `x = (q - 8) * d`.
    case q4_0 = 2
    /// 4-bit blocks of 32 with an f16 scale and minimum: `x = q * d + m`.
    case q4_1 = 3
    /// 5-bit blocks of 32 with one f16 scale: `x = (q - 16) * d` (the fifth bits packed in 32 bits).
    case q5_0 = 6
    /// 5-bit blocks of 32 with an f16 scale and minimum: `x = q * d + m` (fifth bits as Q5_0's).
    case q5_1 = 7
    /// 8-bit blocks of 32 with one f16 scale: `x = q * d`.
    case q8_0 = 8
    /// 2-bit super-blocks of 256 (sixteen sub-blocks of 16 with 4-bit scales and minimums):
    /// `x = d·s·q − dmin·m`, q in 0…3.
    case q2_K = 10
    /// 3-bit super-blocks of 256 (sixteen sub-blocks of 16 with 6-bit scales): `x = d·s·q`, q in −4…3.
    case q3_K = 11
    /// 4-bit super-blocks of 256 (eight sub-blocks of 32 with 6-bit scales and minimums).
    case q4_K = 12
    /// 5-bit super-blocks of 256 (eight sub-blocks of 32 with 6-bit scales and minimums, as Q4_K's).
    case q5_K = 13
    /// 6-bit super-blocks of 256 (sixteen sub-blocks of 16 with 8-bit scales).
    case q6_K = 14
    /// 4-bit blocks of 32 with one f16 scale, each quant an index into a fixed non-linear table of
    /// sixteen levels (``GGMLDequantizer/nonlinearLevels``): `x = d · level[q]`.
    case iq4_nl = 20
    /// IQ4_NL's levels in super-blocks of 256: eight sub-blocks of 32 with 6-bit scales (stored as
    /// `s + 32`) and one f16 `d`: `x = d · s · level[q]`.
    case iq4_xs = 23
    /// bfloat16 (the upper half of an f32).
    case bf16 = 30

    /// Elements per block: 1 for the float types, 32 for q4_0/q4_1/q5_0/q5_1/q8_0/iq4_nl, 256 for
    /// the K-quants and iq4_xs.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl: 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_xs: 256
        }
    }

    /// Whether the type stores super-blocks of 256 (the K-quants and IQ4_XS: sub-scales coded against
    /// one `d`), whose products llama.cpp computes with Q8_K activations.
    public var hasSuperBlocks: Bool { blockSize == 256 }

    /// Bytes one block occupies on disk.
    public var bytesPerBlock: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .q4_0: 18  // f16 d + 16 bytes of nibbles
        case .q4_1: 20  // f16 d + f16 m + 16 bytes of nibbles
        case .q5_0: 22  // f16 d + 4 bytes of fifth bits + 16 bytes of nibbles
        case .q5_1: 24  // f16 d + f16 m + 4 bytes of fifth bits + 16 bytes of nibbles
        case .q8_0: 34  // f16 d + 32 int8
        case .q2_K: 84  // 16 bytes of 4-bit scales and minimums + 64 bytes of 2-bit quants + f16 d + f16 dmin
        case .q3_K: 110  // 32 bytes of high bits + 64 bytes of 2-bit quants + 12 bytes of scales + f16 d
        case .q4_K: 144  // f16 d + f16 dmin + 12 bytes of scales + 128 bytes of nibbles
        case .q5_K: 176  // f16 d + f16 dmin + 12 bytes of scales + 32 bytes of fifth bits + 128 bytes of nibbles
        case .q6_K: 210  // 128 bytes low nibbles + 64 bytes high bits + 16 int8 scales + f16 d
        case .iq4_nl: 18  // f16 d + 16 bytes of nibbles
        case .iq4_xs: 136  // f16 d + 16 high scale bits + 4 bytes of low scale nibbles + 128 bytes of nibbles
        }
    }

    /// Bytes needed for `count` elements; `nil` if `count` is not a whole number of blocks or overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: bytesPerBlock)
        return overflow ? nil : bytes
    }

    /// The name ggml uses, e.g. `"Q4_K"`.
    public var description: String {
        switch self {
        case .f32: "F32"
        case .f16: "F16"
        case .q4_0: "Q4_0"
        case .q4_1: "Q4_1"
        case .q5_0: "Q5_0"
        case .q5_1: "Q5_1"
        case .q8_0: "Q8_0"
        case .q2_K: "Q2_K"
        case .q3_K: "Q3_K"
        case .q4_K: "Q4_K"
        case .q5_K: "Q5_K"
        case .q6_K: "Q6_K"
        case .iq4_nl: "IQ4_NL"
        case .iq4_xs: "IQ4_XS"
        case .bf16: "BF16"
        }
    }

    /// ggml's names for the type ids this engine does not read, for error messages.
    static func knownName(of rawValue: UInt32) -> String {
        let names: [UInt32: String] = [
            9: "Q8_1", 15: "Q8_K",
            16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 21: "IQ3_S",
            22: "IQ2_S", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
        ]
        return names[rawValue] ?? "unknown"
    }
}

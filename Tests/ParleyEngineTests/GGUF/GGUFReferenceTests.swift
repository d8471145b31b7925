import Foundation
import Testing

@testable import ParleyEngine

/// Compares the reader and dequantization with the `gguf` Python package.
@Suite(.enabled(if: ReferenceEnvironment.isAvailable, "needs python3 with tools/reference/requirements.txt"))
struct GGUFReferenceTests {
    struct RowRequest: Encodable {
        var tensor: String
        var row: Int
    }

    struct DequantizeRequest: Encodable {
        var model: String
        var mode = "dequantize"
        var rows: [RowRequest]
    }

    /// Random blocks of every type (with finite, moderate f16 scales) dequantize like gguf-py.
    @Test func everyTypeMatchesGGUFPyOnRandomBlocks() throws {
        var generator = SplitMix64(seed: 42)
        var writer = GGUFWriter()
        writer.metadata = [("general.architecture", .string("llama"))]
        for type in GGMLType.allCases {
            let elements = 512
            var data = [UInt8](repeating: 0, count: type.byteCount(elements: elements)!)
            for i in data.indices { data[i] = UInt8.random(in: 0...255, using: &generator) }
            // Put sane half-precision values where each type keeps its scales.
            let halfOffsets: [Int]
            switch type {
            case .q4_0, .q5_0, .q8_0, .iq4_nl, .iq4_xs: halfOffsets = [0]
            case .q4_1, .q5_1, .q4_K, .q5_K: halfOffsets = [0, 2]
            case .q2_K: halfOffsets = [80, 82]
            case .q3_K: halfOffsets = [108]
            case .q6_K: halfOffsets = [208]
            case .f16: halfOffsets = [0]
            case .f32, .bf16: halfOffsets = []
            }
            for block in 0..<(elements / type.blockSize) {
                for offset in halfOffsets {
                    let value = Float16(Float.random(in: -2...2, using: &generator)).bitPattern
                    data[block * type.bytesPerBlock + offset] = UInt8(value & 0xFF)
                    data[block * type.bytesPerBlock + offset + 1] = UInt8(value >> 8)
                }
            }
            if type == .f32 {
                for i in 0..<elements {
                    let bits = Float.random(in: -100...100, using: &generator).bitPattern
                    for b in 0..<4 { data[4 * i + b] = UInt8((bits >> (8 * UInt32(b))) & 0xFF) }
                }
            }
            if type == .bf16 {
                for i in 0..<elements { data[2 * i + 1] = data[2 * i + 1] & 0xBF }  // keep exponents finite
            }
            writer.tensors.append(.init(name: "t.\(type)", type: type.rawValue, dimensions: [256, 2], data: data))
        }
        let path = try writer.write(named: "random-blocks")
        let file = try GGUFFile(path: path)
        let rows = GGMLType.allCases.flatMap { type in [0, 1].map { RowRequest(tensor: "t.\(type)", row: $0) } }
        let reference = try ReferenceEnvironment.run(
            "gguf_reference.py", DequantizeRequest(model: path, rows: rows), as: [[Float]].self
        )
        for (request, expected) in zip(rows, reference) {
            let actual = try file.dequantizeRow(request.tensor, row: request.row)
            #expect(actual.count == expected.count)
            let worst = zip(actual, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            #expect(worst <= 1e-6, "\(request.tensor) row \(request.row): worst relative error \(worst)")
        }
    }

    /// The real model: metadata, tensor table and rows of each tensor type agree with gguf-py.
    @Test func smolLM2MatchesGGUFPy() throws {
        let path = try ReferenceEnvironment.modelPath.get()
        let file = try GGUFFile(path: path)
        struct Describe: Encodable {
            var model: String
            var mode = "describe"
        }
        struct Tensor: Decodable {
            var name: String
            var type: UInt32
            var dims: [Int]
            var offset: Int
        }
        struct Description: Decodable { var tensors: [Tensor] }
        let description = try ReferenceEnvironment.run("gguf_reference.py", Describe(model: path), as: Description.self)
        #expect(file.tensorOrder == description.tensors.map(\.name))
        for tensor in description.tensors {
            let info = try file.tensorInfo(tensor.name)
            #expect(
                info.type.rawValue == tensor.type && info.dimensions == tensor.dims && info.offset == tensor.offset,
                "\(tensor.name)")
        }
        let params = try ModelHyperparameters(gguf: file)
        #expect(
            params.blockCount == 30 && params.embeddingLength == 576 && params.headCount == 9 && params.headCountKV == 3
        )
        #expect(params.vocabularySize == 49152 && params.feedForwardLength == 1536 && params.ropeFreqBase == 100_000)

        // One tensor of each type present (Q8_0 embeddings, Q4_1 weights, F32 norms), first and last rows.
        let names = ["token_embd.weight", "blk.0.attn_q.weight", "blk.29.ffn_down.weight", "blk.3.attn_norm.weight"]
        let rows = try names.flatMap { name in
            let info = try file.tensorInfo(name)
            return [0, info.rowCount - 1].map { RowRequest(tensor: name, row: $0) }
        }
        let reference = try ReferenceEnvironment.run(
            "gguf_reference.py", DequantizeRequest(model: path, rows: rows), as: [[Float]].self
        )
        for (request, expected) in zip(rows, reference) {
            #expect(
                try file.dequantizeRow(request.tensor, row: request.row) == expected,
                "\(request.tensor) row \(request.row)")
        }
    }
}

/// A small seeded generator, so random test data is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

import Foundation
import Testing

@testable import ParleyEngine

@Suite struct GGUFFileTests {
    static let allValueTypes: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60_000)), ("i16", .int16(-30_000)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)), ("f32", .float32(1.5)),
        ("bool", .bool(true)), ("string", .string("héllo 🙂")), ("u64", .uint64(UInt64.max)),
        ("i64", .int64(Int64.min)), ("f64", .float64(-2.25)),
        ("strings", .array([.string("a"), .string(""), .string("ccc")])),
        ("nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
        ("empty", .array([])),
    ]

    static func sampleWriter() -> GGUFWriter {
        var writer = GGUFWriter()
        writer.metadata = allValueTypes
        var f32: [UInt8] = []
        for v: Float in [1, -2, 3.5, 0.25, 8, 9, 10, 11] { f32.appendLE(v.bitPattern) }
        writer.tensors = [
            .init(name: "a.weight", type: 0, dimensions: [4, 2], data: f32),
            .init(name: "b.weight", type: 8, dimensions: [32], data: [UInt8](repeating: 1, count: 34)),
        ]
        return writer
    }

    @Test func readsEveryMetadataTypeAndTheTensorTable() throws {
        let file = try GGUFFile(path: Self.sampleWriter().write())
        #expect(file.version == 3)
        for (key, value) in Self.allValueTypes {
            #expect(file.metadata[key] == value, "\(key)")
        }
        #expect(file.metadata.count == Self.allValueTypes.count)
        #expect(file.int("u32") == 4_000_000_000)
        #expect(file.int("u64") == nil)  // does not fit Int
        #expect(file.float("f64") == -2.25)
        #expect(file.stringArray("strings") == ["a", "", "ccc"])
        #expect(file.string("u8") == nil)
        #expect(file.tensorOrder == ["a.weight", "b.weight"])
        let a = try file.tensorInfo("a.weight")
        #expect(a.type == .f32 && a.dimensions == [4, 2] && a.rowCount == 2 && a.rowLength == 4 && a.byteCount == 32)
        #expect(a.offset == file.dataOffset && file.dataOffset % 32 == 0)
        #expect(try file.tensorInfo("b.weight").offset == file.dataOffset + 32)
        #expect(try file.dequantizeRow("a.weight", row: 1) == [8, 9, 10, 11])
        #expect(try file.tensorData("b.weight").count == 34)
    }

    @Test func honoursACustomAlignmentAndVersion2() throws {
        var writer = Self.sampleWriter()
        writer.alignment = 64
        writer.version = 2
        writer.metadata.append(("general.alignment", .uint32(64)))
        let file = try GGUFFile(path: writer.write())
        #expect(file.version == 2 && file.alignment == 64 && file.dataOffset % 64 == 0)
        #expect(try file.tensorInfo("b.weight").offset == file.dataOffset + 64)
        #expect(try file.dequantizeRow("a.weight", row: 0) == [1, -2, 3.5, 0.25])
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let bytes = Self.sampleWriter().bytes()
        // The last tensor's data ends 2 bytes before the padding, so every shorter prefix is incomplete.
        let needed = bytes.count - (32 - 34 % 32)
        for length in stride(from: 0, to: needed, by: 1) {
            let path = try TemporaryFile.write(Array(bytes[..<length]), named: "truncated")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let error = #expect(throws: EngineError.self) { try GGUFFile(path: path) }
            #expect(error?.code == .truncatedFile, "length \(length): \(String(describing: error))")
        }
        #expect(throws: Never.self) { try GGUFFile(path: TemporaryFile.write(Array(bytes[..<needed]), named: "exact")) }
    }

    @Test func randomlyCorruptedFilesNeverCrash() throws {
        let original = Self.sampleWriter().bytes()
        var generator = SplitMix64(seed: 7)
        var opened = 0
        for _ in 0..<300 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                // Mostly the header and tables, where a bad byte changes the structure.
                let index = Int.random(in: 0..<min(bytes.count, 420), using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            let path = try TemporaryFile.write(bytes, named: "corrupt")
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                let file = try GGUFFile(path: path)
                for name in file.tensorOrder {
                    let info = try file.tensorInfo(name)
                    _ = try file.dequantizeRow(name, row: info.rowCount - 1)
                }
                opened += 1
            } catch let error as EngineError {
                #expect(!error.message.isEmpty)
            }
        }
        // Corrupting string bytes or tensor values leaves a readable file; structure damage does not.
        #expect(opened > 0 && opened < 300)
    }

    @Test func rejectsBadMagicAndVersions() throws {
        var bytes = Self.sampleWriter().bytes()
        bytes[0] = 0x47
        bytes[3] = 0x47
        var error = #expect(throws: EngineError.self) { try GGUFFile(path: TemporaryFile.write(bytes, named: "magic")) }
        #expect(error?.code == .notGGUF)
        var writer = Self.sampleWriter()
        writer.version = 1
        error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .notGGUF && error?.message.contains("version 1") == true)
        writer.version = UInt32(3).byteSwapped
        error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .notGGUF && error?.message.contains("big-endian") == true)
        error = #expect(throws: EngineError.self) { try GGUFFile(path: "/nonexistent/model.gguf") }
        #expect(error?.code == .fileUnreadable)
    }

    @Test func unknownTensorTypeNamesTheTensorAndType() throws {
        var writer = Self.sampleWriter()
        writer.tensors[1].type = 16  // IQ2_XXS
        let error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .unsupportedTensorType)
        #expect(error?.message.contains("b.weight") == true && error?.message.contains("IQ2_XXS") == true)
    }

    @Test func corruptStructuresAreErrors() throws {
        // A tensor whose data lies past the end of the file.
        var writer = Self.sampleWriter()
        writer.tensors[1].dimensions = [3200]
        var error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .truncatedFile && error?.message.contains("b.weight") == true)
        // A row that is not a whole number of blocks.
        writer = Self.sampleWriter()
        writer.tensors[1].dimensions = [16, 2]
        error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .corruptFile)
        // An unknown metadata value type.
        var bytes = Self.sampleWriter().bytes()
        let keyEnd = 24 + 8 + "general.architecture".utf8.count
        bytes[keyEnd] = 99
        error = #expect(throws: EngineError.self) { try GGUFFile(path: TemporaryFile.write(bytes, named: "vtype")) }
        #expect(error?.code == .corruptFile)
        // An array that claims 2^62 elements must not be allocated.
        writer = GGUFWriter()
        writer.metadata = [("big", .array([.uint8(1)]))]
        bytes = writer.bytes()
        let countOffset = 24 + 8 + 3 + 4 + 4
        for i in 0..<8 { bytes[countOffset + i] = i == 7 ? 0x40 : 0 }
        error = #expect(throws: EngineError.self) { try GGUFFile(path: TemporaryFile.write(bytes, named: "count")) }
        #expect(error?.code == .truncatedFile)
        // Bad alignment value.
        writer = Self.sampleWriter()
        writer.metadata.append(("general.alignment", .uint32(48)))
        error = #expect(throws: EngineError.self) { try GGUFFile(path: writer.write()) }
        #expect(error?.code == .corruptFile)
    }

    @Test func lookupsOfMissingTensorsAndRowsAreErrors() throws {
        let file = try GGUFFile(path: Self.sampleWriter().write())
        #expect(throws: EngineError.self) { try file.tensorData("missing") }
        #expect(throws: EngineError.self) { try file.dequantizeRow("a.weight", row: 2) }
        #expect(throws: EngineError.self) { try file.dequantizeRow("a.weight", row: -1) }
    }

    @Test func llamaHyperparametersComeFromArchitectureKeys() throws {
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(576)), ("llama.block_count", .uint32(30)),
            ("llama.feed_forward_length", .uint32(1536)), ("llama.attention.head_count", .uint32(9)),
            ("llama.attention.head_count_kv", .uint32(3)), ("llama.context_length", .uint32(8192)),
            ("llama.rope.freq_base", .float32(100_000)), ("llama.vocab_size", .uint32(49152)),
        ]
        let params = try ModelHyperparameters(gguf: GGUFFile(path: writer.write()))
        #expect(params.headDimension == 64 && params.ropeDimensionCount == 64 && params.headCountKV == 3)
        #expect(params.ropeFreqBase == 100_000 && params.rmsNormEpsilon == 1e-5 && params.vocabularySize == 49152)

        writer.metadata[0] = ("general.architecture", .string("mamba"))
        var error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: writer.write())) }
        #expect(error?.code == .unsupportedArchitecture && error?.message.contains("mamba") == true)

        writer.metadata[0] = ("general.architecture", .string("llama"))
        writer.metadata.remove(at: 2)
        error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: writer.write())) }
        #expect(error?.code == .missingMetadata && error?.message.contains("llama.block_count") == true)
    }
    @Test func gemma3HyperparametersReadHeadWidthWindowAndBases() throws {
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string("gemma3")),
            ("gemma3.embedding_length", .uint32(640)), ("gemma3.block_count", .uint32(18)),
            ("gemma3.feed_forward_length", .uint32(2048)), ("gemma3.attention.head_count", .uint32(4)),
            ("gemma3.attention.head_count_kv", .uint32(1)), ("gemma3.context_length", .uint32(32768)),
            ("gemma3.attention.key_length", .uint32(256)), ("gemma3.attention.value_length", .uint32(256)),
            ("gemma3.rope.freq_base", .float32(1_000_000)), ("gemma3.attention.sliding_window", .uint32(512)),
            ("gemma3.vocab_size", .uint32(262_144)),
        ]
        let params = try ModelHyperparameters(gguf: GGUFFile(path: writer.write()))
        #expect(params.family == .gemma3 && params.headDimension == 256 && params.queryWidth == 1024)
        #expect(params.ropeDimensionCount == 256 && params.slidingWindow == 512)
        #expect(params.ropeFreqBase == 1_000_000 && params.slidingRopeFreqBase == 10_000 && params.ropeLinearScale == 1)
        // Five sliding-window layers, then one global.
        #expect((0..<12).filter { !params.isSlidingWindowLayer($0) } == [5, 11])

        writer.metadata += [
            ("gemma3.rope.scaling.type", .string("linear")), ("gemma3.rope.scaling.factor", .float32(8)),
            ("gemma3.rope.freq_base_swa", .float32(20_000)),
        ]
        let scaled = try ModelHyperparameters(gguf: GGUFFile(path: writer.write()))
        #expect(scaled.ropeLinearScale == 8 && scaled.slidingRopeFreqBase == 20_000)

        writer.metadata[8] = ("gemma3.attention.value_length", .uint32(128))
        var error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: writer.write())) }
        #expect(error?.code == .corruptFile && error?.message.contains("values of 128") == true)

        // Shapes whose products would overflow, or a negative rotation, are refused, not trapped on.
        writer.metadata[7] = ("gemma3.attention.key_length", .uint64(1 << 61))
        writer.metadata[8] = ("gemma3.attention.value_length", .uint64(1 << 61))
        error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: writer.write())) }
        #expect(error?.code == .corruptFile && error?.message.contains("impossible shape") == true)
        writer.metadata[7] = ("gemma3.attention.key_length", .uint32(256))
        writer.metadata[8] = ("gemma3.attention.value_length", .uint32(256))
        writer.metadata.append(("gemma3.rope.dimension_count", .int32(-2)))
        error = #expect(throws: EngineError.self) { try ModelHyperparameters(gguf: GGUFFile(path: writer.write())) }
        #expect(error?.code == .corruptFile)
    }

    @Test func llamaLayersNeverSlide() throws {
        var writer = GGUFWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .uint32(64)), ("llama.block_count", .uint32(12)),
            ("llama.feed_forward_length", .uint32(128)), ("llama.attention.head_count", .uint32(4)),
            ("llama.context_length", .uint32(256)), ("llama.vocab_size", .uint32(100)),
        ]
        let params = try ModelHyperparameters(gguf: GGUFFile(path: writer.write()))
        #expect(params.slidingWindow == nil && (0..<12).allSatisfy { !params.isSlidingWindowLayer($0) })
        #expect(params.headDimension == 16 && params.queryWidth == 64)
    }
}

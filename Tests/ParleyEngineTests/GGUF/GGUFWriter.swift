import Foundation

@testable import ParleyEngine

/// Writes small GGUF files for tests, byte by byte as the format specifies.
struct GGUFWriter {
    struct Tensor {
        var name: String
        var type: UInt32
        var dimensions: [UInt64]
        var data: [UInt8]
    }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []
    var alignment: Int = 32

    /// The bytes of the file.
    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.appendLE(UInt32(0x4655_4747))
        out.appendLE(version)
        out.appendLE(UInt64(tensors.count))
        out.appendLE(UInt64(metadata.count))
        for (key, value) in metadata {
            out.appendString(key)
            out.appendLE(Self.typeTag(value))
            Self.append(value, to: &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset += (tensor.data.count + alignment - 1) / alignment * alignment
        }
        for (tensor, offset) in zip(tensors, offsets) {
            out.appendString(tensor.name)
            out.appendLE(UInt32(tensor.dimensions.count))
            for d in tensor.dimensions { out.appendLE(d) }
            out.appendLE(tensor.type)
            out.appendLE(UInt64(offset))
        }
        while out.count % alignment != 0 { out.append(0) }
        for (tensor, offset) in zip(tensors, offsets) {
            precondition(out.count % alignment == 0)
            _ = offset
            out.append(contentsOf: tensor.data)
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file to a fresh temporary path and returns it.
    func write(named name: String = "test") throws -> String {
        try TemporaryFile.write(bytes(), named: name)
    }

    static func typeTag(_ value: GGUFValue) -> UInt32 {
        switch value {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    static func append(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(UInt8(bitPattern: v))
        case .uint16(let v): out.appendLE(v)
        case .int16(let v): out.appendLE(v)
        case .uint32(let v): out.appendLE(v)
        case .int32(let v): out.appendLE(v)
        case .float32(let v): out.appendLE(v.bitPattern)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): out.appendString(s)
        case .uint64(let v): out.appendLE(v)
        case .int64(let v): out.appendLE(v)
        case .float64(let v): out.appendLE(v.bitPattern)
        case .array(let elements):
            out.appendLE(elements.first.map(typeTag) ?? 0)
            out.appendLE(UInt64(elements.count))
            for element in elements { append(element, to: &out) }
        }
    }
}

extension [UInt8] {
    mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendString(_ s: String) {
        appendLE(UInt64(s.utf8.count))
        append(contentsOf: s.utf8)
    }

    mutating func appendHalf(_ value: Float) {
        appendLE(Float16(value).bitPattern)
    }
}

/// Temporary files that live in one directory per test process. Directories left by earlier
/// test processes that have exited are removed when the first file is written.
enum TemporaryFile {
    static let prefix = "parley-engine-tests-"

    static let directory: String = {
        let root = NSTemporaryDirectory()
        let fileManager = FileManager.default
        for name in (try? fileManager.contentsOfDirectory(atPath: root)) ?? [] where name.hasPrefix(prefix) {
            if let pid = Int32(name.dropFirst(prefix.count)), kill(pid, 0) != 0, errno == ESRCH {
                try? fileManager.removeItem(atPath: root + "/" + name)
            }
        }
        let path = root + "/" + prefix + "\(ProcessInfo.processInfo.processIdentifier)"
        try? fileManager.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func write(_ bytes: [UInt8], named name: String) throws -> String {
        let path = directory + "/\(name)-\(UUID().uuidString).gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

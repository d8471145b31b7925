#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A GGUF model file, memory-mapped read-only.
///
/// Opening parses and validates the header, all metadata and the tensor table; every tensor's
/// data range is checked to lie inside the file, so later reads cannot go out of bounds. Tensor
/// data is not copied: ``tensorData(_:)`` returns a view into the mapping, valid while the file
/// object lives. Versions 2 and 3 (little-endian) are accepted.
///
/// `@unchecked Sendable`: every stored property is immutable after `init`, and the mapping is
/// `PROT_READ` and unmapped only in `deinit`, so concurrent reads are safe.
public final class GGUFFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// The GGUF version (2 or 3).
    public let version: Int
    /// All metadata key/value pairs.
    public let metadata: [String: GGUFValue]
    /// The tensor table keyed by name.
    public let tensors: [String: GGUFTensorInfo]
    /// Tensor names in file order.
    public let tensorOrder: [String]
    /// The alignment of tensor data in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    /// Size of the file in bytes.
    public let fileSize: Int

    private let mapping: UnsafeRawBufferPointer

    /// The default alignment when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// The magic number, "GGUF" read as a little-endian UInt32.
    static let magic: UInt32 = 0x4655_4747

    /// Opens, maps and validates a GGUF file.
    /// - Throws: ``EngineError`` with `.fileUnreadable`, `.notGGUF`, `.truncatedFile`, `.corruptFile`
    ///   or `.unsupportedTensorType`.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw EngineError(.fileUnreadable, "cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw EngineError(.fileUnreadable, "cannot stat '\(path)': \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw EngineError(.fileUnreadable, "'\(path)' is not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= 24 else {
            throw EngineError(.truncatedFile, "'\(path)' is \(size) bytes, too short for a GGUF header")
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw EngineError(.fileUnreadable, "cannot map '\(path)': \(String(cString: strerror(errno)))")
        }
        let mapping = UnsafeRawBufferPointer(start: UnsafeRawPointer(base), count: size)
        do {
            let header = try Self.parse(mapping, path: path)
            self.version = header.version
            self.metadata = header.metadata
            self.tensors = header.tensors
            self.tensorOrder = header.tensorOrder
            self.alignment = header.alignment
            self.dataOffset = header.dataOffset
        } catch {
            munmap(base, size)
            throw error
        }
        self.mapping = mapping
        self.fileSize = size
    }

    deinit {
        if let base = mapping.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), mapping.count)
        }
    }

    /// The tensor entry named `name`.
    /// - Throws: `.tensorNotFound` if the file has no such tensor.
    public func tensorInfo(_ name: String) throws -> GGUFTensorInfo {
        guard let info = tensors[name] else {
            throw EngineError(.tensorNotFound, "no tensor named '\(name)' in '\(path)'")
        }
        return info
    }

    /// The raw bytes of a tensor, a view into the mapping (valid while this object lives).
    /// - Throws: `.tensorNotFound` if the file has no such tensor.
    public func tensorData(_ name: String) throws -> UnsafeRawBufferPointer {
        let info = try tensorInfo(name)
        return UnsafeRawBufferPointer(rebasing: mapping[info.offset..<info.offset + info.byteCount])
    }

    /// Row `row` of a tensor converted to `Float` (the slow reference path).
    /// - Throws: `.tensorNotFound` for an unknown tensor or a row index out of range.
    public func dequantizeRow(_ name: String, row: Int) throws -> [Float] {
        let info = try tensorInfo(name)
        guard row >= 0, row < info.rowCount else {
            throw EngineError(.tensorNotFound, "row \(row) is out of range for '\(name)' with \(info.rowCount) rows")
        }
        let data = try tensorData(name)
        let start = row * info.rowByteCount
        let rowBytes = UnsafeRawBufferPointer(rebasing: data[start..<start + info.rowByteCount])
        return try GGMLDequantizer.dequantize(rowBytes, type: info.type, count: info.rowLength)
    }
}

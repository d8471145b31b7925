import CZstd
import ParleyProtocol

/// Whole-buffer zstd compression through the system libzstd.
package enum Zstd {
    /// Compresses `input` at `level` (1…19; 3 is zstd's default: ~3× on chat text at ~180 MB/s).
    package static func compress(_ input: [UInt8], level: Int32) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_compress(destination.baseAddress, bound, source.baseAddress, source.count, level)
            }
        }
        if ZSTD_isError(written) != 0 {
            throw ConversationError(.storageFailure, "zstd compression failed: \(errorName(written))")
        }
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses one frame whose content must be exactly `expectedSize` bytes (at most
    /// `maxSize`); anything else is `corruptData`, never a crash or an unbounded allocation.
    package static func decompress(_ input: [UInt8], expectedSize: Int, maxSize: Int) throws -> [UInt8] {
        guard expectedSize >= 0, expectedSize <= maxSize else {
            throw ConversationError(.corruptData, "snapshot chunk declares \(expectedSize) bytes")
        }
        let declared = input.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard declared == UInt64(expectedSize) else {
            throw ConversationError(.corruptData, "snapshot chunk frame size does not match its header")
        }
        var output = [UInt8](repeating: 0, count: expectedSize)
        let written = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                ZSTD_decompress(destination.baseAddress, expectedSize, source.baseAddress, source.count)
            }
        }
        guard ZSTD_isError(written) == 0, written == expectedSize else {
            throw ConversationError(.corruptData, "zstd decompression failed: \(errorName(written))")
        }
        return output
    }

    private static func errorName(_ code: Int) -> String {
        String(cString: ZSTD_getErrorName(code))
    }
}

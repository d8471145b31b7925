public import NIOCore

/// Cuts a byte stream into frames. Pure: feed it bytes, pull frames out.
///
/// The length prefix is checked against `maxFrameSize` *before* any payload is buffered, so a
/// hostile length costs nothing; an oversized, empty or unknown-kind frame is a thrown
/// `ClusterError` after which the connection must be closed.
public struct FrameParser: Sendable {
    /// Largest accepted frame (kind byte plus payload), in bytes.
    public var maxFrameSize: Int
    private var buffer: ByteBuffer?

    public init(maxFrameSize: Int) {
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes received and not yet part of a returned frame.
    public var bufferedBytes: Int { buffer?.readableBytes ?? 0 }

    /// Appends received bytes.
    public mutating func append(_ bytes: ByteBuffer) {
        if buffer == nil || buffer!.readableBytes == 0 {
            buffer = bytes
        } else {
            var incoming = bytes
            buffer!.writeBuffer(&incoming)
        }
    }

    /// The next complete frame, `nil` when more bytes are needed.
    public mutating func next() throws -> Frame? {
        guard var buf = buffer, buf.readableBytes >= 4 else { return nil }
        let length = Int(buf.getInteger(at: buf.readerIndex, as: UInt32.self)!)
        guard length >= 1 else { throw ClusterError(.malformed, "empty frame") }
        guard length <= maxFrameSize else {
            throw ClusterError(.tooLarge, "frame of \(length) bytes exceeds the limit of \(maxFrameSize)")
        }
        guard buf.readableBytes >= 4 + length else { return nil }
        buf.moveReaderIndex(forwardBy: 4)
        let kindByte = buf.readInteger(as: UInt8.self)!
        let payload = buf.readSlice(length: length - 1)!
        buffer = buf
        guard let kind = FrameKind(rawValue: kindByte) else {
            throw ClusterError(.malformed, "unknown frame kind \(kindByte)")
        }
        return Frame(kind: kind, payload: payload)
    }

    /// Releases consumed bytes so the buffer does not grow without bound.
    public mutating func compact() {
        if let buf = buffer, buf.readableBytes == 0 { buffer = nil } else { buffer?.discardReadBytes() }
    }
}

public import NIOCore

/// The wire format's constants. A frame is `[u32 big-endian length][u8 kind][payload]`, where the
/// length counts the kind byte and the payload. The format's version is `protocolVersion`,
/// independent of Parley's release version, and both sides must speak the same one.
public enum WireFormat {
    /// First bytes of every handshake hello: "PRLY".
    public static let magic: UInt32 = 0x5052_4C59
    /// Bumped on any incompatible change to frames, envelopes or the handshake.
    public static let protocolVersion: UInt16 = 1
    /// Largest frame accepted before the handshake completes, in bytes.
    public static let maxHandshakeFrameSize = 4 * 1024
}

/// The kind byte of a frame.
public enum FrameKind: UInt8, Sendable {
    case hello = 1
    case challenge = 2
    case authenticate = 3
    case accepted = 4
    case rejected = 5

    case call = 10
    case reply = 11
    case callCancel = 12

    case streamDemand = 20
    case streamElements = 21
    case streamEnd = 22
    case streamCancel = 23

    /// One-way runtime messages (membership, receptionist); the first payload byte names the channel.
    case system = 30
}

/// One decoded frame: its kind and payload (without the length and kind bytes).
public struct Frame: Sendable {
    public var kind: FrameKind
    public var payload: ByteBuffer

    public init(kind: FrameKind, payload: ByteBuffer) {
        self.kind = kind
        self.payload = payload
    }
}

extension ByteBuffer {
    /// Starts a frame: reserves the length prefix and writes the kind. Finish with `endFrame(at:)`.
    @inlinable
    mutating func beginFrame(_ kind: FrameKind) -> Int {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(kind.rawValue)
        return start
    }

    /// Patches the length prefix of the frame begun at `start`.
    @inlinable
    mutating func endFrame(at start: Int) {
        setInteger(UInt32(writerIndex - start - 4), at: start)
    }

    mutating func writeVarString(_ string: String) {
        writeLEB(string.utf8.count)
        writeString(string)
    }

    mutating func writeVarBytes(_ bytes: [UInt8]) {
        writeLEB(bytes.count)
        writeBytes(bytes)
    }

    mutating func writeLEB(_ value: Int) {
        var v = UInt64(value)
        while v >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        writeInteger(UInt8(v))
    }

    mutating func readLEB() throws -> Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw ClusterError(.malformed, "truncated length") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { break }
            shift += 7
            guard shift < 35 else { throw ClusterError(.malformed, "length prefix too long") }
        }
        guard result <= UInt64(readableBytes) else {
            throw ClusterError(.malformed, "length \(result) exceeds the \(readableBytes) bytes left in the frame")
        }
        return Int(result)
    }

    mutating func readVarString() throws -> String {
        let count = try readLEB()
        guard let view = readSlice(length: count) else { throw ClusterError(.malformed, "truncated string") }
        guard let string = view.withUnsafeReadableBytes({ String(validating: $0.bindMemory(to: UInt8.self), as: UTF8.self) })
        else { throw ClusterError(.malformed, "string is not valid UTF-8") }
        return string
    }

    mutating func readVarBytes() throws -> [UInt8] {
        let count = try readLEB()
        guard let bytes = readBytes(length: count) else { throw ClusterError(.malformed, "truncated bytes") }
        return bytes
    }

    mutating func readChecked<I: FixedWidthInteger>(_: I.Type) throws -> I {
        guard let value = readInteger(as: I.self) else { throw ClusterError(.malformed, "truncated \(I.self)") }
        return value
    }
}

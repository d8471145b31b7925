import NIOCore

/// A remote call as it crosses the wire.
struct CallEnvelope: Sendable {
    var callID: UInt64
    /// Time the callee has left, in milliseconds; 0 means no deadline.
    var budgetMillis: UInt32
    var recipientPath: String
    var target: String
    var genericSubstitutions: [String]
    /// Trace context and request id (W3C `traceparent`, `tracestate`, Parley's `request-id`).
    var headers: [(String, String)]
    var arguments: [[UInt8]]

    func writeFrame(to buffer: inout ByteBuffer) {
        let start = buffer.beginFrame(.call)
        buffer.writeInteger(callID)
        buffer.writeInteger(budgetMillis)
        buffer.writeVarString(recipientPath)
        buffer.writeVarString(target)
        buffer.writeLEB(genericSubstitutions.count)
        for name in genericSubstitutions { buffer.writeVarString(name) }
        buffer.writeLEB(headers.count)
        for (key, value) in headers {
            buffer.writeVarString(key)
            buffer.writeVarString(value)
        }
        buffer.writeLEB(arguments.count)
        for argument in arguments { buffer.writeVarBytes(argument) }
        buffer.endFrame(at: start)
    }

    init(
        callID: UInt64, budgetMillis: UInt32, recipientPath: String, target: String,
        genericSubstitutions: [String], headers: [(String, String)], arguments: [[UInt8]]
    ) {
        self.callID = callID
        self.budgetMillis = budgetMillis
        self.recipientPath = recipientPath
        self.target = target
        self.genericSubstitutions = genericSubstitutions
        self.headers = headers
        self.arguments = arguments
    }

    init(payload: ByteBuffer) throws {
        var payload = payload
        callID = try payload.readChecked(UInt64.self)
        budgetMillis = try payload.readChecked(UInt32.self)
        recipientPath = try payload.readVarString()
        target = try payload.readVarString()
        genericSubstitutions = try (0..<payload.readLEB()).map { _ in try payload.readVarString() }
        headers = try (0..<payload.readLEB()).map { _ in (try payload.readVarString(), try payload.readVarString()) }
        arguments = try (0..<payload.readLEB()).map { _ in try payload.readVarBytes() }
        guard payload.readableBytes == 0 else { throw ClusterError(.malformed, "trailing bytes in call") }
    }
}

/// The outcome of a call as it crosses the wire.
enum ReplyEnvelope: Sendable {
    case value(callID: UInt64, bytes: [UInt8])
    case void(callID: UInt64)
    case error(callID: UInt64, RemoteErrorPayload)

    var callID: UInt64 {
        switch self {
        case .value(let id, _), .void(let id), .error(let id, _): id
        }
    }

    func writeFrame(to buffer: inout ByteBuffer) {
        let start = buffer.beginFrame(.reply)
        buffer.writeInteger(callID)
        switch self {
        case .value(_, let bytes):
            buffer.writeInteger(UInt8(0))
            buffer.writeVarBytes(bytes)
        case .void:
            buffer.writeInteger(UInt8(1))
        case .error(_, let error):
            buffer.writeInteger(UInt8(2))
            error.write(to: &buffer)
        }
        buffer.endFrame(at: start)
    }

    init(payload: ByteBuffer) throws {
        var payload = payload
        let callID = try payload.readChecked(UInt64.self)
        switch try payload.readChecked(UInt8.self) {
        case 0: self = .value(callID: callID, bytes: try payload.readVarBytes())
        case 1: self = .void(callID: callID)
        case 2: self = .error(callID: callID, try RemoteErrorPayload(from: &payload))
        case let other: throw ClusterError(.malformed, "unknown reply status \(other)")
        }
    }
}

/// An error as it crosses the wire: code, message and the thrower's error type name.
struct RemoteErrorPayload: Sendable, Equatable {
    var code: String
    var message: String
    var typeName: String

    init(code: String, message: String, typeName: String) {
        self.code = code
        self.message = message
        self.typeName = typeName
    }

    /// Maps any error to its wire form without `String(describing:)` of arbitrary types.
    init(_ error: any Error) {
        switch error {
        case let error as ClusterError:
            self.init(code: error.code.rawValue, message: error.message, typeName: error.remoteType ?? "ClusterError")
        case let error as any WireError:
            self.init(code: error.wireCode, message: error.wireMessage, typeName: String(reflecting: type(of: error)))
        case is CancellationError:
            self.init(code: ClusterError.Code.cancelled.rawValue, message: "cancelled", typeName: "CancellationError")
        default:
            self.init(
                code: ClusterError.Code.remote.rawValue, message: "the remote actor threw \(type(of: error))",
                typeName: String(reflecting: type(of: error)))
        }
    }

    var clusterError: ClusterError {
        ClusterError(ClusterError.Code(rawValue: code), message, remoteType: typeName)
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeVarString(code)
        buffer.writeVarString(message)
        buffer.writeVarString(typeName)
    }

    init(from buffer: inout ByteBuffer) throws {
        code = try buffer.readVarString()
        message = try buffer.readVarString()
        typeName = try buffer.readVarString()
    }
}

/// Frames of the remote stream protocol (see `RemoteStream`).
enum StreamFrame: Sendable {
    /// Consumer → producer: `credit` more elements may be sent. The first demand starts the producer.
    case demand(streamID: UInt64, credit: UInt32)
    /// Producer → consumer: a batch of encoded elements.
    case elements(streamID: UInt64, [[UInt8]])
    /// Producer → consumer: the stream ended, with an error when it failed.
    case end(streamID: UInt64, RemoteErrorPayload?)
    /// Consumer → producer: stop producing.
    case cancel(streamID: UInt64)

    func writeFrame(to buffer: inout ByteBuffer) {
        switch self {
        case .demand(let id, let credit):
            let start = buffer.beginFrame(.streamDemand)
            buffer.writeInteger(id)
            buffer.writeInteger(credit)
            buffer.endFrame(at: start)
        case .elements(let id, let elements):
            let start = buffer.beginFrame(.streamElements)
            buffer.writeInteger(id)
            buffer.writeLEB(elements.count)
            for element in elements { buffer.writeVarBytes(element) }
            buffer.endFrame(at: start)
        case .end(let id, let error):
            let start = buffer.beginFrame(.streamEnd)
            buffer.writeInteger(id)
            if let error {
                buffer.writeInteger(UInt8(1))
                error.write(to: &buffer)
            } else {
                buffer.writeInteger(UInt8(0))
            }
            buffer.endFrame(at: start)
        case .cancel(let id):
            let start = buffer.beginFrame(.streamCancel)
            buffer.writeInteger(id)
            buffer.endFrame(at: start)
        }
    }

    init(frame: Frame) throws {
        var payload = frame.payload
        let id = try payload.readChecked(UInt64.self)
        switch frame.kind {
        case .streamDemand: self = .demand(streamID: id, credit: try payload.readChecked(UInt32.self))
        case .streamElements:
            let count = try payload.readLEB()
            var elements: [[UInt8]] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try payload.readVarBytes()) }
            self = .elements(streamID: id, elements)
        case .streamEnd:
            self = .end(streamID: id, try payload.readChecked(UInt8.self) == 1 ? try RemoteErrorPayload(from: &payload) : nil)
        case .streamCancel: self = .cancel(streamID: id)
        default: throw ClusterError(.malformed, "not a stream frame: \(frame.kind)")
        }
        guard payload.readableBytes == 0 else { throw ClusterError(.malformed, "trailing bytes in stream frame") }
    }
}

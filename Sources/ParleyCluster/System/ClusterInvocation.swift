public import Distributed
import Synchronization

/// Records a call's arguments, each encoded with `BinaryEncoder`.
public struct ClusterInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = any Codable

    var arguments: [[UInt8]] = []
    var genericSubstitutions: [String] = []

    init() {}

    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        guard let name = _mangledTypeName(type) else {
            throw ClusterError(.encodingFailed, "type \(type) has no mangled name")
        }
        genericSubstitutions.append(name)
    }

    public mutating func recordArgument<Value: Codable>(_ argument: RemoteCallArgument<Value>) throws {
        do {
            arguments.append(try BinaryEncoder().encode(argument.value))
        } catch {
            throw ClusterError(.encodingFailed, "cannot encode argument \(argument.label ?? "_") of type \(Value.self)")
        }
    }

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}

    public mutating func recordReturnType<R: Codable>(_ type: R.Type) throws {}

    public mutating func doneRecording() throws {}
}

/// Decodes a received call's arguments. Generic substitutions are accepted only for types the
/// application allowed (`ClusterSystem.allowGenericSubstitution`): the wire never names arbitrary types.
public struct ClusterInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = any Codable

    private let system: ClusterSystem
    private let arguments: [[UInt8]]
    private let substitutions: [String]
    private var next = 0
    /// When set, the types of decoded arguments are noted here (see `TargetSignature`).
    var recordedArgumentTypes: [any Any.Type]?

    init(system: ClusterSystem, envelope: CallEnvelope) throws {
        self.system = system
        self.arguments = envelope.arguments
        self.substitutions = envelope.genericSubstitutions
    }

    public mutating func decodeGenericSubstitutions() throws -> [any Any.Type] {
        try substitutions.map { name in
            guard let type = system.allowedSubstitution(named: name) else {
                throw ClusterError(.targetNotFound, "generic substitution \(name) is not allowed")
            }
            return type
        }
    }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        guard next < arguments.count else {
            throw ClusterError(.malformed, "the call has \(arguments.count) arguments, the target wants more")
        }
        defer { next += 1 }
        recordedArgumentTypes?.append(Argument.self)
        do {
            return try system.decodeValue(Argument.self, from: arguments[next])
        } catch let error as ClusterError {
            throw ClusterError(.malformed, "argument \(next + 1) is not a \(Argument.self): \(error.message)")
        }
    }

    public mutating func decodeErrorType() throws -> (any Any.Type)? { nil }

    public mutating func decodeReturnType() throws -> (any Any.Type)? { nil }
}

/// Captures the outcome of a locally executed call as a reply envelope.
public final class ClusterResultHandler: DistributedTargetInvocationResultHandler, Sendable {
    public typealias SerializationRequirement = any Codable

    private let callID: UInt64
    private let outcome = Mutex<ReplyEnvelope?>(nil)
    private let returned = Mutex<(any Any.Type)?>(nil)

    init(callID: UInt64) {
        self.callID = callID
    }

    var reply: ReplyEnvelope? { outcome.withLock { $0 } }
    /// The type the target returned (`Void.self` for nothing); nil when it threw or never ran.
    var returnedType: (any Any.Type)? { returned.withLock { $0 } }

    func complete(_ reply: ReplyEnvelope) {
        outcome.withLock { if $0 == nil { $0 = reply } }
    }

    public func onReturn<Success: Codable>(value: Success) async throws {
        returned.withLock { $0 = Success.self }
        do {
            complete(.value(callID: callID, bytes: try BinaryEncoder().encode(value)))
        } catch {
            complete(.error(callID: callID, RemoteErrorPayload(ClusterError(.encodingFailed, "cannot encode a \(Success.self) result"))))
        }
    }

    public func onReturnVoid() async throws {
        returned.withLock { $0 = Void.self }
        complete(.void(callID: callID))
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        complete(.error(callID: callID, RemoteErrorPayload(error)))
    }
}

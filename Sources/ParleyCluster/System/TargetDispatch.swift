import Distributed
import Synchronization

/// The parameter and return types of one distributed target (and, for a generic target, one set
/// of generic arguments), learned from its first successful call, so later calls skip the
/// runtime's demangling of the target's name.
///
/// `executeDistributedTarget` demangles the mangled target name three times on every call (the
/// parameter count, the parameter types, the return type): about 14 % of a callee's CPU on small
/// calls. The types never change for a name and its generic arguments, so the first call runs the
/// public path while the decoder and result handler note the types it asks for; later calls hand
/// the noted types straight to the runtime's entry point.
final class TargetSignature: @unchecked Sendable {
    /// The type of the actor the types were learned on; calls on another type take the public path.
    let actorType: ObjectIdentifier
    /// The target's mangled name, NUL-terminated, as the runtime entry point takes it.
    let name: UnsafeMutableBufferPointer<UInt8>
    /// The parameter types in order, as the runtime entry point takes them.
    let argumentTypes: UnsafeMutableBufferPointer<any Any.Type>
    /// The declared return type; `Void.self` for a target that returns nothing.
    let returnType: any Any.Type
    /// `returnType` as a codable type (nil for `Void`).
    let codableReturnType: (any Codable.Type)?
    /// A generic target's generic arguments, and the witness tables they satisfy its requirements with.
    let substitutions: UnsafeMutableBufferPointer<any Any.Type>?
    let witnessTables: UnsafeRawPointer?
    let witnessTableCount: Int

    /// Nil when the types cannot be used (a return type that is not codable, generic arguments
    /// that do not match the target's generic environment).
    init?(
        target: String, actorType: ObjectIdentifier, substitutions: [any Any.Type], argumentTypes: [any Any.Type],
        returnType: any Any.Type
    ) {
        let codable = returnType as? any Codable.Type
        guard returnType == Void.self || codable != nil else { return nil }
        let utf8 = Array(target.utf8)
        self.actorType = actorType
        if substitutions.isEmpty {
            self.substitutions = nil
            self.witnessTables = nil
            self.witnessTableCount = 0
        } else {
            guard let environment = utf8.withUnsafeBufferPointer({ _getGenericEnvironmentOfDistributedTarget($0.baseAddress!, UInt($0.count)) })
            else { return nil }
            let buffer = UnsafeMutableBufferPointer<any Any.Type>.allocate(capacity: substitutions.count)
            _ = buffer.initialize(from: substitutions)
            let (tables, count) = _getWitnessTablesFor(environment: environment, genericArguments: UnsafeRawPointer(buffer.baseAddress!))
            guard count >= 0 else {
                buffer.deallocate()
                return nil
            }
            self.substitutions = buffer
            self.witnessTables = tables
            self.witnessTableCount = count
        }
        name = .allocate(capacity: utf8.count + 1)
        _ = name.initialize(from: utf8 + [0])
        // One slot even for no parameters, so the runtime always gets a valid address.
        let types = UnsafeMutableBufferPointer<any Any.Type>.allocate(capacity: max(1, argumentTypes.count))
        _ = types.initialize(from: argumentTypes.isEmpty ? [Void.self] : argumentTypes)
        self.argumentTypes = types
        self.returnType = returnType
        self.codableReturnType = codable
    }

    deinit {
        name.deallocate()
        argumentTypes.deallocate()
        substitutions?.deallocate()
        witnessTables?.deallocate()
    }
}

/// Identifies a learned signature: the target and the names of its generic arguments.
struct TargetKey: Hashable {
    let target: String
    let substitutions: [String]
}

/// What the public path observed while running a call: the types it decoded and returned.
struct SignatureRecording {
    var argumentTypes: [any Any.Type] = []
    var returnType: (any Any.Type)?
}

/// Learned signatures; filled only from successful calls, so its size is bounded by the distinct
/// targets (and allowed generic arguments) this node's actors serve.
struct TargetSignatures: ~Copyable {
    private let table = Mutex<[TargetKey: TargetSignature]>([:])

    func signature(for key: TargetKey) -> TargetSignature? {
        table.withLock { $0[key] }
    }

    func remember(_ signature: TargetSignature, for key: TargetKey) {
        table.withLock { $0[key] = signature }
    }

    /// The targets learned so far (for tests and diagnostics).
    var targets: [String] { table.withLock { $0.keys.map(\.target) } }
}

/// The Distributed runtime's entry point that `executeDistributedTarget` itself calls once it
/// has demangled the target's types; declared here with raw pointers in place of the standard
/// library's builtin pointer type (same machine representation).
@_silgen_name("swift_distributed_execute_target")
private func runtimeExecuteDistributedTarget<D: DistributedTargetInvocationDecoder>(
    on actor: AnyObject,
    _ targetName: UnsafePointer<UInt8>, _ targetNameLength: UInt,
    argumentDecoder: inout D,
    argumentTypes: UnsafeRawPointer,
    resultBuffer: UnsafeRawPointer,
    substitutions: UnsafeRawPointer?,
    witnessTables: UnsafeRawPointer?,
    numWitnessTables: UInt
) async throws

extension ClusterSystem {
    /// Runs `target` on `actor` with the types of a signature learned before; the outcome goes
    /// to `handler` exactly as `executeDistributedTarget` would deliver it.
    func executeKnownTarget(
        _ signature: TargetSignature, on actor: any DistributedActor, decoder: inout ClusterInvocationDecoder,
        handler: ClusterResultHandler
    ) async throws {
        let result = allocateResult(signature.returnType)
        do {
            try await runtimeExecuteDistributedTarget(
                on: actor as AnyObject,
                UnsafePointer(signature.name.baseAddress!), UInt(signature.name.count - 1),
                argumentDecoder: &decoder,
                argumentTypes: UnsafeRawPointer(signature.argumentTypes.baseAddress!),
                resultBuffer: UnsafeRawPointer(result),
                substitutions: signature.substitutions.map { UnsafeRawPointer($0.baseAddress!) },
                witnessTables: signature.witnessTables, numWitnessTables: UInt(signature.witnessTableCount))
        } catch {
            result.deallocate()  // Never initialized: the target threw.
            try await handler.onThrow(error: error)
            return
        }
        if let codable = signature.codableReturnType {
            try await deliver(codable, from: result, to: handler)
        } else {
            result.deallocate()
            try await handler.onReturnVoid()
        }
    }

    private func allocateResult(_ type: any Any.Type) -> UnsafeMutableRawPointer {
        func allocate<R>(_: R.Type) -> UnsafeMutableRawPointer {
            UnsafeMutableRawPointer(UnsafeMutablePointer<R>.allocate(capacity: 1))
        }
        return _openExistential(type, do: allocate)
    }

    private func deliver<R: Codable>(_: R.Type, from result: UnsafeMutableRawPointer, to handler: ClusterResultHandler)
        async throws
    {
        let typed = result.assumingMemoryBound(to: R.self)
        let value = typed.move()
        typed.deallocate()
        try await handler.onReturn(value: value)
    }
}

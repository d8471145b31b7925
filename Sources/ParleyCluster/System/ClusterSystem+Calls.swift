public import Distributed
import CoreMetrics
import Logging
import Instrumentation
import NIOCore
public import ServiceContextModule
import Synchronization

/// Calls in flight: the ones this node made (waiting for replies) and the ones it is running.
struct CallTable {
    struct Pending {
        let continuation: CheckedContinuation<ReplyEnvelope, any Error>
        let deadline: ContinuousClock.Instant
        let connection: PeerConnection
    }

    struct RunningKey: Hashable {
        let connection: UInt64
        let callID: UInt64
    }

    var pending: [UInt64: Pending] = [:]
    var nextCallID: UInt64 = 1
    var running: [RunningKey: Task<Void, Never>] = [:]
    /// The sweeper, while it waits for something to sweep (no pending call, no unclaimed stream).
    var parkedSweeper: CheckedContinuation<Void, Never>?
    /// Set by a waker that found the sweeper not parked, so it does not park on stale facts.
    var sweeperWakeRequested = false

    /// Takes the parked sweeper to resume it (outside the lock), or notes the wake-up for later.
    mutating func wakeSweeper() -> CheckedContinuation<Void, Never>? {
        guard let parked = parkedSweeper else {
            sweeperWakeRequested = true
            return nil
        }
        parkedSweeper = nil
        return parked
    }
}

extension ClusterSystem {
    /// Deadline for calls made inside `withCallTimeout`.
    @TaskLocal static var callTimeout: Duration?
    /// Deadline inherited from the incoming call this task serves; outgoing calls never outlive it.
    @TaskLocal static var inheritedDeadline: ContinuousClock.Instant?

    /// Runs `body` with `timeout` as the deadline of every remote call it makes.
    public static func withCallTimeout<T>(_ timeout: Duration, _ body: () async throws -> T) async rethrows -> T {
        try await $callTimeout.withValue(timeout) { try await body() }
    }

    /// Runs `body` free of the deadline of the incoming call this task serves and of any
    /// `withCallTimeout` around it; its calls get the default timeout or their own. A task that a
    /// call handler starts inherits both, so work that runs on after the call has answered (a relay,
    /// a recorder, a stream's source) would find every call it makes refused once the caller's
    /// deadline had passed.
    public static func withoutCallDeadline<T>(_ body: () async throws -> T) async rethrows -> T {
        // Usually there is neither: then there is nothing to unbind.
        if inheritedDeadline == nil && callTimeout == nil { return try await body() }
        return try await $inheritedDeadline.withValue(nil) {
            try await $callTimeout.withValue(nil) { try await body() }
        }
    }

    public func makeInvocationEncoder() -> ClusterInvocationEncoder {
        ClusterInvocationEncoder()
    }

    public func remoteCall<Act, Err, Res>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder,
        throwing: Err.Type, returning: Res.Type
    ) async throws -> Res where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error, Res: Codable {
        switch try await performCall(to: actor.id, target: target.identifier, invocation: invocation) {
        case .value(_, let bytes):
            return try decodeValue(Res.self, from: bytes)
        case .void:
            throw ClusterError(.malformed, "expected a \(Res.self) but the callee returned nothing")
        case .error(_, let error):
            throw error.clusterError
        }
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder, throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error {
        switch try await performCall(to: actor.id, target: target.identifier, invocation: invocation) {
        case .value, .void:
            return
        case .error(_, let error):
            throw error.clusterError
        }
    }

    /// Decodes a value with this system in `userInfo` (so actor references and stream handles resolve).
    func decodeValue<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var decoder = BinaryDecoder()
        decoder.userInfo[.actorSystemKey] = self
        return try decoder.decode(T.self, from: bytes)
    }

    private func effectiveDeadline() -> ContinuousClock.Instant {
        let own = ContinuousClock.now.advanced(by: Self.callTimeout ?? settings.defaultCallTimeout)
        guard let inherited = Self.inheritedDeadline else { return own }
        return min(own, inherited)
    }

    private func performCall(to id: ClusterActorID, target: String, invocation: ClusterInvocationEncoder) async throws
        -> ReplyEnvelope
    {
        try Task.checkCancellation()
        let deadline = effectiveDeadline()
        let headers = Self.outgoingHeaders()
        if id.node == node {
            return await executeInMemory(path: id.path, target: target, invocation: invocation, headers: headers, deadline: deadline)
        }
        let start = ContinuousClock.now
        let connection = try await connection(to: id.node)
        let budget = start.duration(to: deadline)
        guard budget > .zero else { throw ClusterError(.timedOut, "deadline passed before the call was sent") }
        let callID = calls.withLock { table in
            defer { table.nextCallID += 1 }
            return table.nextCallID
        }
        let reply: ReplyEnvelope = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let sweeper = calls.withLock { table in
                    table.pending[callID] = CallTable.Pending(continuation: continuation, deadline: deadline, connection: connection)
                    return table.parkedSweeper == nil ? nil : table.wakeSweeper()
                }
                sweeper?.resume()
                // A shutdown fails the calls it finds pending and stops the sweeper that enforces
                // deadlines: a call registered after that would wait forever.
                if isShutDown {
                    failCall(callID, ClusterError.systemShutDown(), notifyCallee: false)
                    return
                }
                if Task.isCancelled {
                    failCall(callID, ClusterError(.cancelled, "the caller was cancelled"), notifyCallee: false)
                    return
                }
                let envelope = CallEnvelope(
                    callID: callID, budgetMillis: UInt32(clamping: budget.components.seconds * 1000 + budget.components.attoseconds / 1_000_000_000_000_000),
                    recipientPath: id.path, target: target, genericSubstitutions: invocation.genericSubstitutions,
                    headers: headers, arguments: invocation.arguments)
                do {
                    let size = invocation.arguments.reduce(64 + target.utf8.count) { $0 + $1.count + 5 }
                    try connection.send(capacity: size) { envelope.writeFrame(to: &$0) }
                    metrics.callsSent.increment()
                    metrics.bytesSent.increment(by: size)
                } catch {
                    failCall(callID, error, notifyCallee: false)
                }
            }
        } onCancel: {
            self.failCall(callID, ClusterError(.cancelled, "the caller was cancelled"), notifyCallee: true)
        }
        metrics.callLatency.recordNanoseconds(start.duration(to: .now).nanoseconds)
        return reply
    }

    // MARK: Failing and cancelling calls

    /// Fails one pending call; with `notifyCallee`, tells the callee to stop working on it.
    func failCall(_ callID: UInt64, _ error: any Error, notifyCallee: Bool) {
        guard let pending = calls.withLock({ $0.pending.removeValue(forKey: callID) }) else { return }
        metrics.callFailures.increment()
        if notifyCallee {
            try? pending.connection.send(capacity: 16) { buffer in
                let start = buffer.beginFrame(.callCancel)
                buffer.writeInteger(callID)
                buffer.endFrame(at: start)
            }
        }
        pending.continuation.resume(throwing: error)
    }

    func failCalls(onConnection connectionID: UInt64, _ error: ClusterError) {
        let ids = calls.withLock { table in table.pending.filter { $0.value.connection.id == connectionID }.map(\.key) }
        for id in ids { failCall(id, error, notifyCallee: false) }
    }

    func failCalls(toNode uid: UInt64, _ error: ClusterError) {
        let ids = calls.withLock { table in table.pending.filter { $0.value.connection.peer.uid == uid }.map(\.key) }
        for id in ids { failCall(id, error, notifyCallee: false) }
    }

    func failAllCalls(_ error: ClusterError) {
        let ids = calls.withLock { Array($0.pending.keys) }
        for id in ids { failCall(id, error, notifyCallee: false) }
    }

    /// Fails every call whose deadline passed. Called by the sweeper.
    func expireCalls(now: ContinuousClock.Instant) {
        let expired = calls.withLock { table in table.pending.filter { $0.value.deadline <= now }.map(\.key) }
        for id in expired {
            failCall(id, ClusterError(.timedOut, "no reply before the deadline"), notifyCallee: true)
        }
    }

    func handleReply(_ reply: ReplyEnvelope) {
        guard let pending = calls.withLock({ $0.pending.removeValue(forKey: reply.callID) }) else {
            return  // Late reply after a timeout or cancellation.
        }
        pending.continuation.resume(returning: reply)
    }

    // MARK: Running incoming calls

    func handleCall(_ envelope: CallEnvelope, on connection: PeerConnection) {
        metrics.callsReceived.increment()
        let key = CallTable.RunningKey(connection: connection.id, callID: envelope.callID)
        let deadline: ContinuousClock.Instant? =
            envelope.budgetMillis == 0 ? nil : ContinuousClock.now.advanced(by: .milliseconds(Int(envelope.budgetMillis)))
        let executor = settings.runsCallsOnEventLoop ? connection.taskExecutor : nil
        calls.withLock { table in
            table.running[key] = Task(executorPreference: executor) {
                let reply = await self.execute(envelope, deadline: deadline)
                self.calls.withLock { _ = $0.running.removeValue(forKey: key) }
                try? connection.send(capacity: 32) { reply.writeFrame(to: &$0) }
            }
        }
    }

    func cancelServerCall(connection: UInt64, callID: UInt64) {
        calls.withLock { $0.running[CallTable.RunningKey(connection: connection, callID: callID)] }?.cancel()
    }

    func cancelServerCalls(onConnection connectionID: UInt64) {
        let tasks = calls.withLock { table in table.running.filter { $0.key.connection == connectionID }.map(\.value) }
        for task in tasks { task.cancel() }
    }

    /// Runs a call against a local actor and returns its reply; never throws.
    func execute(_ envelope: CallEnvelope, deadline: ContinuousClock.Instant?) async -> ReplyEnvelope {
        guard let actor = localActor(path: envelope.recipientPath) else {
            return .error(
                callID: envelope.callID,
                RemoteErrorPayload(ClusterError(.actorNotFound, "no actor at \(envelope.recipientPath) on \(node.name)")))
        }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(envelope.headers, into: &context, using: HeaderExtractor())
        if let requestID = envelope.headers.first(where: { $0.0 == HeaderNames.requestID })?.1 {
            context.requestID = requestID
        }
        let handler = ClusterResultHandler(callID: envelope.callID)
        do {
            var decoder = try ClusterInvocationDecoder(system: self, envelope: envelope)
            let key = TargetKey(target: envelope.target, substitutions: envelope.genericSubstitutions)
            let actorType = ObjectIdentifier(type(of: actor))
            let known = settings.learnsTargetSignatures
                ? targetSignatures.signature(for: key).flatMap { $0.actorType == actorType ? $0 : nil } : nil
            if known == nil {
                try Self.checkTarget(envelope, isOf: actor)
                if settings.learnsTargetSignatures { decoder.recordedArgumentTypes = [] }
            }
            try await ServiceContext.withValue(context) {
                try await Self.$inheritedDeadline.withValue(deadline) {
                    if let known {
                        try await executeKnownTarget(known, on: actor, decoder: &decoder, handler: handler)
                    } else {
                        try await executeDistributedTarget(
                            on: actor, target: RemoteCallTarget(envelope.target), invocationDecoder: &decoder, handler: handler)
                    }
                }
            }
            if known == nil { learnSignature(key, actorType: actorType, decoder: decoder, handler: handler) }
        } catch let error as ExecuteDistributedTargetError {
            handler.complete(
                .error(
                    callID: envelope.callID,
                    RemoteErrorPayload(ClusterError(.targetNotFound, "cannot invoke \(envelope.target): \(error.message)"))))
        } catch {
            handler.complete(.error(callID: envelope.callID, RemoteErrorPayload(error)))
        }
        return handler.reply ?? .error(callID: envelope.callID, RemoteErrorPayload(ClusterError(.remote, "the callee produced no result")))
    }

    /// Remembers the types a successful call of `key` used (see `TargetSignature`).
    /// Refuses a non-generic target that is not a method of the actor's type (its mangled name
    /// names the type that declares it): the runtime would call it on the wrong kind of object,
    /// as a peer running another version with another actor at the same path could ask. Generic
    /// targets (`@Resolvable` protocol stubs) name the protocol instead and are not checked.
    static func checkTarget(_ envelope: CallEnvelope, isOf actor: any DistributedActor) throws {
        guard envelope.genericSubstitutions.isEmpty, let typeName = _mangledTypeName(type(of: actor)) else { return }
        guard envelope.target.contains(typeName) else {
            throw ClusterError(.targetNotFound, "\(envelope.target) is not a distributed method of \(type(of: actor))")
        }
    }

    private func learnSignature(
        _ key: TargetKey, actorType: ObjectIdentifier, decoder: ClusterInvocationDecoder, handler: ClusterResultHandler
    ) {
        guard let returnType = handler.returnedType, let argumentTypes = decoder.recordedArgumentTypes else { return }
        var substitutions: [any Any.Type] = []
        for name in key.substitutions {
            guard let type = allowedSubstitution(named: name) else { return }
            substitutions.append(type)
        }
        guard let signature = TargetSignature(
            target: key.target, actorType: actorType, substitutions: substitutions, argumentTypes: argumentTypes,
            returnType: returnType)
        else { return }
        targetSignatures.remember(signature, for: key)
    }

    /// A call to a local actor through a proxy (a `@Resolvable` stub): the invocation is run in
    /// memory through the same decode path as a remote one.
    private func executeInMemory(
        path: String, target: String, invocation: ClusterInvocationEncoder, headers: [(String, String)],
        deadline: ContinuousClock.Instant
    ) async -> ReplyEnvelope {
        let envelope = CallEnvelope(
            callID: 0, budgetMillis: 0, recipientPath: path, target: target,
            genericSubstitutions: invocation.genericSubstitutions, headers: headers, arguments: invocation.arguments)
        return await execute(envelope, deadline: deadline)
    }

    // MARK: Trace context

    static func outgoingHeaders() -> [(String, String)] {
        guard let context = ServiceContext.current else { return [] }
        var headers: [(String, String)] = []
        InstrumentationSystem.instrument.inject(context, into: &headers, using: HeaderInjector())
        if let requestID = context.requestID { headers.append((HeaderNames.requestID, requestID)) }
        return headers
    }
}

enum HeaderNames {
    static let requestID = "x-request-id"
}

struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [(String, String)]) {
        carrier.append((key, value))
    }
}

struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: [(String, String)]) -> String? {
        carrier.first { $0.0 == key }?.1
    }
}

private enum RequestIDKey: ServiceContextKey {
    typealias Value = String
    static var nameOverride: String? { "request-id" }
}

extension ServiceContext {
    /// The id of the user request this work belongs to; carried in every remote call's envelope.
    public var requestID: String? {
        get { self[RequestIDKey.self] }
        set { self[RequestIDKey.self] = newValue }
    }
}

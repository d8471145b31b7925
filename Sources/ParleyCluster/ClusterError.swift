/// An error of the cluster runtime or of a remote call.
///
/// Callers branch on `code`; `message` is for people and logs. Errors thrown by a remote actor
/// arrive as a `ClusterError` with code `.remote` unless the remote error is itself a
/// `ClusterError` or conforms to `WireError`, in which case its code and message cross the wire
/// unchanged and `remoteType` names the thrower's error type.
public struct ClusterError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An open set of error codes; new codes may be added without breaking callers.
    public struct Code: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The call's deadline passed before a reply arrived.
        public static let timedOut = Code(rawValue: "timed_out")
        /// The target node is dead, left, unreachable, or its connection dropped mid-call.
        public static let nodeDown = Code(rawValue: "node_down")
        /// No actor with that id lives on the target node (any more).
        public static let actorNotFound = Code(rawValue: "actor_not_found")
        /// The target method is unknown to the receiver (usually a version mismatch).
        public static let targetNotFound = Code(rawValue: "target_not_found")
        /// Bytes that do not decode: a malformed frame, argument or value.
        public static let malformed = Code(rawValue: "malformed")
        /// A value could not be encoded for the wire.
        public static let encodingFailed = Code(rawValue: "encoding_failed")
        /// The caller or the remote side cancelled.
        public static let cancelled = Code(rawValue: "cancelled")
        /// The receiver refused the work because it is over capacity.
        public static let overloaded = Code(rawValue: "overloaded")
        /// The peer failed authentication or speaks another protocol version.
        public static let rejected = Code(rawValue: "rejected")
        /// A frame or value is larger than the configured limit.
        public static let tooLarge = Code(rawValue: "too_large")
        /// The remote actor threw an error whose type is not a wire error.
        public static let remote = Code(rawValue: "remote")
        /// The actor system is shutting down or not started.
        public static let shutDown = Code(rawValue: "shut_down")
    }

    public var code: Code
    public var message: String
    /// For errors thrown by a remote actor: the stable name of the thrower's error type.
    public var remoteType: String?
    /// Where the error was created (for local errors).
    public var location: String

    public init(
        _ code: Code, _ message: String, remoteType: String? = nil,
        file: StaticString = #fileID, line: UInt = #line
    ) {
        self.code = code
        self.message = message
        self.remoteType = remoteType
        self.location = "\(file):\(line)"
    }

    /// `.shutDown`: the actor system has shut down (or is shutting down).
    static func systemShutDown(file: StaticString = #fileID, line: UInt = #line) -> ClusterError {
        ClusterError(.shutDown, "actor system shut down", file: file, line: line)
    }

    public var description: String {
        if let remoteType { return "\(code) (\(remoteType)): \(message)" }
        return "\(code): \(message)"
    }

    public static func == (lhs: ClusterError, rhs: ClusterError) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.remoteType == rhs.remoteType
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}

/// An error type whose code and message may cross the wire. Conform domain errors to this so the
/// caller sees the same code (as `ClusterError.code`) and message (never derived from
/// `String(describing:)`, which is empty when reflection metadata is stripped).
public protocol WireError: Error {
    /// Stable machine-readable code, for example `rate_limited`.
    var wireCode: String { get }
    /// Human-readable message, safe to show to the caller.
    var wireMessage: String { get }
}

extension ClusterError: WireError {
    public var wireCode: String { code.rawValue }
    public var wireMessage: String { message }
}

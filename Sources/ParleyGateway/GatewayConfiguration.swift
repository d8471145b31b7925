

/// Settings of the HTTP gateway (role `gateway`). Every field has a default; units are in the names
/// or the comments.
public struct GatewayConfiguration: Sendable {
    /// Address the HTTP server binds (default `127.0.0.1`).
    public var host: String
    /// Port of the HTTP server (default 8080; 0 picks a free one).
    public var port: Int
    /// Request body limits.
    public var limits: Limits
    /// Authentication settings.
    public var auth: Auth
    /// Stream behaviour: heartbeats, failover, resume.
    public var streaming: Streaming
    /// Deadline of one remote call that is not a stream (models, conversations, cancel); default 5 s.
    public var callTimeout: Duration
    /// A connection that sends nothing for this long while no answer of it is being written is
    /// closed: an idle keep-alive connection, or a request that trickles in (default 75 s). An
    /// answer that streams for longer is never cut.
    public var idleTimeout: Duration

    public init(
        host: String = "127.0.0.1", port: Int = 8080, limits: Limits = Limits(), auth: Auth = Auth(),
        streaming: Streaming = Streaming(), callTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(75)
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.auth = auth
        self.streaming = streaming
        self.callTimeout = callTimeout
        self.idleTimeout = idleTimeout
    }

    /// Size and value limits of incoming requests.
    public struct Limits: Sendable {
        /// Largest chat completion body in bytes (default 1 MiB).
        public var maxChatBodyBytes: Int
        /// Largest import body in bytes (default 64 MiB).
        public var maxImportBodyBytes: Int
        /// Largest body of the other endpoints in bytes (default 64 KiB).
        public var maxOtherBodyBytes: Int
        /// Largest `max_tokens` accepted (default 32,768).
        public var maxTokens: Int
        /// Largest number of messages in one request (default 1,000).
        public var maxMessages: Int

        public init(
            maxChatBodyBytes: Int = 1 << 20, maxImportBodyBytes: Int = 64 << 20, maxOtherBodyBytes: Int = 64 << 10,
            maxTokens: Int = 32_768, maxMessages: Int = 1_000
        ) {
            self.maxChatBodyBytes = maxChatBodyBytes
            self.maxImportBodyBytes = maxImportBodyBytes
            self.maxOtherBodyBytes = maxOtherBodyBytes
            self.maxTokens = maxTokens
            self.maxMessages = maxMessages
        }
    }

    /// Who may call the API. With neither API keys nor OIDC configured every request is refused (401).
    public struct Auth: Sendable {
        /// File of `KEY USER-ID` lines (`#` starts a comment), re-read when it changes (`--api-keys`).
        public var apiKeysFile: String?
        /// Keys given directly (key → user id), e.g. the one `parley dev` prints.
        public var apiKeys: [String: String]
        /// OpenID Connect tokens; `nil` disables them.
        public var oidc: OIDC?
        /// How often the keys file's modification time is checked, at most (default 2 s).
        public var apiKeysReloadInterval: Duration

        public init(
            apiKeysFile: String? = nil, apiKeys: [String: String] = [:], oidc: OIDC? = nil,
            apiKeysReloadInterval: Duration = .seconds(2)
        ) {
            self.apiKeysFile = apiKeysFile
            self.apiKeys = apiKeys
            self.oidc = oidc
            self.apiKeysReloadInterval = apiKeysReloadInterval
        }

        /// A new random API key (`sk-parley-` and 32 hex digits, 128 bits from the system's
        /// generator), e.g. the one `parley dev` prints.
        public static func makeAPIKey() -> String {
            var generator = SystemRandomNumberGenerator()
            let hex = (0..<2).map { _ in
                let value = generator.next() as UInt64
                let text = String(value, radix: 16)
                return String(repeating: "0", count: 16 - text.count) + text
            }
            return "sk-parley-" + hex.joined()
        }
    }

    /// Checking OIDC ID or access tokens (RS256 and ES256 JWTs).
    public struct OIDC: Sendable {
        /// Where the signing keys come from.
        public enum KeySource: Sendable, Hashable {
            /// A JWKS document on disk.
            case file(String)
            /// A JWKS document fetched over HTTP(S).
            case url(String)
        }

        public var keys: KeySource
        /// Required `iss`.
        public var issuer: String
        /// Required member of `aud`.
        public var audience: String
        /// When set, the token's space-separated `scope` (or `scp`) must contain it, else 403.
        public var requiredScope: String?
        /// Tolerated clock difference for `exp` and `nbf` (default 30 s).
        public var leeway: Duration
        /// Shortest time between two key refreshes caused by unknown `kid`s (default 10 s).
        public var minimumRefreshInterval: Duration

        public init(
            keys: KeySource, issuer: String, audience: String, requiredScope: String? = nil,
            leeway: Duration = .seconds(30), minimumRefreshInterval: Duration = .seconds(10)
        ) {
            self.keys = keys
            self.issuer = issuer
            self.audience = audience
            self.requiredScope = requiredScope
            self.leeway = leeway
            self.minimumRefreshInterval = minimumRefreshInterval
        }
    }

    /// How streams are relayed.
    public struct Streaming: Sendable {
        /// Interval of SSE comment heartbeats while no token flows (default 2 s).
        public var heartbeatInterval: Duration
        /// Attempts at a completion node per request, the first included (default 3).
        public var maxAttempts: Int
        /// Pause before the n-th resubmission: n × this (default 50 ms).
        public var retryBackoff: Duration
        /// Deadline of the `complete` call itself, until its stream handle arrives (default 10 s).
        public var startTimeout: Duration
        /// Poll interval of the generation log while a resumed stream is still being produced (default 100 ms).
        public var resumePollInterval: Duration
        /// Longest a resumed stream waits without any new event before it ends (default 60 s).
        public var resumeIdleTimeout: Duration
        /// How long an answer whose client went away keeps being generated, waiting for the client
        /// to resume it (a reload, a dropped connection), before it is cancelled downstream (default
        /// 10 s; zero cancels at once).
        public var disconnectGrace: Duration

        public init(
            heartbeatInterval: Duration = .seconds(2), maxAttempts: Int = 3, retryBackoff: Duration = .milliseconds(50),
            startTimeout: Duration = .seconds(10), resumePollInterval: Duration = .milliseconds(100),
            resumeIdleTimeout: Duration = .seconds(60), disconnectGrace: Duration = .seconds(10)
        ) {
            self.disconnectGrace = disconnectGrace
            self.heartbeatInterval = heartbeatInterval
            self.maxAttempts = maxAttempts
            self.retryBackoff = retryBackoff
            self.startTimeout = startTimeout
            self.resumePollInterval = resumePollInterval
            self.resumeIdleTimeout = resumeIdleTimeout
        }
    }
}

extension ParleyClient {
    /// Where the gateways are and how patient to be with them.
    public struct Configuration: Sendable, Hashable {
        /// How a broken stream is resumed.
        public struct Resume: Sendable, Hashable {
            /// Attempts in a row without progress before the stream fails with
            /// ``ParleyClientError/Code-swift.struct/streamBroken``. Default 10.
            public var maxAttempts: Int
            /// Wait before the second attempt (the first is immediate); doubles each time. Default 100 ms.
            public var initialBackoff: Duration
            /// Longest wait between attempts. Default 2 s.
            public var maxBackoff: Duration

            public init(maxAttempts: Int = 10, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(2)) {
                precondition(maxAttempts >= 0 && initialBackoff >= .zero && maxBackoff >= initialBackoff)
                self.maxAttempts = maxAttempts
                self.initialBackoff = initialBackoff
                self.maxBackoff = maxBackoff
            }
        }

        /// Base URLs of gateways (`http://host:port`), tried in this order; resumes and idempotent
        /// calls move to the next one when one fails. At least one.
        public var gatewayURLs: [String]
        /// Sent as `Authorization: Bearer <key>`; `nil` sends none.
        public var apiKey: String?
        /// Time to open a connection; a refused connection is retried until then, so this is also
        /// how long a dead gateway delays the move to the next one. Default 2 s.
        public var connectTimeout: Duration
        /// Longest silence on an open connection before it counts as broken (the gateway sends
        /// heartbeats while a stream idles). Default 30 s.
        public var readTimeout: Duration
        /// Time until the response head (a streaming answer's body is then governed by
        /// ``readTimeout``). Default 120 s.
        public var requestTimeout: Duration
        /// Largest answer body read, in bytes. Default 64 MiB.
        public var maximumResponseBytes: Int
        /// Connections kept per gateway; raise it for many parallel streams. Default 8.
        public var maximumConnectionsPerGateway: Int
        /// How a broken stream is resumed.
        public var resume: Resume

        public init(
            gatewayURLs: [String], apiKey: String? = nil, connectTimeout: Duration = .seconds(2),
            readTimeout: Duration = .seconds(30), requestTimeout: Duration = .seconds(120),
            maximumResponseBytes: Int = 64 << 20, maximumConnectionsPerGateway: Int = 8, resume: Resume = .init()
        ) {
            self.gatewayURLs = gatewayURLs
            self.apiKey = apiKey
            self.connectTimeout = connectTimeout
            self.readTimeout = readTimeout
            self.requestTimeout = requestTimeout
            self.maximumResponseBytes = maximumResponseBytes
            self.maximumConnectionsPerGateway = maximumConnectionsPerGateway
            self.resume = resume
        }

        /// One gateway.
        public init(url: String, apiKey: String? = nil) {
            self.init(gatewayURLs: [url], apiKey: apiKey)
        }
    }
}

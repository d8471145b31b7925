import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import HTTPTypes
import NIOCore
import NIOHTTP1
import Synchronization

/// Checks OIDC JWTs (RS256 or ES256) against a JWKS from a file or URL: signature, `iss`, `aud`,
/// `exp` and `nbf` (with a leeway); the user is the token's `sub`. A token whose `kid` is not in
/// the loaded key set makes the verifier fetch the JWKS again (at most once per
/// `minimumRefreshInterval`), so rotated keys are picked up without a restart.
final class OIDCVerifier: Sendable {
    /// The claims Parley reads; other claims are ignored.
    struct Claims: JWTPayload {
        var sub: SubjectClaim?
        var iss: IssuerClaim?
        var aud: AudienceClaim?
        var exp: ExpirationClaim?
        var nbf: NotBeforeClaim?
        /// Space-separated scopes (`scope`), or a list (`scp`).
        var scope: String?
        var scp: [String]?

        /// Claims are checked by the verifier with its own clock and settings.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    struct State: Sendable {
        var knownKeyIDs: Set<String> = []
        var lastRefresh: ContinuousClock.Instant?
    }

    let settings: GatewayConfiguration.OIDC
    let logger: Logger
    /// The current time (injectable for tests).
    let now: @Sendable () -> Date
    private let keys: JWTKeyCollection
    private let state = Mutex(State())

    /// Creates the verifier and loads the key set once (a failure here is a start-up error).
    init(settings: GatewayConfiguration.OIDC, logger: Logger, now: @escaping @Sendable () -> Date = Date.init)
        async throws
    {
        self.settings = settings
        self.logger = logger
        self.now = now
        self.keys = JWTKeyCollection()
        try await refresh()
    }

    /// Whether `token` has the shape of a JWT (three base64url parts).
    static func looksLikeJWT(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty }
    }

    /// The user id (`sub`) of a valid token; 401 for an invalid one, 403 when a required scope is missing.
    func verify(_ token: String) async throws -> String {
        let header = try Self.header(of: token)
        guard header.alg == "RS256" || header.alg == "ES256" else {
            throw OpenAIError.unauthorized("token algorithm must be RS256 or ES256")
        }
        if let kid = header.kid, !state.withLock({ $0.knownKeyIDs.contains(kid) }) {
            try? await refreshIfAllowed()
        }
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch {
            throw OpenAIError.unauthorized("token signature or key invalid")
        }
        return try check(claims)
    }

    func check(_ claims: Claims) throws -> String {
        let now = now()
        let leeway = Double(settings.leeway.components.seconds)
        guard let exp = claims.exp else { throw OpenAIError.unauthorized("token has no exp") }
        guard exp.value.timeIntervalSince(now) > -leeway else { throw OpenAIError.unauthorized("token expired") }
        if let nbf = claims.nbf, nbf.value.timeIntervalSince(now) > leeway {
            throw OpenAIError.unauthorized("token not valid yet (nbf)")
        }
        guard claims.iss?.value == settings.issuer else { throw OpenAIError.unauthorized("token issuer mismatch") }
        guard let audience = claims.aud, audience.value.contains(settings.audience) else {
            throw OpenAIError.unauthorized("token audience mismatch")
        }
        guard let subject = claims.sub?.value, !subject.isEmpty, subject.utf8.count <= 256 else {
            throw OpenAIError.unauthorized("token has no subject")
        }
        if let required = settings.requiredScope {
            let scopes = Set((claims.scope ?? "").split(separator: " ").map(String.init) + (claims.scp ?? []))
            guard scopes.contains(required) else {
                throw OpenAIError(.forbidden, "token lacks the scope \(required)", code: "insufficient_scope")
            }
        }
        return subject
    }

    struct Header: Decodable {
        var alg: String?
        var kid: String?
    }

    static func header(of token: String) throws -> Header {
        guard let first = token.split(separator: ".").first, let data = Data(base64URL: String(first)),
            let header = try? JSONDecoder().decode(Header.self, from: data)
        else { throw OpenAIError.unauthorized("malformed token") }
        return header
    }

    private func refreshIfAllowed() async throws {
        let allowed = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            if let last = state.lastRefresh, last.duration(to: now) < settings.minimumRefreshInterval { return false }
            state.lastRefresh = now
            return true
        }
        guard allowed else { return }
        try await refresh()
    }

    /// Loads the JWKS and replaces the key set.
    func refresh() async throws {
        let json = try await Self.fetch(settings.keys)
        let jwks = try JSONDecoder().decode(JWKS.self, from: Data(json.utf8))
        await keys.removeAll()
        try await keys.add(jwks: jwks)
        // Without a default key, a token with an unknown kid fails instead of being checked
        // against the first key of the set.
        await keys.clearDefault()
        let ids = Set(jwks.keys.compactMap { $0.keyIdentifier?.string })
        state.withLock {
            $0.knownKeyIDs = ids
            $0.lastRefresh = $0.lastRefresh ?? .now
        }
        logger.info("loaded OIDC keys", metadata: ["oidc.keys": "\(ids.count)"])
    }

    static func fetch(_ source: GatewayConfiguration.OIDC.KeySource) async throws -> String {
        switch source {
        case .file(let path):
            return try String(contentsOfFile: path, encoding: .utf8)
        case .url(let url):
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            guard response.status == .ok else {
                throw OpenAIError(.serviceUnavailable, "JWKS fetch answered \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: 1 << 20)
            return String(buffer: body)
        }
    }
}

extension Data {
    /// Decodes base64url without padding.
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}

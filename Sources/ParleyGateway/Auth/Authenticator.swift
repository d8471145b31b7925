/// Turns a bearer token into a user id: an API key from the keys file, or an OIDC JWT.
struct Authenticator: Sendable {
    let apiKeys: APIKeyStore
    let oidc: OIDCVerifier?

    func authenticate(token: String) async throws -> String {
        guard !token.isEmpty else { throw OpenAIError.unauthorized("empty bearer token") }
        if let user = apiKeys.user(for: token) { return user }
        if let oidc, OIDCVerifier.looksLikeJWT(token) {
            return try await oidc.verify(token)
        }
        throw OpenAIError.unauthorized("invalid API key or token")
    }
}

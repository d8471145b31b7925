import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import JWTKit
import Logging
@testable import ParleyGateway
import Testing
import CryptoExtras

/// Signs tokens with keys made in the test and publishes their public halves as a JWKS file, which
/// goes when the issuer does.
final class TestIssuer: Sendable {
    let rsa: JWTKit.Insecure.RSA.PrivateKey
    let ec: ES256PrivateKey
    let signers = JWTKeyCollection()
    let jwksPath: String

    init() async throws {
        rsa = try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        ec = ES256PrivateKey()
        await signers.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa-1")
        await signers.add(ecdsa: ec, kid: "ec-1")
        jwksPath = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json").path
        try publish(kids: ["rsa-1", "ec-1"])
    }

    deinit { try? FileManager.default.removeItem(atPath: jwksPath) }

    /// Writes the JWKS with the public keys under the given kids (the RSA key for `rsa-*`).
    func publish(kids: [String]) throws {
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        let keys = kids.map { kid -> String in
            if kid.hasPrefix("rsa") {
                return #"{"kty":"RSA","alg":"RS256","use":"sig","kid":"\#(kid)","n":"\#(modulus.base64URL)","e":"\#(exponent.base64URL)"}"#
            }
            let parameters = ec.parameters!
            return #"{"kty":"EC","alg":"ES256","use":"sig","crv":"P-256","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#
        }
        try #"{"keys":[\#(keys.joined(separator: ","))]}"#.write(toFile: jwksPath, atomically: true, encoding: .utf8)
    }

    func token(
        kid: String, sub: String = "user-42", iss: String = "https://issuer.test", aud: [String] = ["parley"],
        expiresIn: TimeInterval = 300, notBefore: TimeInterval? = nil, scope: String? = nil
    ) async throws -> String {
        var claims = OIDCVerifier.Claims()
        claims.sub = SubjectClaim(value: sub)
        claims.iss = IssuerClaim(value: iss)
        claims.aud = AudienceClaim(value: aud)
        claims.exp = ExpirationClaim(value: Date().addingTimeInterval(expiresIn))
        claims.nbf = notBefore.map { NotBeforeClaim(value: Date().addingTimeInterval($0)) }
        claims.scope = scope
        return try await signers.sign(claims, kid: JWKIdentifier(string: kid))
    }

    func verifier(requiredScope: String? = nil) async throws -> OIDCVerifier {
        try await OIDCVerifier(
            settings: .init(
                keys: .file(jwksPath), issuer: "https://issuer.test", audience: "parley", requiredScope: requiredScope,
                leeway: .seconds(5), minimumRefreshInterval: .zero),
            logger: Logger(label: "test"))
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

@Suite("Authentication: OIDC JWTs and API keys")
struct AuthTests {
    func status(_ body: () async throws -> String) async -> Int? {
        do {
            _ = try await body()
            return 200
        } catch let error as OpenAIError {
            return error.status.code
        } catch {
            return nil
        }
    }

    @Test func rs256AndES256TokensAreAccepted() async throws {
        let issuer = try await TestIssuer()
        let verifier = try await issuer.verifier()
        #expect(try await verifier.verify(try await issuer.token(kid: "rsa-1")) == "user-42")
        #expect(try await verifier.verify(try await issuer.token(kid: "ec-1", sub: "ec-user")) == "ec-user")
    }

    @Test func expiredFutureWrongAudienceAndIssuerAreRefused() async throws {
        let issuer = try await TestIssuer()
        let verifier = try await issuer.verifier()
        let expired = try await issuer.token(kid: "rsa-1", expiresIn: -60)
        #expect(await status { try await verifier.verify(expired) } == 401)
        let withinLeeway = try await issuer.token(kid: "rsa-1", expiresIn: -2)
        #expect(await status { try await verifier.verify(withinLeeway) } == 200)
        let notYet = try await issuer.token(kid: "ec-1", notBefore: 120)
        #expect(await status { try await verifier.verify(notYet) } == 401)
        let wrongAudience = try await issuer.token(kid: "rsa-1", aud: ["someone-else"])
        #expect(await status { try await verifier.verify(wrongAudience) } == 401)
        let wrongIssuer = try await issuer.token(kid: "ec-1", iss: "https://evil.test")
        #expect(await status { try await verifier.verify(wrongIssuer) } == 401)
        var tampered = try await issuer.token(kid: "rsa-1")
        tampered.removeLast(3)
        tampered += "AAA"
        #expect(await status { try await verifier.verify(tampered) } == 401)
        #expect(await status { try await verifier.verify("a.b.c") } == 401)
    }

    @Test func requiredScopeMissingIs403() async throws {
        let issuer = try await TestIssuer()
        let verifier = try await issuer.verifier(requiredScope: "chat")
        let without = try await issuer.token(kid: "rsa-1", scope: "openid profile")
        #expect(await status { try await verifier.verify(without) } == 403)
        let with = try await issuer.token(kid: "rsa-1", scope: "openid chat")
        #expect(await status { try await verifier.verify(with) } == 200)
    }

    @Test func unknownKidRefreshesTheKeySet() async throws {
        let issuer = try await TestIssuer()
        try issuer.publish(kids: ["ec-1"])
        let verifier = try await issuer.verifier()
        let token = try await issuer.token(kid: "rsa-1")
        // Not published: refused, and never checked against another key of the set.
        #expect(await status { try await verifier.verify(token) } == 401)
        // The issuer rotates the key in: the next token with that kid makes the verifier refetch.
        try issuer.publish(kids: ["ec-1", "rsa-1"])
        #expect(try await verifier.verify(token) == "user-42")
    }

    @Test func keysAreFetchedFromAJWKSURL() async throws {
        let issuer = try await TestIssuer()
        let router = Router()
        router.get("/jwks") { _, _ in try String(contentsOfFile: issuer.jwksPath, encoding: .utf8) }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            let url = "http://127.0.0.1:\(try #require(client.port))/jwks"
            let verifier = try await OIDCVerifier(
                settings: .init(keys: .url(url), issuer: "https://issuer.test", audience: "parley", minimumRefreshInterval: .zero),
                logger: Logger(label: "test"))
            #expect(try await verifier.verify(try await issuer.token(kid: "ec-1")) == "user-42")
        }
    }

    @Test func generatedAPIKeysAreLongAndDistinct() {
        let keys = (0..<100).map { _ in GatewayConfiguration.Auth.makeAPIKey() }
        #expect(Set(keys).count == 100)
        #expect(keys.allSatisfy { $0.hasPrefix("sk-parley-") && $0.count >= 40 })
        #expect(keys.allSatisfy { (try? APIKeyStore.parse("\($0) user")) != nil })
    }

    @Test func apiKeysFileIsParsedAndReloaded() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# keys\nsk-aaaaaaaa alice\n\n  sk-bbbbbbbb   bob  # trailing comment\n".write(toFile: path, atomically: true, encoding: .utf8)
        let store = try APIKeyStore(path: path, fixedKeys: ["sk-dev-key-1": "dev"], reloadInterval: .zero)
        #expect(store.user(for: "sk-aaaaaaaa") == "alice")
        #expect(store.user(for: "sk-bbbbbbbb") == "bob")
        #expect(store.user(for: "sk-dev-key-1") == "dev")
        #expect(store.user(for: "# keys") == nil)
        try "sk-cccccccc carol\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(store.user(for: "sk-cccccccc") == "carol")
        #expect(store.user(for: "sk-aaaaaaaa") == nil)
        #expect(throws: APIKeyStore.FileError.self) { try APIKeyStore.parse("sk-dddddddd\n") }
        #expect(throws: APIKeyStore.FileError.self) { try APIKeyStore.parse("short user\n") }
    }

    @Test func authenticatorPrefersAPIKeysThenJWTs() async throws {
        let issuer = try await TestIssuer()
        let authenticator = Authenticator(
            apiKeys: try APIKeyStore(path: nil, fixedKeys: ["sk-key-000001": "keyuser"], reloadInterval: .zero),
            oidc: try await issuer.verifier())
        #expect(try await authenticator.authenticate(token: "sk-key-000001") == "keyuser")
        #expect(try await authenticator.authenticate(token: try await issuer.token(kid: "ec-1")) == "user-42")
        await #expect(throws: OpenAIError.self) { try await authenticator.authenticate(token: "sk-unknown") }
    }
}

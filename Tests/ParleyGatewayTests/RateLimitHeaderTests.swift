import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import ParleyGateway
import ParleyProtocol
import Synchronization
import Testing

@Suite("Rate-limit headers and branch requests")
struct RateLimitHeaderTests {
    @Test func successfulAnswersCarryTheRateLimitStanding() async throws {
        let decision = RateLimitDecision(allowed: true, limit: 60, remaining: 41, resetSeconds: 12.25)
        let backend = ScriptedCompletions { _ in
            [.event(.started(conversationID: "c1", userMessageID: "u", assistantMessageID: "a", rateLimit: decision)),
             .event(.token(index: 0, text: "ok")), .event(.finished(.stop, TokenUsage(promptTokens: 1, completionTokens: 1)))]
        }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            for stream in [false, true] {
                let body = #"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":\#(stream)}"#
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: body))
                #expect(response.status == .ok)
                #expect(response.headers[HTTPField.Name("x-ratelimit-limit-requests")!] == "60")
                #expect(response.headers[HTTPField.Name("x-ratelimit-remaining-requests")!] == "41")
                #expect(response.headers[HTTPField.Name("x-ratelimit-reset-requests")!] == "12.25s")
            }
        }
    }

    @Test func refusalsCarryTheLimitAndRetryAfter() async throws {
        let refusal = ServingError(
            ServingError.rateLimited, "rate limit reached (requests; limit 60 per minute)", retryAfterSeconds: 7.2)
        let backend = ScriptedCompletions { _ in [.fail(refusal)] }
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#))
            #expect(response.status == .tooManyRequests)
            #expect(response.headers[.retryAfter] == "8")
            #expect(response.headers[HTTPField.Name("x-ratelimit-limit-requests")!] == "60")
            #expect(response.headers[HTTPField.Name("x-ratelimit-remaining-requests")!] == "0")
        }
    }

    @Test func regenerateAndEditNameTheirParentMessage() async throws {
        let backend = ScriptedCompletions(script: ScriptedCompletions.answer(["again"]))
        let app = try await makeTestApplication(completions: backend)
        try await app.test(.router) { client in
            // Regenerate: no new message, a parent in a conversation.
            let regenerate = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(string: #"{"model":"m","messages":[],"conversation_id":"c1","parent_message_id":"u1"}"#))
            #expect(regenerate.status == .ok)
            let recorded = backend.record.withLock { $0.requests.last }
            #expect(recorded?.parentMessageID == "u1")
            #expect(recorded?.messages.isEmpty == true)
            #expect(recorded?.startsAtRoot == false)
            // An edited first message: an explicit null parent starts a new root branch.
            let edit = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: .auth(),
                body: ByteBuffer(
                    string: #"{"model":"m","messages":[{"role":"user","content":"hi"}],"conversation_id":"c1","parent_message_id":null}"#))
            #expect(edit.status == .ok)
            #expect(backend.record.withLock { $0.requests.last }?.startsAtRoot == true)
            // A parent without its conversation, and empty messages without a parent, are refused.
            for body in [
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"parent_message_id":"u1"}"#,
                #"{"model":"m","messages":[],"conversation_id":"c1"}"#,
                #"{"model":"m","messages":[],"conversation_id":"c1","parent_message_id":""}"#,
                #"{"model":"m","messages":[],"conversation_id":"c1","parent_message_id":null}"#,
                #"{"model":"m","messages":[{"role":"user","content":"hi"}],"parent_message_id":null}"#,
            ] {
                let response = try await client.execute(
                    uri: "/v1/chat/completions", method: .post, headers: .auth(), body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body)")
            }
        }
    }
}

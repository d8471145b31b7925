import Foundation
import Testing

@testable import ParleyClient

@Suite struct ParleyClientErrorTests {
    @Test func readsOpenAIErrorBodies() {
        let body = Array(#"{"error":{"message":"too many","type":"rate_limit_error","param":null,"code":"rate_limited"}}"#.utf8)
        let error = ParleyClientError.fromResponse(status: 429, body: body, retryAfterHeader: "2.5", requestID: "r1")
        #expect(error.code == .rateLimited)
        #expect(error.message == "too many")
        #expect(error.apiCode == "rate_limited")
        #expect(error.retryAfter == .milliseconds(2500))
        #expect(error.requestID == "r1")
    }

    @Test func keepsOtherBodiesAsText() {
        let error = ParleyClientError.fromResponse(
            status: 502, body: Array("<html>bad gateway</html>".utf8), retryAfterHeader: nil, requestID: nil)
        #expect(error.code == .serverError)
        #expect(error.message == "<html>bad gateway</html>")
        #expect(error.apiCode == nil)
    }

    @Test func numericCodesAndHTTPDates() {
        let body = Array(#"{"error":{"message":"m","type":"t","param":null,"code":1234}}"#.utf8)
        let now = Date(timeIntervalSince1970: 1_700_000_000)  // Tue, 14 Nov 2023 22:13:20 GMT
        let error = ParleyClientError.fromResponse(
            status: 503, body: body, retryAfterHeader: "Tue, 14 Nov 2023 22:13:50 GMT", requestID: nil, now: now)
        #expect(error.code == .unavailable)
        #expect(error.apiCode == "1234")
        #expect(error.retryAfter == .seconds(30))
        #expect(ParleyClientError.parseRetryAfter("soon", now: now) == nil)
    }

    @Test func streamErrorEvents() {
        let error = ParleyClientError.fromStreamEvent(
            #"{"error":{"message":"gone","type":"server_error","param":null,"code":"interrupted"}}"#, requestID: "r")
        #expect(error?.code == .streamError && error?.apiCode == "interrupted" && error?.message == "gone")
        #expect(ParleyClientError.fromStreamEvent(#"{"choices":[]}"#, requestID: nil) == nil)
    }
}

import Testing

@testable import ParleyModelAPI

@Suite("Server-sent event parser")
struct ServerSentEventParserTests {
    @Test func eventsInAnyChunking() throws {
        let stream = "data: {\"a\":1}\n\n: keep-alive\n\nevent: x\ndata: two\ndata: lines\n\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        for size in [1, 2, 3, 7, bytes.count] {
            var parser = ServerSentEventParser()
            var payloads: [String] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + size)
                payloads += try parser.feed(bytes[start..<end])
                start = end
            }
            payloads += parser.finish()
            #expect(payloads == ["{\"a\":1}", "two\nlines", "[DONE]"], "chunk size \(size)")
        }
    }

    @Test func crlfAndCrLineEndsAndMissingFinalBlankLine() throws {
        var parser = ServerSentEventParser()
        var payloads = try parser.feed(Array("data:x\r\n\r\ndata: y\r\rdata: z".utf8))
        payloads += parser.finish()
        #expect(payloads == ["x", "y", "z"])
    }

    @Test func overlongLinesAreRefused() {
        var parser = ServerSentEventParser(maxLineBytes: 16)
        #expect(throws: ServerSentEventParser.LineTooLong.self) {
            _ = try parser.feed(Array(("data: " + String(repeating: "x", count: 32)).utf8))
        }
    }
}

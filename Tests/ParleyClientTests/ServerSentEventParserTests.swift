import Testing

@testable import ParleyClient

@Suite struct ServerSentEventParserTests {
    /// Feeds `text` split at every position (and byte by byte) and checks the events are the same.
    private func parseEverySplit(_ text: String) throws -> [ServerSentEvent] {
        let bytes = Array(text.utf8)
        var whole = ServerSentEventParser()
        let expected = try whole.feed(bytes)
        for cut in 0...bytes.count {
            var parser = ServerSentEventParser()
            let events = try parser.feed(bytes[..<cut]) + parser.feed(bytes[cut...])
            #expect(events == expected, "split at \(cut)")
        }
        var single = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for byte in bytes { events += try single.feed([byte]) }
        #expect(events == expected, "byte by byte")
        return expected
    }

    @Test func idsDataAndDoneAcrossSplits() throws {
        let events = try parseEverySplit("id: 0\ndata: {\"a\":1}\n\nid: 1\ndata: {\"b\":\"ü\"}\n\ndata: [DONE]\n\n")
        #expect(events == [
            ServerSentEvent(data: #"{"a":1}"#, id: "0"),
            ServerSentEvent(data: #"{"b":"ü"}"#, id: "1"),
            ServerSentEvent(data: "[DONE]"),
        ])
    }

    @Test func commentsAndHeartbeatsAreDropped() throws {
        let events = try parseEverySplit(": keep-alive\n\n:\n\nid: 5\n: inside an event\ndata: x\n\n: bye\n\n")
        #expect(events == [ServerSentEvent(data: "x", id: "5")])
    }

    @Test func commentsComeOutInOrderWhenAskedFor() throws {
        var parser = ServerSentEventParser(yieldsComments: true)
        let events = try parser.feed(Array(": prompt 5/9\n\n:bare\nid: 1\ndata: x\n\n:\n".utf8))
        #expect(events == [
            ServerSentEvent(data: "prompt 5/9", isComment: true), ServerSentEvent(data: "bare", isComment: true),
            ServerSentEvent(data: "x", id: "1"), ServerSentEvent(data: "", isComment: true),
        ])
    }

    @Test func multiLineDataJoinsWithNewline() throws {
        let events = try parseEverySplit("data: first\ndata:second\ndata\ndata:  two spaces\n\n")
        #expect(events == [ServerSentEvent(data: "first\nsecond\n\n two spaces")])
    }

    @Test func crlfAndLoneCRLineEnds() throws {
        let events = try parseEverySplit("id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\rdata: c\n\n")
        #expect(events == [
            ServerSentEvent(data: "a", id: "1"), ServerSentEvent(data: "b", id: "2"), ServerSentEvent(data: "c"),
        ])
    }

    @Test func eventTypeRetryAndLastEventID() throws {
        var parser = ServerSentEventParser()
        let events = try parser.feed(Array("\u{FEFF}event: error\nretry: 250\nid: 7\ndata: {}\n\nid: 8\n\n".utf8))
        #expect(events == [ServerSentEvent(type: "error", data: "{}", id: "7", retryMilliseconds: 250)])
        // An id on an event without data still moves the resume point.
        #expect(parser.lastEventID == "8")
        // An id with NUL is ignored.
        _ = try parser.feed(Array("id: 9\u{0}\ndata: y\n\n".utf8))
        #expect(parser.lastEventID == "8")
    }

    @Test func unterminatedEventIsNotDispatched() throws {
        var parser = ServerSentEventParser()
        #expect(try parser.feed(Array("id: 1\ndata: half".utf8)).isEmpty)
        parser.resetConnection()
        #expect(try parser.feed(Array("\n\n".utf8)).isEmpty)
        #expect(parser.lastEventID == "1")
    }

    @Test func overlongLineThrows() {
        var parser = ServerSentEventParser(maximumLineBytes: 16)
        #expect(throws: ServerSentEventParser.FormatError.self) {
            _ = try parser.feed(Array("data: 0123456789abcdef\n\n".utf8))
        }
    }
}

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A test double of Parley's gateway: a real HTTP/1.1 server on 127.0.0.1 (port 0) that speaks the
/// SSE contract of DESIGN.md for one scripted answer (`id: 0` role chunk, `id: n` per token, a
/// finish chunk, `data: [DONE]`), with heartbeats and events split across writes, plus the
/// conversation endpoints with canned bodies. Its `Script` says where to break connections.
final class TestGateway: Sendable {
    /// How the double behaves; shared by every gateway of a test (one generation log).
    struct Script: Sendable {
        var apiKey = "good-key"
        var requestID = "chatcmpl-test1"
        var tokens = ["Hello", ",", " wor", "ld", " — ", "ünï", "code", "!"]
        /// Close the first stream connection after this many tokens (no `[DONE]`).
        var cutAfter: Int?
        /// Answer resumes on this gateway index with 503 (a dead gateway).
        var refuseResumeOn: Set<Int> = []
        /// Resumes also replay the event at `Last-Event-ID` (a faulty server): the client must drop it.
        var resumeRepeatsLast = false
        /// After this many tokens, stop sending events (heartbeats only) until the client goes away.
        var holdAfter: Int?
        /// Send an error event after this many tokens instead of finishing.
        var errorAfter: Int?
        /// Gateways (by index) that close the connection on a chat completion before answering (a
        /// gateway that died after the request reached it).
        var dropChatOn: Set<Int> = []
        /// A pause between `[DONE]` and the end of the response (a gateway whose last write lags).
        var pauseBeforeEnd: Duration?
        /// Comments sent after the role chunk (and the first of them again after the first token).
        var commentsBeforeFirstToken: [String] = []

        static func with(_ edit: (inout Script) -> Void) -> Script {
            var script = Script()
            edit(&script)
            return script
        }
    }

    /// A request the double received.
    struct Received: Sendable {
        var method: HTTPMethod
        var path: String
        var headers: HTTPHeaders
        var body: String
    }

    let script: Script
    let index: Int
    private let log: Mutex<[Received]> = Mutex([])
    private let accepted = Mutex(0)
    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>

    var port: Int { channel.channel.localAddress!.port! }
    var url: String { "http://127.0.0.1:\(port)" }
    var received: [Received] { log.withLock { $0 } }
    /// Connections the double has accepted so far.
    var connectionsAccepted: Int { accepted.withLock { $0 } }

    private init(script: Script, index: Int, channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>) {
        self.script = script
        self.index = index
        self.channel = channel
    }

    /// Starts `count` gateways, runs `body`, stops them.
    static func with<T: Sendable>(
        _ script: Script, count: Int = 1, _ body: @Sendable ([TestGateway]) async throws -> T
    ) async throws -> T {
        var gateways: [TestGateway] = []
        for index in 0..<count {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: "127.0.0.1", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                            wrappingChannelSynchronously: channel)
                    }
                }
            gateways.append(TestGateway(script: script, index: index, channel: channel))
        }
        let servers = gateways
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for gateway in servers { group.addTask { try await gateway.serve() } }
            defer { group.cancelAll() }
            return try await body(servers)
        }
    }

    private func serve() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    accepted.withLock { $0 += 1 }
                    group.addTask { try? await self.handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let value):
                    head = value
                    body.clear()
                case .body(var chunk):
                    body.writeBuffer(&chunk)
                case .end:
                    guard let head else { return }
                    let request = Received(
                        method: head.method, path: head.uri, headers: head.headers, body: String(buffer: body))
                    log.withLock { $0.append(request) }
                    let keepOpen = try await respond(to: request, outbound)
                    if !keepOpen { return }
                }
            }
        }
    }

    // MARK: Routing

    /// Writes the answer; false closes the connection (a cut stream).
    private func respond(to request: Received, _ out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws -> Bool {
        guard request.headers.first(name: "authorization") == "Bearer \(script.apiKey)" else {
            try await json(out, status: .unauthorized, #"{"error":{"message":"bad key","type":"authentication_error","param":null,"code":"invalid_api_key"}}"#)
            return true
        }
        let path = request.path
        switch (request.method, path) {
        case (.POST, "/v1/chat/completions"):
            if script.dropChatOn.contains(index) { return false }
            if request.body.contains(#""model":"limited""#) {
                try await json(
                    out, status: .tooManyRequests,
                    #"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limited"}}"#,
                    extra: [("Retry-After", "7")])
                return true
            }
            if !request.body.contains(#""stream":true"#) {
                let text = script.tokens.joined()
                try await json(
                    out, status: .ok,
                    #"{"id":"\#(script.requestID)","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":\#(quote(text))},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":\#(script.tokens.count),"total_tokens":\#(script.tokens.count + 3)}}"#,
                    extra: [("x-request-id", script.requestID), ("x-parley-conversation-id", "conv-1")])
                return true
            }
            return try await stream(
                out, after: nil, cut: script.cutAfter, repeatLast: false,
                usage: request.body.contains(#""include_usage":true"#))
        case (.GET, "/v1/chat/completions/\(script.requestID)/stream"):
            if script.refuseResumeOn.contains(index) {
                try await json(out, status: .serviceUnavailable, #"{"error":{"message":"down","type":"server_error","param":null,"code":"no_backend"}}"#, extra: [("Retry-After", "1")])
                return true
            }
            let last = request.headers.first(name: "last-event-id").flatMap { Int($0) }
            return try await stream(out, after: last, cut: nil, repeatLast: script.resumeRepeatsLast)
        case (.POST, "/v1/chat/completions/\(script.requestID)/cancel"):
            try await json(out, status: .ok, #"{"id":"\#(script.requestID)","object":"chat.completion.cancellation","cancelled":true}"#)
            return true
        case (.POST, _) where path.hasSuffix("/cancel"):
            try await json(out, status: .notFound, #"{"error":{"message":"no such run","type":"not_found_error","param":null,"code":"not_found"}}"#)
            return true
        case (.GET, "/v1/models"):
            try await json(out, status: .ok, #"{"object":"list","data":[{"id":"synthetic","object":"model","created":0,"owned_by":"parley-synthetic"}],"next_cursor":null}"#)
            return true
        default:
            return try await conversations(request, out)
        }
    }

    private func conversations(_ request: Received, _ out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws -> Bool {
        switch (request.method, request.path) {
        case (.GET, "/v1/conversations?limit=1"):
            try await json(out, status: .ok, #"{"object":"list","data":[{"id":"c2","title":"Second","model":"m","created_at":1700000100.5,"updated_at":1700000200,"pinned":true,"current_message_id":"m2"}],"next_cursor":"abc/+="}"#)
        case (.GET, "/v1/conversations?limit=1&cursor=abc%2F%2B%3D"):
            try await json(out, status: .ok, #"{"object":"list","data":[{"id":"c1","title":"First","model":null,"created_at":1700000000,"updated_at":1700000000,"pinned":false,"current_message_id":null}],"next_cursor":null}"#)
        case (.GET, "/v1/conversations/c2"):
            try await json(out, status: .ok, #"{"id":"c2","title":"Second","model":"m","created_at":1700000100,"updated_at":1700000200,"pinned":true,"current_message_id":"m3","messages":[{"id":"m1","parent_id":null,"role":"user","content":"hi","status":"complete","created_at":1700000100},{"id":"m2","parent_id":"m1","role":"assistant","content":"old answer","status":"cancelled","created_at":1700000101},{"id":"m3","parent_id":"m1","role":"assistant","content":"new answer","status":"complete","created_at":1700000102}]}"#)
        case (.POST, "/v1/conversations/search"):
            try await json(out, status: .ok, #"{"object":"list","data":[{"conversation_id":"c2","message_id":"m3","role":"assistant","created_at":1700000102,"score":1.5,"snippet":"new <mark>answer</mark>"}],"next_cursor":null}"#)
        case (.POST, "/v1/conversations/import"):
            try await json(out, status: .ok, #"{"conversations_imported":2,"conversations_skipped":1,"messages_imported":9,"messages_skipped":3,"warnings":["one without mapping"]}"#)
        default:
            try await json(out, status: .notFound, #"{"error":{"message":"no such conversation","type":"not_found_error","param":null,"code":"not_found"}}"#)
        }
        return true
    }

    // MARK: Streams

    /// Streams the answer after event `after` (`nil`: from the role chunk). Returns false when it cut the connection.
    private func stream(
        _ out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, after: Int?, cut: Int?, repeatLast: Bool,
        usage: Bool = false
    ) async throws -> Bool {
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Type", value: "text/event-stream")
        head.headers.add(name: "x-request-id", value: script.requestID)
        head.headers.add(name: "x-parley-conversation-id", value: "conv-1")
        try await out.write(.head(head))
        if after == nil {
            try await write(out, "id: 0\ndata: " + chunk(#"{"role":"assistant","content":""}"#) + "\n\n")
            for comment in script.commentsBeforeFirstToken { try await write(out, ": \(comment)\n\n") }
        }
        var first = (after ?? 0) + 1
        if repeatLast, let after, after > 0 { first = after }
        for index in first...script.tokens.count {
            if let holdAfter = script.holdAfter, index > holdAfter {
                while true {
                    try await write(out, ": keep-alive\n\n")
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            if let errorAfter = script.errorAfter, index > errorAfter {
                try await write(out, #"data: {"error":{"message":"model died","type":"server_error","param":null,"code":"interrupted"}}"# + "\n\n")
                try await out.write(.end(nil))
                return true
            }
            let event = "id: \(index)\r\ndata: " + chunk(#"{"content":\#(quote(script.tokens[index - 1]))}"#) + "\r\n\r\n"
            // Split each event across two writes, with a heartbeat between tokens.
            let cutPoint = event.utf8.index(event.utf8.startIndex, offsetBy: min(9, event.utf8.count))
            try await write(out, String(event[..<cutPoint]))
            try await write(out, String(event[cutPoint...]))
            if index % 3 == 0 { try await write(out, ": keep-alive\n\n") }
            if index == 1, let late = script.commentsBeforeFirstToken.first { try await write(out, ": \(late)\n\n") }
            if let cut, index >= cut { return false }
        }
        var finish = "data: " + chunk("{}", finish: "stop") + "\n\n"
        if usage {
            finish += #"data: {"id":"x","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":\#(script.tokens.count),"total_tokens":\#(script.tokens.count + 3)}}"# + "\n\n"
        }
        finish += "data: [DONE]\n\n"
        try await write(out, finish)
        if let pause = script.pauseBeforeEnd { try await Task.sleep(for: pause) }
        try await out.write(.end(nil))
        return true
    }

    private func chunk(_ delta: String, finish: String? = nil) -> String {
        let reason = finish.map { "\"\($0)\"" } ?? "null"
        return #"{"id":"\#(script.requestID)","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(reason)}]}"#
    }

    private func write(_ out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, _ text: String) async throws {
        try await out.write(.body(.byteBuffer(ByteBuffer(string: text))))
    }

    private func json(
        _ out: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>, status: HTTPResponseStatus, _ text: String,
        extra: [(String, String)] = []
    ) async throws {
        var head = HTTPResponseHead(version: .http1_1, status: status)
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: String(text.utf8.count))
        for (name, value) in extra { head.headers.add(name: name, value: value) }
        try await out.write(.head(head))
        try await out.write(.body(.byteBuffer(ByteBuffer(string: text))))
        try await out.write(.end(nil))
    }

    private func quote(_ text: String) -> String {
        String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
    }
}

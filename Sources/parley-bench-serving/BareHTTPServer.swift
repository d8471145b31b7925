import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyModelAPI
import ParleyProtocol

/// The synthetic model behind the plainest OpenAI-style SSE endpoint: Hummingbird on loopback, no
/// authentication, no cluster, no store. Run by this benchmark as a process of its own
/// (`--serve-bare PORT`) and driven by the same `parley-load`, it shows what HTTP and the load
/// generator alone add to the model's time to first token.
enum BareHTTPServer {
    static func run(port: Int, options: BenchOptions) async throws {
        let model = SyntheticModel(
            configuration: .init(
                timeToFirstToken: .milliseconds(options.ttftMilliseconds), tokensPerSecond: options.tokensPerSecond))
        let router = Router()
        router.post("/v1/chat/completions") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let generation = try ModelRequest(json: Data(body.readableBytesView))
            let events = try model.generate(generation)
            let id = generation.requestID
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("x-request-id")!: id,
                ],
                body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: event(id: 0, chunk(id, #"{"role":"assistant","content":""}"#, nil))))
                    for try await event in events {
                        switch event {
                        case .prompt:
                            continue
                        case .token(let index, let text, _):
                            try await writer.write(ByteBuffer(string: Self.event(id: index + 1, chunk(id, #"{"content":\#(quoted(text))}"#, nil))))
                        case .finished:
                            try await writer.write(ByteBuffer(string: Self.event(id: nil, chunk(id, "{}", "length")) + "data: [DONE]\n\n"))
                        }
                    }
                    try await writer.finish(nil)
                })
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }

    static func event(id: Int?, _ data: String) -> String {
        (id.map { "id: \($0)\n" } ?? "") + "data: \(data)\n\n"
    }

    static func chunk(_ id: String, _ delta: String, _ finish: String?) -> String {
        #"{"id":"\#(id)","object":"chat.completion.chunk","created":0,"model":"synthetic","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finish.map { "\"\($0)\"" } ?? "null")}]}"#
    }

    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        return data.map { String(decoding: $0.dropFirst().dropLast(), as: UTF8.self) } ?? "\"\""
    }
}

extension ModelRequest {
    /// The generation a chat request asks for: its messages, `max_completion_tokens` (or
    /// `max_tokens`) and `seed`, as the cluster hands them to the model.
    init(json: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any],
            let messages = object["messages"] as? [[String: Any]]
        else { throw BenchError("not a chat completion request") }
        let maxTokens = (object["max_completion_tokens"] as? Int) ?? (object["max_tokens"] as? Int)
        self.init(
            requestID: "chatcmpl-bare-\(UInt64.random(in: 0...UInt64.max))", userID: "bench",
            model: object["model"] as? String ?? "synthetic",
            messages: messages.map { ChatMessage(role: $0["role"] as? String ?? "user", content: $0["content"] as? String ?? "") },
            sampling: SamplingOptions(maxTokens: maxTokens, seed: (object["seed"] as? Int).map { UInt64(bitPattern: Int64($0)) }))
    }
}

import ParleyJSON
import ParleyProtocol
import ParleyToolCalls

/// An answer as the Responses API's output items and streamed events: `response.created` and
/// `response.in_progress`; for each output item `response.output_item.added`, its deltas
/// (`response.output_text.delta` in a message's one `output_text` part, opened and closed by
/// `response.content_part.added`/`.done`; `response.function_call_arguments.delta` in a call) and
/// its `.done` events; at the end `response.completed` (or `response.incomplete` when cut short,
/// `response.failed` after an `error` event), whose response holds the whole output.
///
/// When the request offered tools, calls in the answer's text (``ToolCallExtractor``) become
/// `function_call` items, the text around them `message` items. Whitespace at the end of text is
/// held back until more text follows, so no message is blank and none ends in the line break
/// before a call. The same reading builds a whole answer's output
/// (``whole(json:seed:readsCalls:text:logprobs:status:usage:)``), and a stream resumed from the
/// log reads it piece by piece as the live stream read its tokens: both name their items alike
/// and number their events alike.
struct ResponseEventRenderer: StreamRenderer {
    let json: ResponseJSON
    /// What item and call ids derive from (``ResponseIDs``).
    let seed: String
    private var extractor: ToolCallExtractor?
    private var sequence = 0
    /// The finished items' objects.
    private var items: [String] = []
    private var open: OpenItem?
    private var callCount = 0
    /// Whitespace that ended the text so far, not sent yet.
    private var heldSpace = ""
    /// Logprobs of tokens whose text has not gone out yet.
    private var heldLogprobs: [TokenLogprob] = []
    /// Events up to this sequence number are left out (a stream resumed after it).
    private let startingAfter: Int

    /// The item being written: a message (its text and its tokens' logprobs so far) or a call (its
    /// arguments so far). Its text grows in place, token by token.
    private struct OpenItem {
        enum Kind {
            case message
            case call(callID: String, name: String)
        }

        let id: String
        let kind: Kind
        var text = ""
        var logprobs: [TokenLogprob] = []

        var isCall: Bool {
            if case .call = kind { return true }
            return false
        }
    }

    /// `readsCalls`: calls in the text become function call items (the request offered tools, as
    /// its response id says when the answer is read again).
    init(json: ResponseJSON, seed: String, readsCalls: Bool, startingAfter: Int = -1) {
        self.json = json
        self.seed = seed
        self.startingAfter = startingAfter
        extractor = readsCalls ? ToolCallExtractor() : nil
    }

    /// The response object of a whole answer: its pieces (its tokens with their logprobs, or one
    /// piece of stored text) read as a stream reads them, ended with `status`.
    static func whole(
        json: ResponseJSON, seed: String, readsCalls: Bool, pieces: [(text: String, logprobs: [TokenLogprob])],
        status: ResponseStatus, usage: TokenUsage?
    ) -> String {
        var renderer = ResponseEventRenderer(json: json, seed: seed, readsCalls: readsCalls)
        for piece in pieces { _ = renderer.read(piece.text, logprobs: piece.logprobs) }
        _ = renderer.end(status: status)
        return json.object(status: status, output: renderer.items, usage: usage)
    }

    mutating func head() -> String {
        let response = json.object(status: .inProgress, output: [], usage: nil)
        return event("response.created", #""response":\#(response)"#)
            + event("response.in_progress", #""response":\#(response)"#)
    }

    mutating func text(for event: CompletionEvent) -> (text: String, ends: Bool)? {
        switch event {
        case .started, .prompt:
            return nil
        case .token(_, let text, let logprobs):
            let events = read(text, logprobs: logprobs)
            return events.isEmpty ? nil : (events, false)
        case .finished(let reason, let usage):
            return (finish(status: ResponseStatus(reason), usage: usage), true)
        }
    }

    /// The last events: what was held back, the open item's end, and `response.completed` (or
    /// `response.incomplete`) with the whole output.
    mutating func finish(status: ResponseStatus, usage: TokenUsage?) -> String {
        var text = end(status: status)
        let response = json.object(status: status, output: items, usage: usage)
        text += event(status.endEvent, #""response":\#(response)"#)
        return text
    }

    /// The events of the answer's next logged piece (a resumed stream reads the log as the live
    /// stream read its tokens, so both number their events alike).
    mutating func logged(_ text: String) -> String {
        read(text, logprobs: [])
    }

    mutating func failure(_ error: OpenAIError) -> String {
        let code = error.code ?? "server_error"
        let status = ResponseStatus.failed(code: code, message: error.message)
        var text = end(status: status)
        text += event(
            "error", #""code":\#(JSON.quote(code)),"message":\#(JSON.quote(error.message)),"param":\#(ResponseJSON.quoteOrNull(error.param))"#)
        let response = json.object(status: status, output: items, usage: nil)
        return text + event(status.endEvent, #""response":\#(response)"#)
    }

    // MARK: Items

    /// The events of the next piece of the answer. Its logprobs go with the text it releases (with
    /// the next piece's, when it releases none yet), not with a call's markup.
    private mutating func read(_ text: String, logprobs: [TokenLogprob]) -> String {
        heldLogprobs += logprobs
        guard extractor != nil else { return content(text) }
        let parts = extractor!.read(text)
        // A piece of a call's closing markup is none of the text's.
        if parts.isEmpty, open?.isCall == true { heldLogprobs = [] }
        var events = ""
        for part in parts { events += apply(part) }
        return events
    }

    /// Closes the open item (what the extractor held back first) as a response in `status` does.
    private mutating func end(status: ResponseStatus) -> String {
        var events = ""
        if extractor != nil {
            for part in extractor!.finish() { events += apply(part) }
        }
        return events + close(status: status.itemStatus)
    }

    private mutating func apply(_ part: ToolCallExtractor.Part) -> String {
        switch part {
        case .content(let text):
            return content(text)
        case .callBegins(let id, let name):
            // The tokens so far wrote the call's head: their logprobs are not the text's.
            heldLogprobs = []
            var events = close(status: "completed")
            let callID = id ?? ResponseIDs.callID(seed: seed, index: callCount)
            callCount += 1
            let itemID = ResponseIDs.outputItem(seed: seed, index: items.count, isCall: true)
            open = OpenItem(id: itemID, kind: .call(callID: callID, name: name))
            let item = ResponseJSON.functionCallItem(id: itemID, status: "in_progress", callID: callID, name: name, arguments: "")
            events += event("response.output_item.added", #""output_index":\#(items.count),"item":\#(item)"#)
            return events
        case .arguments(let piece):
            heldLogprobs = []
            guard let id = open?.id, open?.isCall == true else { return "" }
            open?.text += piece
            return event(
                "response.function_call_arguments.delta",
                #""item_id":\#(JSON.quote(id)),"output_index":\#(items.count),"delta":\#(JSON.quote(piece))"#)
        }
    }

    /// Text of the answer: a delta of the open message (opened first when none is), without the
    /// whitespace it ends with, which waits for more text.
    private mutating func content(_ text: String) -> String {
        var scalars = (heldSpace + text).unicodeScalars[...]
        let opensMessage = open == nil || open?.isCall == true
        // A message begins at its first visible character.
        if opensMessage { scalars = scalars.drop(while: { $0.properties.isWhitespace }) }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace }).map { scalars.index(after: $0) } ?? scalars.startIndex
        let body = String(scalars[..<end])
        let trailing = String(scalars[end...])
        guard !body.isEmpty else {
            heldSpace = trailing
            // Whitespace before a message's first visible character goes nowhere; so do its logprobs.
            if opensMessage { heldLogprobs = [] }
            return ""
        }
        var events = ""
        if opensMessage {
            events += close(status: "completed")
            let itemID = ResponseIDs.outputItem(seed: seed, index: items.count, isCall: false)
            open = OpenItem(id: itemID, kind: .message)
            events += event(
                "response.output_item.added",
                #""output_index":\#(items.count),"item":\#(ResponseJSON.openMessageItem(id: itemID))"#)
            events += event(
                "response.content_part.added",
                #""item_id":\#(JSON.quote(itemID)),"output_index":\#(items.count),"content_index":0,"#
                    + #""part":\#(json.outputText("", logprobs: []))"#)
        }
        heldSpace = trailing
        guard let id = open?.id else { return events }
        let logprobs = heldLogprobs
        heldLogprobs = []
        open?.text += body
        open?.logprobs += logprobs
        return events
            + event(
                "response.output_text.delta",
                #""item_id":\#(JSON.quote(id)),"output_index":\#(items.count),"content_index":0,"#
                    + #""delta":\#(JSON.quote(body)),"logprobs":\#(json.logprobList(logprobs))"#)
    }

    /// Ends the open item, if any, with its `.done` events (whitespace held after its text is dropped).
    private mutating func close(status: String) -> String {
        heldSpace = ""
        guard let item = open else { return "" }
        open = nil
        let index = items.count
        var events = ""
        let done: String
        switch item.kind {
        case .message:
            let head = #""item_id":\#(JSON.quote(item.id)),"output_index":\#(index),"content_index":0,"#
            events += event(
                "response.output_text.done",
                head + #""text":\#(JSON.quote(item.text)),"logprobs":\#(json.logprobList(item.logprobs))"#)
            events += event("response.content_part.done", head + #""part":\#(json.outputText(item.text, logprobs: item.logprobs))"#)
            done = json.messageItem(id: item.id, status: status, text: item.text, logprobs: item.logprobs)
        case .call(let callID, let name):
            events += event(
                "response.function_call_arguments.done",
                #""item_id":\#(JSON.quote(item.id)),"output_index":\#(index),"name":\#(JSON.quote(name)),"#
                    + #""arguments":\#(JSON.quote(item.text))"#)
            done = ResponseJSON.functionCallItem(id: item.id, status: status, callID: callID, name: name, arguments: item.text)
        }
        items.append(done)
        return events + event("response.output_item.done", #""output_index":\#(index),"item":\#(done)"#)
    }

    private mutating func event(_ type: String, _ fields: String) -> String {
        defer { sequence += 1 }
        return sequence > startingAfter ? ResponseJSON.event(type, sequence: sequence, fields) : ""
    }
}

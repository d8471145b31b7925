import Foundation

/// The state of a terminal chat (`parley chat`): which conversation it continues and what to send
/// next. Pure value; the command does the I/O.
///
/// While the server stores the exchange it names the conversation (`x-parley-conversation-id`),
/// and later turns send only the new message with `conversation_id` (the server supplies the
/// history). Without a stored conversation the session keeps the history and sends it whole.
public struct ChatSession: Sendable, Hashable {
    /// One line typed at the prompt.
    public enum Input: Sendable, Hashable {
        /// A message for the model.
        case message(String)
        /// `/new`: start a new conversation.
        case new
        /// `/list`: the latest conversations.
        case list
        /// `/search TEXT`.
        case search(String)
        /// `/open ID`: continue a stored conversation.
        case open(String)
        /// `/retry`: answer the last question again.
        case retry
        /// `/model`: the models served (nil), or `/model NAME`: answer with that one from now on.
        case model(String?)
        /// `/help`.
        case help
        /// `/quit` or `/exit`.
        case quit
        /// An empty line.
        case empty
        /// A slash command this client does not know, or one missing its argument; the text says which.
        case invalid(String)

        /// Reads one line. A line starting with `//` is a message starting with `/`.
        public init(line: String) {
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.hasPrefix("/") else {
                self = text.isEmpty ? .empty : .message(text)
                return
            }
            if text.hasPrefix("//") {
                self = .message(String(text.dropFirst()))
                return
            }
            let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            let command = parts[0].lowercased()
            let argument = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
            switch command {
            case "/new": self = .new
            case "/list": self = .list
            case "/retry": self = .retry
            case "/model": self = .model(argument.isEmpty ? nil : argument)
            case "/help", "/?": self = .help
            case "/quit", "/exit": self = .quit
            case "/search": self = argument.isEmpty ? .invalid("usage: /search TEXT") : .search(argument)
            case "/open": self = argument.isEmpty ? .invalid("usage: /open ID") : .open(argument)
            default: self = .invalid("unknown command \(command); /help lists them")
            }
        }
    }

    /// The model asked for.
    public var model: String
    /// The stored conversation this session continues; `nil` before the first answer of a new one.
    public private(set) var conversationID: String?
    /// The turns of a conversation the server does not store (sent whole each time).
    public private(set) var localHistory: [ChatCompletionRequest.Message] = []
    /// Answer length limit; `nil` leaves it to the server.
    public var maxTokens: Int?
    /// Sampling temperature; `nil` leaves it to the server.
    public var temperature: Double?
    /// The system message a new conversation starts with (stored with it); `nil` for none.
    public var systemPrompt: String?

    public init(
        model: String, conversationID: String? = nil, maxTokens: Int? = nil, temperature: Double? = nil,
        systemPrompt: String? = nil
    ) {
        self.model = model
        self.conversationID = conversationID
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.systemPrompt = systemPrompt
    }

    /// The request for the next user message.
    public func request(for message: String) -> ChatCompletionRequest {
        let user = ChatCompletionRequest.Message.user(message)
        if let conversationID {
            return ChatCompletionRequest(
                model: model, messages: [user], temperature: temperature, maxTokens: maxTokens,
                conversationID: conversationID)
        }
        let system = systemPrompt.map { [ChatCompletionRequest.Message.system($0)] } ?? []
        return ChatCompletionRequest(
            model: model, messages: system + localHistory + [user], temperature: temperature, maxTokens: maxTokens)
    }

    /// `/retry`: the request that answers the last question again, and that question's text. In a
    /// stored conversation it asks for a new answer to the stored question `questionID` (the server
    /// keeps the old answer beside it); otherwise the last exchange leaves the local history and its
    /// question is sent again. nil when there is no question to answer again.
    public mutating func retry(questionID: String?, question: String?) -> (request: ChatCompletionRequest, question: String)? {
        if let conversationID {
            guard let questionID, let question else { return nil }
            let request = ChatCompletionRequest(
                model: model, messages: [], temperature: temperature, maxTokens: maxTokens,
                conversationID: conversationID, parentMessageID: questionID)
            return (request, question)
        }
        guard localHistory.count >= 2, localHistory[localHistory.count - 2].role == "user" else { return nil }
        let question = localHistory[localHistory.count - 2].content
        localHistory.removeLast(2)
        return (request(for: question), question)
    }

    /// Records a finished (or stopped) exchange; `conversationID` is what the server named, if anything.
    public mutating func record(message: String, answer: String, conversationID: String?) {
        if let conversationID {
            self.conversationID = conversationID
            localHistory = []
        } else if self.conversationID == nil {
            localHistory.append(.user(message))
            localHistory.append(ChatCompletionRequest.Message(role: "assistant", content: answer))
        }
    }

    /// `/new`.
    public mutating func startNew() {
        conversationID = nil
        localHistory = []
    }

    /// `/open ID`.
    public mutating func open(_ id: String) {
        conversationID = id
        localHistory = []
    }

    /// A search snippet for a terminal, on one line: `<mark>…</mark>` becomes
    /// `highlightOn…highlightOff` (ANSI bold by default, empty strings for plain text) and HTML
    /// entities are decoded.
    public static func renderSnippet(_ snippet: String, highlightOn: String = "\u{1B}[1m", highlightOff: String = "\u{1B}[0m") -> String {
        // Control characters from stored text must not drive the terminal: dropped before the
        // highlight's own escape codes go in.
        var text = oneLine(snippet)
        text = text.replacingOccurrences(of: "<mark>", with: highlightOn)
        text = text.replacingOccurrences(of: "</mark>", with: highlightOff)
        for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&#x27;", "'"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: character)
        }
        return text
    }

    /// Stored text shown on one line of a list (a title, a snippet): line breaks, tabs and runs of
    /// spaces become one space, other control characters are dropped, the ends are trimmed.
    public static func oneLine(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !out.isEmpty
            } else if scalar.value >= 0x20 && !(0x7F...0x9F).contains(scalar.value) {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Text from the model or from storage made safe to print: control characters other than
    /// newline and tab (escape sequences among them) are dropped.
    public static func terminalSafe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F }) else {
            return text
        }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter {
            ($0.value >= 0x20 && $0.value != 0x7F) || $0 == "\n" || $0 == "\t"
        }))
    }
}

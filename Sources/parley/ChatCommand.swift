import ArgumentParser
import Foundation
import ParleyClient

/// `parley chat`: a terminal chat client that streams answers.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with Parley in the terminal; answers stream as they are written.",
        discussion: """
            With PROMPT, or with a prompt on standard input, prints one answer and exits; text piped in \
            beside a PROMPT goes after it (cat notes.txt | parley chat "Summarize this"). Otherwise an \
            interactive session starts; type a message, or /new, /list, /search TEXT, /open ID, /help, /quit. \
            Ctrl-C stops the current answer (and cancels it on the server); Ctrl-C twice at the prompt exits. \
            A dropped connection resumes by itself (on the next --url when several are given).
            """)

    @Option(name: .customLong("url"), help: "Gateway base URL, e.g. http://127.0.0.1:8080 (repeat for fallbacks).")
    var urls: [String]

    @Option(help: "API key (default: $PARLEY_API_KEY).")
    var apiKey: String?

    @Option(help: "Continue this stored conversation.")
    var conversation: String?

    @Option(help: "Model to use (default: the first one the cluster serves).")
    var model: String?

    @Option(help: "Longest answer in tokens (default: the model's own limit).")
    var maxTokens: Int?

    @Option(help: "Sampling temperature, 0 to 2 (0 always picks the likeliest token; default: the model's).")
    var temperature: Double?

    @Option(help: "A system message for new conversations: how the model should answer (stored with the chat).")
    var system: String?

    @Argument(help: "A prompt to answer without starting an interactive session.")
    var prompt: [String] = []

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give the gateway with --url URL") }
        if let temperature, !(0...2).contains(temperature) {
            throw ValidationError("--temperature must be between 0 and 2")
        }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if let system, system.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("--system must not be empty")
        }
    }

    func run() async throws {
        let key = apiKey ?? ProcessInfo.processInfo.environment["PARLEY_API_KEY"]
        let client = ParleyClient(configuration: .init(gatewayURLs: urls, apiKey: key))
        let interrupts = ChatInterrupts()
        do {
            try await session(client, interrupts)
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func session(_ client: ParleyClient, _ interrupts: ChatInterrupts) async throws {
        let modelName: String
        do {
            modelName = try await chooseModel(client)
        } catch {
            ChatOutput.error(Self.describe(error))
            throw ExitCode.failure
        }
        var session = ChatSession(
            model: modelName, conversationID: conversation, maxTokens: maxTokens, temperature: temperature,
            systemPrompt: system)
        if let conversation, system != nil {
            ChatOutput.status("note: --system starts new conversations; \(conversation) keeps its own")
        }
        let interactive = prompt.isEmpty && isatty(STDIN_FILENO) == 1
        if !interactive {
            var text = prompt.joined(separator: " ")
            if text.isEmpty {
                text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            } else if let piped = Self.pipedInput() {
                // `cat notes.txt | parley chat "Summarize this"`: the instruction, then the text.
                text += "\n\n" + piped
            }
            text = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else {
                ChatOutput.error("nothing to send: give a PROMPT or text on standard input")
                throw ExitCode.validationFailure
            }
            interrupts.exitOnInterruptAtPrompt = true
            switch await ask(text, &session, client, interrupts) {
            case .answered: return
            case .stopped: throw ExitCode(130)
            case .failed: throw ExitCode.failure
            }
        }
        ChatOutput.line("Parley chat on \(client.configuration.gatewayURLs[0]) with \(modelName). /help lists the commands.")
        if let conversation { try? await open(conversation, &session, client) }
        BracketedPaste.enable()
        defer { BracketedPaste.disable() }
        var assembler = PromptAssembler()
        while true {
            ChatOutput.text(assembler.prompt)
            guard let line = await interrupts.readLine() else {
                ChatOutput.line("")
                if let text = assembler.flush() { _ = await ask(text, &session, client, interrupts) }
                return
            }
            let input: ChatSession.Input
            switch assembler.add(line) {
            case .incomplete: continue
            case .line(let text): input = ChatSession.Input(line: text)
            case .message(let text):
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                input = trimmed.isEmpty ? .empty : .message(trimmed)
            }
            switch input {
            case .empty: continue
            case .quit: return
            case .help: ChatOutput.line(Self.help)
            case .new:
                session.startNew()
                ChatOutput.line("(new conversation)")
            case .list: await list(client)
            case .search(let text): await search(text, client)
            case .open(let id):
                do { try await open(id, &session, client) } catch { ChatOutput.error(Self.describe(error)) }
            case .invalid(let why): ChatOutput.error(why)
            case .retry: await retry(&session, client, interrupts)
            case .model(let name): await switchModel(to: name, &session, client)
            case .message(let text): _ = await ask(text, &session, client, interrupts)
            }
        }
    }

    static let help = """
        Type a message and press Enter; a pasted text is one message, and so are the lines
        between two lines of \"\"\". Commands:
          /new          start a new conversation
          /list         your latest conversations
          /search TEXT  search all your conversations
          /open ID      continue a conversation (shows its messages)
          /retry        answer the last question again (the old answer is kept beside it)
          /model [NAME] the models served, or answer with NAME from now on
          /quit         leave (or Ctrl-D; Ctrl-C twice)
        Ctrl-C while an answer streams stops it.
        """

    /// `--model`, else the first model the cluster serves. A cluster that has just started (or whose
    /// model nodes are restarting) may list none for a moment: it is asked again for up to 10 s.
    private func chooseModel(_ client: ParleyClient) async throws -> String {
        if let model { return model }
        let deadline = ContinuousClock.now + .seconds(10)
        var waiting = false
        while true {
            if let first = try await client.models().first { return first.id }
            guard ContinuousClock.now < deadline else {
                throw ValidationError("the cluster serves no model yet; give one with --model")
            }
            if !waiting {
                ChatOutput.status("waiting for the cluster to serve a model…")
                waiting = true
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    enum Outcome { case answered, stopped, failed }

    /// `/model`: lists the models the cluster serves (the one in use marked); `/model NAME` switches
    /// to NAME if the cluster serves it.
    private func switchModel(to name: String?, _ session: inout ChatSession, _ client: ParleyClient) async {
        let served: [String]
        do {
            served = try await client.models().map(\.id)
        } catch {
            ChatOutput.error(Self.describe(error))
            return
        }
        guard let name else {
            for id in served { ChatOutput.line("\(id == session.model ? "*" : " ") \(id)") }
            if served.isEmpty { ChatOutput.line("(no model is served right now)") }
            return
        }
        guard served.contains(name) else {
            ChatOutput.error("no live node serves \(name); served: \(served.joined(separator: ", "))")
            return
        }
        session.model = name
        ChatOutput.line("(answering with \(name))")
    }

    /// `/retry`: a new answer to the last question, printed as it streams.
    private func retry(_ session: inout ChatSession, _ client: ParleyClient, _ interrupts: ChatInterrupts) async {
        var question: (id: String, text: String)?
        if let id = session.conversationID {
            do {
                let branch = try await client.conversation(id: id).visibleBranch
                question = branch.last(where: { $0.role == "user" }).map { ($0.id, $0.content) }
            } catch {
                ChatOutput.error(Self.describe(error))
                return
            }
        }
        guard let (request, text) = session.retry(questionID: question?.id, question: question?.text) else {
            ChatOutput.error("nothing to retry yet: ask something first")
            return
        }
        _ = await ask(text, request: request, &session, client, interrupts)
    }

    /// Sends one message and prints the answer as it streams; Ctrl-C stops it and cancels it on the server.
    private func ask(_ text: String, _ session: inout ChatSession, _ client: ParleyClient, _ interrupts: ChatInterrupts) async -> Outcome {
        await ask(text, request: session.request(for: text), &session, client, interrupts)
    }

    /// Sends `request` (asking `text`) and prints the answer as it streams.
    private func ask(
        _ text: String, request: ChatCompletionRequest, _ session: inout ChatSession, _ client: ParleyClient,
        _ interrupts: ChatInterrupts
    ) async -> Outcome {
        let interruptions = interrupts.beginAnswer()
        defer { interrupts.endAnswer() }
        let stream: ChatCompletionStream
        do {
            stream = try await client.streamChatCompletion(request)
        } catch {
            ChatOutput.error(Self.describe(error))
            return .failed
        }
        let answer = ChatAnswerText()
        let progress = PromptProgressLine()
        enum Step: Sendable { case done, interrupted, failed(String) }
        let step = await withTaskGroup(of: Step.self) { group in
            group.addTask {
                do {
                    for try await event in stream {
                        switch event {
                        case .promptProgress(let computed, let total):
                            progress.show(computed: computed, of: total)
                        case .content(let piece, _):
                            progress.clear()
                            answer.append(piece)
                            ChatOutput.text(ChatSession.terminalSafe(piece))
                        case .resumed(let resume):
                            ChatOutput.status("[connection dropped; resumed on \(resume.gatewayURL)]")
                        case .finished(let reason) where reason != "stop":
                            ChatOutput.status("[\(reason)]")
                        case .finished, .usage, .end, .logprobs, .toolCall:
                            break
                        }
                    }
                    return .done
                } catch {
                    return .failed(Self.describe(error))
                }
            }
            group.addTask {
                for await _ in interruptions { return .interrupted }
                return .done
            }
            let first = await group.next() ?? .done
            group.cancelAll()
            return first
        }
        progress.clear()
        ChatOutput.line("")
        switch step {
        case .done:
            session.record(message: text, answer: answer.value, conversationID: stream.conversationID)
            return .answered
        case .interrupted:
            let cancelled = (try? await stream.cancel()) ?? false
            ChatOutput.status(cancelled ? "[stopped]" : "[stopped here; the server had already finished]")
            session.record(message: text, answer: answer.value, conversationID: stream.conversationID)
            return .stopped
        case .failed(let message):
            ChatOutput.error(message)
            session.record(message: text, answer: answer.value, conversationID: stream.conversationID)
            return .failed
        }
    }

    private func list(_ client: ParleyClient) async {
        do {
            let page = try await client.conversations(limit: 20)
            if page.data.isEmpty { ChatOutput.line("(no conversations yet)") }
            for item in page.data {
                let title = item.title.isEmpty ? "(untitled)" : ChatSession.oneLine(item.title)
                ChatOutput.line("\(item.pinned ? "*" : " ") \(item.id)  \(Self.date(item.updatedAt))  \(title)")
            }
            if page.nextCursor != nil { ChatOutput.line("  … more: /search finds older ones") }
        } catch {
            ChatOutput.error(Self.describe(error))
        }
    }

    private func search(_ text: String, _ client: ParleyClient) async {
        do {
            let hits = try await client.searchConversations(text, limit: 10)
            if hits.data.isEmpty { ChatOutput.line("(no match)") }
            let bold = isatty(STDOUT_FILENO) == 1
            for hit in hits.data {
                let snippet = ChatSession.renderSnippet(hit.snippet, highlightOn: bold ? "\u{1B}[1m" : "[", highlightOff: bold ? "\u{1B}[0m" : "]")
                ChatOutput.line("\(hit.conversationID)  \(Self.date(hit.createdAt))  \(hit.role): \(snippet)")
            }
            if !hits.data.isEmpty { ChatOutput.line("(/open ID continues one)") }
        } catch {
            ChatOutput.error(Self.describe(error))
        }
    }

    private func open(_ id: String, _ session: inout ChatSession, _ client: ParleyClient) async throws {
        let details = try await client.conversation(id: id)
        session.open(details.conversation.id)
        ChatOutput.line("— \(ChatSession.oneLine(details.conversation.title)) (\(details.conversation.id))")
        for message in details.visibleBranch {
            let who = message.role == "user" ? "you" : message.role
            let note = message.status == "complete" ? "" : " [\(message.status)]"
            ChatOutput.line("\(who): \(ChatSession.terminalSafe(message.content))\(note)")
        }
    }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    /// Text piped or redirected in beside a PROMPT, nil when there is none. A file is read whole;
    /// a pipe is read to its end when it brings data (or closes) within a second — a terminal, or a
    /// pipe that stays silent (a supervisor's open stdin), is never waited on.
    static func pipedInput() -> String? {
        guard isatty(STDIN_FILENO) == 0 else { return nil }
        var info = stat()
        guard fstat(STDIN_FILENO, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            break
        case S_IFIFO, S_IFSOCK:
            var waiting = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
            guard poll(&waiting, 1, 1_000) > 0 else { return nil }
        default:
            return nil
        }
        let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : text
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? ParleyClientError else { return "\(error)" }
        switch error.code {
        case .unauthorized: return "not signed in: check --api-key (\(error.message))"
        case .rateLimited:
            return "rate limited: \(error.message)" + (error.retryAfter.map { "; try again in \($0)" } ?? "")
        case .connectionFailed: return "cannot reach the gateway: \(error.cause.map { "\($0)" } ?? error.message)"
        default:
            // The server's own words first; its status and code for a bug report.
            guard let status = error.status else { return error.description }
            return error.message + " (HTTP \(status)" + (error.apiCode.map { ", \($0)" } ?? "") + ")"
        }
    }
}

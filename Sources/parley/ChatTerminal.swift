// The terminal side of `parley chat`: where its text goes, and Ctrl-C.

import Dispatch
import Foundation
import Synchronization

/// The text of the answer being streamed, read after the reading task ended or was cancelled.
final class ChatAnswerText: Sendable {
    private let text = Mutex("")
    func append(_ piece: String) { text.withLock { $0 += piece } }
    var value: String { text.withLock { $0 } }
}

/// Terminal output: the answer and prompts on standard output, status and errors on standard error.
enum ChatOutput {
    static func text(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func status(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data(("error: " + text + "\n").utf8))
    }
}

/// "reading your message… 40%" on the terminal while the model reads a long prompt, wiped when the
/// answer starts. Only when both outputs are a terminal (a pipe gets the answer alone).
final class PromptProgressLine: Sendable {
    private let shown = Mutex(false)
    private let applies = isatty(STDOUT_FILENO) == 1 && isatty(STDERR_FILENO) == 1

    func show(computed: Int, of total: Int) {
        guard applies else { return }
        shown.withLock { $0 = true }
        let percent = total > 0 ? min(100, computed * 100 / total) : 0
        FileHandle.standardError.write(Data("\r\u{1B}[2m[reading your message… \(percent)%]\u{1B}[0m\u{1B}[K".utf8))
    }

    /// Wipes the line, if shown, before the answer's first text goes out.
    func clear() {
        guard shown.withLock({ let was = $0; $0 = false; return was }) else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// Bracketed paste: a terminal then marks pasted text, so its lines arrive as one message
/// (`PromptAssembler`). Only when both ends are a terminal.
enum BracketedPaste {
    static var applies: Bool { isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1 }

    static func enable() {
        if applies { ChatOutput.text("\u{1B}[?2004h") }
    }

    static func disable() {
        if applies { ChatOutput.text("\u{1B}[?2004l") }
    }
}

/// Ctrl-C for the chat: while an answer streams it is delivered to that answer; at the prompt the
/// first press warns and the second exits (status 130).
final class ChatInterrupts: Sendable {
    private struct State {
        var answering: AsyncStream<Void>.Continuation?
        var armed = false
        var exitAtPrompt = false
    }

    private let state = Mutex(State())
    // Safe: the source is created and resumed once in init and only read afterwards (kept alive).
    private nonisolated(unsafe) let source: any DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in self?.interrupted() }
        source.resume()
    }

    deinit { source.cancel() }

    private func interrupted() {
        enum Action { case delivered, warn, exit }
        let action: Action = state.withLock { state in
            if let answering = state.answering {
                answering.yield()
                return .delivered
            }
            if state.armed || state.exitAtPrompt { return .exit }
            state.armed = true
            return .warn
        }
        switch action {
        case .warn: ChatOutput.text("\n(press Ctrl-C again to quit, or type a message)\n> ")
        case .exit:
            ChatOutput.line("")
            BracketedPaste.disable()
            exit(130)
        case .delivered: break
        }
    }

    /// Exit on the first Ctrl-C outside an answer (one-shot mode).
    var exitOnInterruptAtPrompt: Bool {
        get { state.withLock { $0.exitAtPrompt } }
        set { state.withLock { $0.exitAtPrompt = newValue } }
    }

    /// From now on Ctrl-C goes to the returned sequence (one element per press).
    func beginAnswer() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock {
            $0.answering = continuation
            $0.armed = false
        }
        return stream
    }

    func endAnswer() {
        state.withLock {
            $0.answering?.finish()
            $0.answering = nil
        }
    }

    /// One line of standard input (read on a thread of its own), `nil` at end of input.
    func readLine() async -> String? {
        let line: String? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Swift.readLine(strippingNewline: true)) }
        }
        state.withLock { $0.armed = false }
        return line
    }
}

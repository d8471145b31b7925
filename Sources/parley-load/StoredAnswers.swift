import ParleyClient
import Synchronization

/// The acknowledged answers of a run (streams that ended with `[DONE]` and were stored), checked
/// against the conversation history once the run is over: an acknowledged message that the history
/// does not hold — the user's prompt, or the whole answer marked complete as its reply — is lost.
final class StoredAnswers: Sendable {
    struct Answer: Sendable {
        var user: Int
        var conversationID: String
        var prompt: String
        var text: String
    }

    struct Outcome: Sendable {
        var checked = 0
        var lost = 0
        /// One line per lost answer (at most 20).
        var examples: [String] = []
    }

    private let answers = Mutex([Answer]())

    func add(_ answer: Answer) {
        answers.withLock { $0.append(answer) }
    }

    /// Reads every answer's conversation through the client of its user (`client(user)`), 16 at a
    /// time; an answer not found is asked again for up to `patience` (replicas may still converge).
    func verify(patience: Duration = .seconds(10), client: @escaping @Sendable (Int) -> ParleyClient) async -> Outcome {
        let all = answers.withLock { $0 }
        var outcome = Outcome()
        var index = 0
        while index < all.count {
            let batch = all[index..<min(all.count, index + 16)]
            index += batch.count
            let results = await withTaskGroup(of: (Answer, String?).self) { group in
                for answer in batch {
                    group.addTask { (answer, await Self.check(answer, client: client(answer.user), patience: patience)) }
                }
                var results: [(Answer, String?)] = []
                for await result in group { results.append(result) }
                return results
            }
            for (answer, problem) in results {
                outcome.checked += 1
                guard let problem else { continue }
                outcome.lost += 1
                if outcome.examples.count < 20 { outcome.examples.append("\(answer.conversationID): \(problem)") }
            }
        }
        return outcome
    }

    /// nil when the history holds the answer, else what is wrong.
    static func check(_ answer: Answer, client: ParleyClient, patience: Duration) async -> String? {
        let deadline = ContinuousClock.now.advanced(by: patience)
        var problem = "not checked"
        repeat {
            do {
                let details = try await client.conversation(id: answer.conversationID)
                let prompts = details.messages.filter { $0.role == "user" && $0.content == answer.prompt }
                let replies = details.messages.filter { message in
                    message.role == "assistant" && prompts.contains { $0.id == message.parentID }
                }
                if prompts.isEmpty {
                    problem = "the prompt is missing"
                } else if !replies.contains(where: { $0.content == answer.text && ["complete", "truncated"].contains($0.status) }) {
                    problem = "no complete reply equals the streamed answer (replies: "
                        + replies.map { "\($0.status) \($0.content.count) chars" }.joined(separator: ", ") + ")"
                } else {
                    return nil
                }
            } catch {
                problem = "unreadable: \(error)"
            }
            try? await Task.sleep(for: .milliseconds(500))
        } while ContinuousClock.now < deadline
        return problem
    }
}

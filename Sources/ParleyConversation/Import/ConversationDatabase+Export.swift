package import Foundation
import ParleyProtocol

extension ConversationDatabase {
    /// One conversation in ChatGPT's export format (a `conversations.json` element): every
    /// branch as a `mapping` tree, `current_node` the visible leaf. Parley-only details (the
    /// `cancelled` status, token counts) ride in `metadata` so an export re-imports unchanged.
    package func exportChatGPT(owner: String, id: String) async throws -> Data {
        let details = try await conversation(owner: owner, id: id)
        var mapping: [String: ChatGPTExport.Node] = [:]
        var children: [String: [String]] = [:]
        for message in details.messages {
            if let parent = message.parentID { children[parent, default: []].append(message.id) }
        }
        for message in details.messages {
            var metadata = ChatGPTExport.Metadata()
            metadata.model_slug = message.model
            metadata.parley_prompt_tokens = message.promptTokens
            metadata.parley_completion_tokens = message.completionTokens
            switch message.status {
            case .complete:
                if message.role == .assistant { metadata.finish_details = ChatGPTExport.FinishDetails(type: "stop") }
            case .truncated:
                metadata.parley_status = message.status.rawValue
                metadata.finish_details = ChatGPTExport.FinishDetails(type: "max_tokens")
            case .cancelled, .interrupted, .streaming:
                metadata.parley_status = message.status.rawValue
                metadata.finish_details = ChatGPTExport.FinishDetails(type: "interrupted")
            }
            let finished = message.status == .complete || message.status == .truncated
            let body = ChatGPTExport.Message(
                id: message.id, author: ChatGPTExport.Author(role: message.role.rawValue, name: nil),
                create_time: UnixSeconds.of(message.createdAt),
                content: ChatGPTExport.Content(content_type: "text", parts: [.text(message.content)], text: nil),
                status: finished ? "finished_successfully" : "in_progress",
                end_turn: message.role == .assistant ? message.status == .complete : nil, weight: 1.0,
                metadata: metadata, recipient: "all")
            mapping[message.id] = ChatGPTExport.Node(
                id: message.id, message: body, parent: message.parentID, children: children[message.id] ?? [])
        }
        let summary = details.summary
        let export = ChatGPTExport.Conversation(
            title: summary.title, create_time: UnixSeconds.of(summary.createdAt),
            update_time: UnixSeconds.of(summary.updatedAt), mapping: mapping, current_node: summary.currentMessageID,
            conversation_id: summary.id, id: summary.id, default_model_slug: summary.model)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(export)
        } catch {
            throw ConversationError(.storageFailure, "cannot encode the export", cause: error)
        }
    }
}

enum UnixSeconds {
    /// Millisecond-exact seconds since 1970.
    static func of(_ date: Date) -> Double {
        Double(ConversationDatabase.millis(date)) / 1000
    }
}

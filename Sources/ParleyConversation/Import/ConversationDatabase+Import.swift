package import Foundation
import Logging
import GRDB
package import ParleyProtocol

extension ConversationDatabase {
    /// Imports a ChatGPT data export (`conversations.json`: an array, or one conversation object)
    /// into `owner`'s account, keeping every branch. Ids derive from the source ids, so importing
    /// the same file again adds nothing; a conversation exported from this account maps onto
    /// itself. Entries without a `mapping` are skipped with a warning.
    package func importChatGPT(owner: String, json: Data) async throws -> ConversationImportResult {
        try Validation.owner(owner)
        let entries: [ChatGPTExport.Conversation?]
        do {
            if json.first(where: { !$0.isASCIIWhitespace }) == UInt8(ascii: "{") {
                entries = [try JSONDecoder().decode(ChatGPTExport.Conversation.self, from: json)]
            } else {
                entries = try JSONDecoder().decode([ChatGPTExport.Lossy].self, from: json).map(\.value)
            }
        } catch {
            throw ConversationError(.invalidInput, "not a ChatGPT export (conversations.json)", cause: error)
        }
        var result = ConversationImportResult()
        for (index, entry) in entries.enumerated() {
            guard let entry else {
                result.conversationsSkipped += 1
                result.warnings.append("entry \(index): not a conversation object; skipped")
                continue
            }
            guard let mapping = entry.mapping, !mapping.isEmpty else {
                result.conversationsSkipped += 1
                result.warnings.append("entry \(index): no mapping; skipped")
                continue
            }
            let plan = ImportPlan(owner: owner, entry: entry, mapping: mapping, index: index)
            result.warnings += plan.warnings
            result.messagesSkipped += plan.skippedNodes
            let writer = self.writer
            let outcome = try await write { db in try plan.store(db, writer: writer) }
            result.conversationsImported += outcome.conversationCreated ? 1 : 0
            result.conversationsSkipped += outcome.conversationCreated ? 0 : 1
            result.messagesImported += outcome.messagesInserted
            result.messagesSkipped += plan.messages.count - outcome.messagesInserted
            if let warning = outcome.warning { result.warnings.append("entry \(index): \(warning)") }
        }
        logger.info("imported ChatGPT export", metadata: [
            "import.conversations": "\(result.conversationsImported)", "import.messages": "\(result.messagesImported)",
        ])
        return result
    }
}

/// One export entry turned into rows, before touching the database.
struct ImportPlan: Sendable {
    struct Outcome: Sendable {
        var conversationCreated = false
        var messagesInserted = 0
        var warning: String?
    }

    let owner: String
    let sourceID: String
    let title: String
    let createdAt: Int64
    let updatedAt: Int64
    let model: String?
    /// Source node id of each message, in parent-before-child order.
    var messages: [(node: String, record: MessageRecord)] = []
    var currentNode: String?
    var warnings: [String] = []
    var skippedNodes = 0

    init(owner: String, entry: ChatGPTExport.Conversation, mapping: [String: ChatGPTExport.Node], index: Int) {
        self.owner = owner
        let fallbackTime = entry.create_time ?? entry.update_time ?? 0
        sourceID = entry.conversation_id ?? entry.id ?? "untitled:\(entry.title ?? ""):\(fallbackTime):\(index)"
        title = String(decoding: (entry.title ?? "Imported chat").replacingOccurrences(of: "\u{0}", with: "").utf8
            .prefix(ConversationLimits.maxTitleBytes), as: UTF8.self)
        createdAt = Self.millis(entry.create_time) ?? 0
        updatedAt = Self.millis(entry.update_time) ?? createdAt
        model = entry.default_model_slug.flatMap { $0.utf8.count <= Validation.maxModelBytes ? $0 : nil }

        // Walk the tree from its roots, parents before children; a node without a usable message
        // passes its parent on to its children, so every branch stays connected.
        var children: [String: [String]] = [:]
        var roots: [String] = []
        for (key, node) in mapping {
            if let parent = node.parent, mapping[parent] != nil, parent != key {
                children[parent, default: []].append(key)
            } else {
                roots.append(key)
            }
        }
        var visited = Set<String>()
        var stored: [String: String] = [:]  // source node → stored message id
        var stack: [(node: String, parentMessage: String?)] = roots.sorted().reversed().map { ($0, nil) }
        let conversationNamespace = sourceID
        while let (key, parentMessage) = stack.popLast() {
            guard visited.insert(key).inserted, let node = mapping[key] else { continue }
            var nextParent = parentMessage
            if let record = Self.record(
                node: node, key: key, parentID: parentMessage, owner: owner, conversationSource: conversationNamespace,
                fallbackTime: createdAt, warnings: &warnings)
            {
                messages.append((key, record))
                stored[key] = record.id
                nextParent = record.id
            } else {
                skippedNodes += 1
            }
            for child in (children[key] ?? []).sorted().reversed() { stack.append((child, nextParent)) }
        }
        // The visible leaf: the current node, or its nearest ancestor that was stored.
        var cursor = entry.current_node
        var hops = 0
        while let key = cursor, stored[key] == nil, hops < mapping.count {
            cursor = mapping[key]?.parent
            hops += 1
        }
        currentNode = cursor.flatMap { stored[$0] } ?? messages.last?.record.id
    }

    private static func millis(_ seconds: Double?) -> Int64? {
        guard let seconds, seconds.isFinite, abs(seconds) < 1e11 else { return nil }
        return Int64((seconds * 1000).rounded())
    }

    private static func record(
        node: ChatGPTExport.Node, key: String, parentID: String?, owner: String, conversationSource: String,
        fallbackTime: Int64, warnings: inout [String]
    ) -> MessageRecord? {
        guard let message = node.message, let roleName = message.author?.role else { return nil }
        let role = MessageRole(rawValue: roleName)
        guard MessageRole.known.contains(role) else {
            warnings.append("message with role '\(roleName.prefix(32))' skipped")
            return nil
        }
        let metadata = message.metadata
        var text: String
        if let parts = message.content?.parts {
            text = parts.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined(separator: "\n")
            if parts.contains(where: { if case .other = $0 { true } else { false } }) {
                warnings.append("non-text content parts (images, files) were left out")
            }
        } else {
            text = message.content?.text ?? ""
        }
        if role == .system && (text.isEmpty || metadata?.is_visually_hidden_from_conversation == true) { return nil }
        if text.utf8.contains(0) {
            text = text.replacingOccurrences(of: "\u{0}", with: "\u{FFFD}")
            warnings.append("NUL characters replaced")
        }
        guard text.utf8.count <= ConversationLimits.maxContentBytes else {
            warnings.append("a message over \(ConversationLimits.maxContentBytes) bytes was skipped")
            return nil
        }
        let status: MessageStatus
        if let own = metadata?.parley_status.flatMap(MessageStatus.init(rawValue:)) {
            status = own
        } else if metadata?.finish_details?.type == "max_tokens" {
            status = .truncated
        } else if metadata?.finish_details?.type == "interrupted"
            || (message.status != nil && message.status != "finished_successfully")
        {
            status = .interrupted
        } else {
            status = .complete
        }
        let modelSlug = metadata?.model_slug.flatMap { $0.utf8.count <= Validation.maxModelBytes ? $0 : nil }
        return MessageRecord(
            id: "",  // assigned in `store` once the id scheme is known
            conversationID: "", owner: owner, parentID: parentID, role: role.rawValue, body: text, model: modelSlug,
            promptTokens: metadata?.parley_prompt_tokens.map(Int64.init),
            completionTokens: metadata?.parley_completion_tokens.map(Int64.init), status: status.rawValue,
            createdAt: millis(message.create_time) ?? fallbackTime)
            .withSourceKey(key)
    }

    /// Writes the plan in one transaction. Ids: if the source conversation id is a conversation
    /// of this owner (an export from this account), the source ids are used as they are;
    /// otherwise ids derive from owner + source ids.
    func store(_ db: Database, writer: StorageWriter) throws -> Outcome {
        var outcome = Outcome()
        let identity: Bool
        if UUIDText.isWellFormed(sourceID), let existing = try writer.loadConversation(db, id: sourceID) {
            identity = existing.owner == owner
        } else {
            identity = false
        }
        let conversationID = identity ? sourceID : DeterministicID.make(namespace: "chatgpt-conversation", owner: owner, sourceID: sourceID)
        func messageID(_ node: String) -> String {
            identity && UUIDText.isWellFormed(node)
                ? node : DeterministicID.make(namespace: "chatgpt-message", owner: owner, sourceID: sourceID + "/" + node)
        }
        var idOfStored: [String: String] = [:]  // placeholder id → final id
        for (node, record) in messages { idOfStored[record.id] = messageID(node) }
        let existing = try writer.loadConversation(db, id: conversationID)
        if let existing {
            guard existing.owner == owner else { throw ConversationError(.conflict, "conversation id collision") }
            if existing.isDeleted {
                outcome.warning = "this conversation was deleted here before; skipped"
                return outcome
            }
        } else {
            let version = writer.tick()
            _ = try writer.userNumber(db, owner: owner)
            try writer.mergeConversation(db, ConversationRecord(
                id: conversationID, owner: owner, createdAt: createdAt, updatedAt: max(updatedAt, createdAt),
                title: title, titleVersion: version, pinned: false, pinnedVersion: .zero,
                currentMessageID: currentNode.flatMap { idOfStored[$0] }, model: model, leafVersion: version,
                deletedVersion: .zero))
            outcome.conversationCreated = true
        }
        outcome.messagesInserted = try writer.insertMessages(db, messages.map { _, record in
            var final = record
            final.id = idOfStored[record.id]!
            final.conversationID = conversationID
            final.parentID = record.parentID.flatMap { idOfStored[$0] }
            return final
        })
        return outcome
    }
}

extension MessageRecord {
    /// Import planning keys messages by their source node until final ids are known.
    fileprivate func withSourceKey(_ key: String) -> MessageRecord {
        var copy = self
        copy.id = "src:" + key
        return copy
    }
}

extension UInt8 {
    fileprivate var isASCIIWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}

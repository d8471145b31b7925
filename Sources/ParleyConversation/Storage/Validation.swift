import Foundation
import ParleyProtocol

/// Input checks shared by the API calls; each failure is a ``ConversationError`` with a code.
enum Validation {
    static let maxOwnerBytes = 256
    static let maxModelBytes = 256

    static func owner(_ owner: String) throws {
        guard !owner.isEmpty, owner.utf8.count <= maxOwnerBytes, !owner.utf8.contains(0) else {
            throw ConversationError(.invalidInput, "the owner id must be 1...\(maxOwnerBytes) bytes")
        }
    }

    static func title(_ title: String) throws {
        try noNUL(title)
        guard title.utf8.count <= ConversationLimits.maxTitleBytes else {
            throw ConversationError(.tooLarge, "titles are limited to \(ConversationLimits.maxTitleBytes) bytes")
        }
    }

    static func content(_ content: String) throws {
        try noNUL(content)
        let size = content.utf8.count
        guard size <= ConversationLimits.maxContentBytes else {
            throw ConversationError(
                .tooLarge,
                "message content is \(size) bytes; the limit is \(ConversationLimits.maxContentBytes) bytes")
        }
    }

    /// SQLite text cannot carry U+0000 through GRDB's string reads, so it is refused up front.
    static func noNUL(_ text: String) throws {
        // A native string's bytes are contiguous: memchr instead of the generic element-wise
        // search (which showed in the replicas' profiles, every pushed row's texts being checked).
        let found = text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.isEmpty ? false : memchr(bytes.baseAddress!, 0, bytes.count) != nil
        } ?? text.utf8.contains(0)
        guard !found else {
            throw ConversationError(.invalidInput, "text must not contain NUL (U+0000) characters")
        }
    }

    static func role(_ role: MessageRole) throws {
        guard MessageRole.known.contains(role) else {
            throw ConversationError(.invalidInput, "unknown message role")
        }
    }

    static func model(_ model: String?) throws {
        if let model { try noNUL(model) }
        guard (model?.utf8.count ?? 0) <= maxModelBytes else {
            throw ConversationError(.tooLarge, "model names are limited to \(maxModelBytes) bytes")
        }
    }

    /// A generation run's request id (1...128 bytes) and producer (1...256 bytes), without NUL.
    static func runStart(requestID: String, producer: String) throws {
        guard !requestID.isEmpty, requestID.utf8.count <= 128, !producer.isEmpty, producer.utf8.count <= 256 else {
            throw ConversationError(.invalidInput, "request ids are 1...128 bytes, producers 1...256")
        }
        try noNUL(requestID)
        try noNUL(producer)
    }

    /// Decodes untrusted bytes as UTF-8, refusing invalid sequences instead of repairing them.
    static func utf8(_ bytes: some Collection<UInt8>) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConversationError(.invalidInput, "the text is not valid UTF-8")
        }
        return text
    }
}

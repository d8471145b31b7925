/// The parts of ChatGPT's data export (`conversations.json`) that Parley reads and writes.
/// Every field is optional and unknown fields are ignored, so format drift degrades to warnings.
enum ChatGPTExport {
    struct Conversation: Codable {
        var title: String?
        var create_time: Double?
        var update_time: Double?
        var mapping: [String: Node]?
        var current_node: String?
        var conversation_id: String?
        var id: String?
        var default_model_slug: String?
    }

    struct Node: Codable {
        var id: String?
        var message: Message?
        var parent: String?
        var children: [String]?
    }

    struct Message: Codable {
        var id: String?
        var author: Author?
        var create_time: Double?
        var content: Content?
        var status: String?
        var end_turn: Bool?
        var weight: Double?
        var metadata: Metadata?
        var recipient: String?
    }

    struct Author: Codable {
        var role: String?
        var name: String?
    }

    struct Content: Codable {
        var content_type: String?
        var parts: [Part]?
        var text: String?
    }

    /// A content part: text, or something else (image pointers, files) that Parley does not keep.
    enum Part: Codable {
        case text(String)
        case other

        init(from decoder: any Decoder) throws {
            if let text = try? decoder.singleValueContainer().decode(String.self) {
                self = .text(text)
            } else {
                self = .other
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .text(let text): try container.encode(text)
            case .other: try container.encodeNil()
            }
        }
    }

    struct Metadata: Codable {
        var model_slug: String?
        var finish_details: FinishDetails?
        var is_visually_hidden_from_conversation: Bool?
        /// Parley's own status (`cancelled` has no ChatGPT equivalent), kept for round trips.
        var parley_status: String?
        var parley_prompt_tokens: Int?
        var parley_completion_tokens: Int?
    }

    struct FinishDetails: Codable {
        var type: String?
    }

    /// One array element that may fail to decode without failing the whole file.
    struct Lossy: Decodable {
        var value: Conversation?

        init(from decoder: any Decoder) throws {
            value = try? Conversation(from: decoder)
        }
    }
}

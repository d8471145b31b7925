public import ParleyCluster

/// Conversation errors cross the wire with their code and message; the caller sees a
/// `ClusterError` whose `code.rawValue` is the conversation error's code.
extension ConversationError: WireError {
    public var wireCode: String { code.rawValue }
    public var wireMessage: String { message }
}

/// ChatML: `<|im_start|>role\ncontent<|im_end|>\n` per message, contents as they are.
extension ChatTemplate {
    static let start = "<|im_start|>"
    static let end = "<|im_end|>"

    static let chatMLShapes: [Shape] = [
        // With a default system message (SmolLM2); the literal is captured.
        Shape(
            """
            {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}\
            {{ '\(Shape.anyString)' }}{% endif %}\
            {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
            {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
            """
        ) { .chatML(defaultSystemPrefix: $0) },
        // Plain ChatML.
        Shape(
            """
            {% for message in messages %}\
            {{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
            {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
            """
        ) { _ in .chatML(defaultSystemPrefix: nil) },
    ]

    static func chatMLParts(_ messages: [ChatTurn], defaultSystemPrefix: String?) -> [TextPart] {
        var parts: [TextPart] = []
        for (index, message) in messages.enumerated() {
            if index == 0, message.role != "system", let defaultSystemPrefix {
                parts.append(TextPart(defaultSystemPrefix, parseSpecial: true))
            }
            parts.append(TextPart(start, parseSpecial: true))
            parts.append(TextPart(message.role + "\n" + message.content))
            parts.append(TextPart(end + "\n", parseSpecial: true))
        }
        return parts
    }
}

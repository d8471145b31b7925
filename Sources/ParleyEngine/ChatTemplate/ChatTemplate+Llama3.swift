/// Llama 3: `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>`, contents trimmed.
extension ChatTemplate {
    static let llamaHeaderStart = "<|start_header_id|>"
    static let llamaHeaderEnd = "<|end_header_id|>"
    static let llamaEndOfTurn = "<|eot_id|>"

    static let llama3Shapes: [Shape] = [llama3Shape] + llama31Shapes

    /// Meta-Llama-3-*-Instruct's template (the one with `add_generation_prompt`), respelled.
    static let llama3Shape = Shape(
        #"""
        {%- set loop_messages = messages %}
        {%- for message in loop_messages %}
          {%- set content = '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n'
            + message.content | trim + '<|eot_id|>' %}
          {%- if loop.index0 == 0 %}{%- set content = bos_token + content %}{%- endif %}
          {{- content }}
        {%- endfor %}
        {%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}
        """#
    ) { _ in .llama3 }

    /// A header and the trimmed content per message; with `toolsAsJSON` (3.1 and later) messages
    /// of role `tool` or `ipython` are written as `ipython` with their content as a JSON string.
    static func llama3Parts(_ messages: [ChatTurn], toolsAsJSON: Bool) -> [TextPart] {
        var parts: [TextPart] = []
        for message in messages {
            parts.append(TextPart(llamaHeaderStart, parseSpecial: true))
            if toolsAsJSON, message.role == "tool" || message.role == "ipython" {
                parts.append(TextPart("ipython" + llamaHeaderEnd + "\n\n", parseSpecial: true))
                parts.append(TextPart(message.content.jsonQuoted))
            } else {
                parts.append(TextPart(message.role))
                parts.append(TextPart(llamaHeaderEnd + "\n\n", parseSpecial: true))
                parts.append(TextPart(message.content.jinjaTrimmed))
            }
            parts.append(TextPart(llamaEndOfTurn, parseSpecial: true))
        }
        return parts
    }

    /// Llama 3.1 and later: the system header with the dates and a leading system message's
    /// trimmed content (empty without one).
    static func llama3SystemHeader(_ messages: [ChatTurn], date: String) -> [TextPart] {
        let system = messages.first.flatMap { $0.role == "system" ? $0.content.jinjaTrimmed : nil } ?? ""
        return [
            TextPart(llamaHeaderStart + "system" + llamaHeaderEnd, parseSpecial: true),
            TextPart("\n\nCutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n" + system),
            TextPart(llamaEndOfTurn, parseSpecial: true),
        ]
    }
}

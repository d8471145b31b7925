/// Gemma: `<start_of_turn>role\ncontent<end_of_turn>\n`, the assistant as `model`, contents trimmed.
extension ChatTemplate {
    static let gemmaStart = "<start_of_turn>"
    static let gemmaEnd = "<end_of_turn>"

    /// The templates of google/gemma-3-*-it and google/gemma-2-*-it, respelled; they render alike
    /// for every chat Gemma 2's accepts (it refuses system messages).
    static let gemmaShapes: [Shape] = [
        Shape(
            #"""
            {{- bos_token }}
            {%- if messages[0].role == 'system' %}
              {%- if messages[0].content is string %}
                {%- set first_user_prefix = messages[0].content + '\n\n' %}
              {%- else %}
                {%- set first_user_prefix = messages[0].content[0].text + '\n\n' %}
              {%- endif %}
              {%- set loop_messages = messages[1:] %}
            {%- else %}
              {%- set first_user_prefix = '' %}
              {%- set loop_messages = messages %}
            {%- endif %}
            {%- for message in loop_messages %}
              {%- if (message.role == 'user') != (loop.index0 % 2 == 0) %}
                {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
              {%- endif %}
              {%- if (message.role == 'assistant') %}{%- set role = 'model' %}
              {%- else %}{%- set role = message.role %}{%- endif %}
              {{- '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '') }}
              {%- if message.content is string %}
                {{- message.content | trim }}
              {%- elif message.content is iterable %}
                {%- for item in message.content %}
                  {%- if item.type == 'image' %}{{- '<start_of_image>' }}
                  {%- elif item.type == 'text' %}{{- item.text | trim }}
                  {%- endif %}
                {%- endfor %}
              {%- else %}
                {{- raise_exception('Invalid content type') }}
              {%- endif %}
              {{- '<end_of_turn>\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}{{- '<start_of_turn>model\n' }}{%- endif %}
            """#
        ) { _ in .gemma },
        Shape(
            #"""
            {{- bos_token }}
            {%- if messages[0].role == 'system' %}{{- raise_exception('System role not supported') }}{%- endif %}
            {%- for message in messages %}
              {%- if (message.role == 'user') != (loop.index0 % 2 == 0) %}
                {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
              {%- endif %}
              {%- if (message.role == 'assistant') %}{%- set role = 'model' %}
              {%- else %}{%- set role = message.role %}{%- endif %}
              {{- '<start_of_turn>' + role + '\n' + message.content | trim + '<end_of_turn>\n' }}
            {%- endfor %}
            {%- if add_generation_prompt %}{{- '<start_of_turn>model\n' }}{%- endif %}
            """#
        ) { _ in .gemma },
    ]

    /// A leading system message's content (untrimmed) and `"\n\n"` go before the first other
    /// message's trimmed content; a system message alone leaves no turn.
    static func gemmaParts(_ messages: [ChatTurn]) -> [TextPart] {
        var parts: [TextPart] = []
        var prefix = ""
        var turns = messages[...]
        if let first = turns.first, first.role == "system" {
            prefix = first.content + "\n\n"
            turns = turns.dropFirst()
        }
        for (index, message) in turns.enumerated() {
            let role = message.role == "assistant" ? "model" : message.role
            parts.append(TextPart(gemmaStart, parseSpecial: true))
            parts.append(TextPart(role + "\n" + (index == 0 ? prefix : "") + message.content.jinjaTrimmed))
            parts.append(TextPart(gemmaEnd + "\n", parseSpecial: true))
        }
        return parts
    }
}

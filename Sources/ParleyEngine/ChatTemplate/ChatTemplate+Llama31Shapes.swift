/// The Llama 3.1–3.3 Instruct templates, respelled. They open with a system header carrying
/// `date_string`, whose default literal is captured; their tool branches are never taken here (no
/// tools are passed), but are part of the shape.
extension ChatTemplate {
    static let llama31Shapes: [Shape] = [
        // Llama-3.1-*-Instruct (the revision with `builtin_tools`), Llama-3.3-70B-Instruct.
        Shape(
            #"""
            {{- bos_token }}
            {%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
            {%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}
            {%- if not date_string is defined %}{%- set date_string = '\#(Shape.anyString)' %}{%- endif %}
            {%- if not tools is defined %}{%- set tools = none %}{%- endif %}
            \#(systemMessage)
            {{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
            {%- if builtin_tools is defined or tools is not none %}{{- 'Environment: ipython\n' }}{%- endif %}
            {%- if builtin_tools is defined %}
              {{- 'Tools: ' + builtin_tools | reject('equalto', 'code_interpreter') | join(', ') + '\n\n' }}
            {%- endif %}
            \#(datesToToolsInUserMessage)
            {%- for message in messages %}
              {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
                {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n'
                  + message.content | trim + '<|eot_id|>' }}
              {%- elif 'tool_calls' in message %}
                \#(singleToolCall)
                {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
                  {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
                  {{- '<|python_tag|>' + tool_call.name + '.call(' }}
                  {%- for arg_name, arg_val in tool_call.arguments | items %}
                    {{- arg_name + '="' + arg_val + '"' }}
                    {%- if not loop.last %}{{- ', ' }}{%- endif %}
                  {%- endfor %}
                  {{- ')' }}
                {%- else %}
                  \#(jsonToolCall)
                {%- endif %}
                {%- if builtin_tools is defined %}{{- '<|eom_id|>' }}{%- else %}{{- '<|eot_id|>' }}{%- endif %}
              \#(toolResultAndEnd)
            """#
        ) { .llama3Dated(defaultDate: $0 ?? "") },
        // Llama-3.2-1B/3B-Instruct: today's date where `strftime_now` is defined.
        Shape(
            #"""
            {{- bos_token }}
            {%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
            {%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}
            {%- if not date_string is defined %}
              {%- if strftime_now is defined %}{%- set date_string = strftime_now('%d %b %Y') %}
              {%- else %}{%- set date_string = '\#(Shape.anyString)' %}
              {%- endif %}
            {%- endif %}
            {%- if not tools is defined %}{%- set tools = none %}{%- endif %}
            \#(systemMessage)
            {{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
            {%- if tools is not none %}{{- 'Environment: ipython\n' }}{%- endif %}
            \#(datesToToolsInUserMessage)
            {%- for message in messages %}
              {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
                {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n'
                  + message.content | trim + '<|eot_id|>' }}
              {%- elif 'tool_calls' in message %}
                \#(singleToolCall)
                \#(jsonToolCall)
                {{- '<|eot_id|>' }}
              \#(toolResultAndEnd)
            """#
        ) { .llama3Dated(defaultDate: $0 ?? "") },
    ]

    private static let systemMessage = #"""
        {%- if messages[0].role == 'system' %}
          {%- set system_message = messages[0].content | trim %}
          {%- set messages = messages[1:] %}
        {%- else %}
          {%- set system_message = '' %}
        {%- endif %}
        """#

    private static let toolsJSON = #"""
        {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
        {{- 'Do not use variables.\n\n' }}
        {%- for t in tools %}{{- t | tojson(indent=4) }}{{- '\n\n' }}{%- endfor %}
        """#

    private static let datesToToolsInUserMessage = #"""
        {{- 'Cutting Knowledge Date: December 2023\n' }}
        {{- 'Today Date: ' + date_string + '\n\n' }}
        {%- if tools is not none and not tools_in_user_message %}
          {{- 'You have access to the following functions. '
            + 'To call a function, please respond with JSON for a function call.' }}
          \#(toolsJSON)
        {%- endif %}
        {{- system_message }}
        {{- '<|eot_id|>' }}
        {%- if tools_in_user_message and not tools is none %}
          {%- if messages | length != 0 %}
            {%- set first_user_message = messages[0].content | trim %}
            {%- set messages = messages[1:] %}
          {%- else %}
            {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
          {%- endif %}
          {{- '<|start_header_id|>user<|end_header_id|>\n\n' }}
          {{- 'Given the following functions, please respond with a JSON for a function call ' }}
          {{- 'with its proper arguments that best answers the given prompt.\n\n' }}
          \#(toolsJSON)
          {{- first_user_message + '<|eot_id|>' }}
        {%- endif %}
        """#

    private static let singleToolCall = #"""
        {%- if not message.tool_calls | length == 1 %}
          {{- raise_exception('This model only supports single tool-calls at once!') }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        """#

    private static let jsonToolCall = #"""
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- '}' }}
        """#

    private static let toolResultAndEnd = #"""
          {%- elif message.role == 'tool' or message.role == 'ipython' %}
            {{- '<|start_header_id|>ipython<|end_header_id|>\n\n' }}
            {%- if message.content is mapping or message.content is iterable %}{{- message.content | tojson }}
            {%- else %}{{- message.content }}
            {%- endif %}
            {{- '<|eot_id|>' }}
          {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %}
        """#
}

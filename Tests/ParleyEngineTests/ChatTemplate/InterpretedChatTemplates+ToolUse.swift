/// The longer fixtures: templates written for tools and documents, rendered here without them.
extension InterpretedChatTemplates {
    /// ibm-granite/granite-3.3-2b-instruct: a default system message with today's date (`strftime_now`)
    /// (llama.cpp's models/templates/ibm-granite-granite-3.3-2B-Instruct.jinja).
    static let granite33 = #"""
        {# Alias tools -> available_tools #}
        {%- if tools and not available_tools -%}
            {%- set available_tools = tools -%}
        {%- endif -%}
        {%- if messages[0]['role'] == 'system' %}
             {%- set system_message = messages[0]['content'] %}
             {%- set loop_messages = messages[1:] %}
         {%- else %}
             {%- set system_message = "Knowledge Cutoff Date: April 2024. Today's Date: " + strftime_now('%B %d, %Y') + ". You are Granite, developed by IBM." %}
             {%- if available_tools and documents %}
                 {%- set system_message = system_message + " You are a helpful assistant with access to the following tools. When a tool is required to answer the user's query, respond only with <|tool_call|> followed by a JSON list of tools used. If a tool does not exist in the provided list of tools, notify the user that you do not have the ability to fulfill the request. Write the response to the user's input by strictly aligning with the facts in the provided documents. If the information needed to answer the question is not available in the documents, inform the user that the question cannot be answered based on the available data." %}
             {%- elif available_tools %}
                 {%- set system_message = system_message + " You are a helpful assistant with access to the following tools. When a tool is required to answer the user's query, respond only with <|tool_call|> followed by a JSON list of tools used. If a tool does not exist in the provided list of tools, notify the user that you do not have the ability to fulfill the request." %}
             {%- elif documents %}
                 {%- set system_message = system_message + " Write the response to the user's input by strictly aligning with the facts in the provided documents. If the information needed to answer the question is not available in the documents, inform the user that the question cannot be answered based on the available data." %}
            {%- elif thinking %}
            {%- set system_message = system_message + " You are a helpful AI assistant.
        Respond to every user query in a comprehensive and detailed way. You can write down your thoughts and reasoning process before responding. In the thought process, engage in a comprehensive cycle of analysis, summarization, exploration, reassessment, reflection, backtracing, and iteration to develop well-considered thinking process. In the response section, based on various attempts, explorations, and reflections from the thoughts section, systematically present the final solution that you deem correct. The response should summarize the thought process. Write your thoughts between <think></think> and write your response between <response></response> for each user query." %}
             {%- else %}
                 {%- set system_message = system_message + " You are a helpful AI assistant." %}
             {%- endif %}
             {%- if 'citations' in controls and documents %}
                 {%- set system_message = system_message + '
        Use the symbols <|start_of_cite|> and <|end_of_cite|> to indicate when a fact comes from a document in the search result, e.g <|start_of_cite|> {document_id: 1}my fact <|end_of_cite|> for a fact from document 1. Afterwards, list all the citations with their corresponding documents in an ordered list.' %}
             {%- endif %}
             {%- if 'hallucinations' in controls and documents %}
                 {%- set system_message = system_message + '
        Finally, after the response is written, include a numbered list of sentences from the response with a corresponding risk value that are hallucinated and not based in the documents.' %}
             {%- endif %}
             {%- set loop_messages = messages %}
         {%- endif %}
         {{- '<|start_of_role|>system<|end_of_role|>' + system_message + '<|end_of_text|>
        ' }}
         {%- if available_tools %}
             {{- '<|start_of_role|>available_tools<|end_of_role|>' }}
             {{- available_tools | tojson(indent=4) }}
             {{- '<|end_of_text|>
        ' }}
         {%- endif %}
         {%- if documents %}
             {%- for document in documents %}
                 {{- '<|start_of_role|>document {"document_id": "' + document['doc_id'] | string + '"}<|end_of_role|>
        ' }}
                 {{- document['text'] }}
                 {{- '<|end_of_text|>
        ' }}
                      {%- endfor %}
         {%- endif %}
         {%- for message in loop_messages %}
             {{- '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>
        ' }}
             {%- if loop.last and add_generation_prompt %}
                 {{- '<|start_of_role|>assistant' }}
                     {%- if controls %}
                         {{- ' ' + controls | tojson()}}
                     {%- endif %}
                 {{- '<|end_of_role|>' }}
             {%- endif %}
         {%- endfor %}
        
        """#

    /// NousResearch/Hermes-3-Llama-3.1-8B's tool-use template: a macro turning JSON schema types into Python's,
    /// called recursively (llama.cpp's models/templates/NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja).
    static let hermes3ToolUse = #"""
        {%- macro json_to_python_type(json_spec) %}
        {%- set basic_type_map = {
            "string": "str",
            "number": "float",
            "integer": "int",
            "boolean": "bool"
        } %}
        
        {%- if basic_type_map[json_spec.type] is defined %}
            {{- basic_type_map[json_spec.type] }}
        {%- elif json_spec.type == "array" %}
            {{- "list[" +  json_to_python_type(json_spec|items) + "]"}}
        {%- elif json_spec.type == "object" %}
            {%- if json_spec.additionalProperties is defined %}
                {{- "dict[str, " + json_to_python_type(json_spec.additionalProperties) + ']'}}
            {%- else %}
                {{- "dict" }}
            {%- endif %}
        {%- elif json_spec.type is iterable %}
            {{- "Union[" }}
            {%- for t in json_spec.type %}
              {{- json_to_python_type({"type": t}) }}
              {%- if not loop.last %}
                {{- "," }} 
            {%- endif %}
            {%- endfor %}
            {{- "]" }}
        {%- else %}
            {{- "Any" }}
        {%- endif %}
        {%- endmacro %}
        
        
        {{- bos_token }}
        {{- '<|im_start|>system
        ' }}
        {{- "You are a function calling AI model. You are provided with function signatures within <tools></tools> XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about what values to plug into functions. Here are the available tools: <tools> " }}
        {%- for tool in tools %}
            {%- if tool.function is defined %}
                {%- set tool = tool.function %}
            {%- endif %}
            {{- '{"type": "function", "function": ' }}
            {{- '{"name": "' + tool.name + '", ' }}
            {{- '"description": "' + tool.name + '(' }}
            {%- for param_name, param_fields in tool.parameters.properties|items %}
                {{- param_name + ": " + json_to_python_type(param_fields) }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
            {%- endfor %}
            {{- ")" }}
            {%- if tool.return is defined %}
                {{- " -> " + json_to_python_type(tool.return) }}
            {%- endif %}
            {{- " - " + tool.description + "
        
        " }}
            {%- for param_name, param_fields in tool.parameters.properties|items %}
                {%- if loop.first %}
                    {{- "    Args:
        " }}
                {%- endif %}
                {{- "        " + param_name + "(" + json_to_python_type(param_fields) + "): " + param_fields.description|trim }}
            {%- endfor %}
            {%- if tool.return is defined and tool.return.description is defined %}
                {{- "
            Returns:
                " + tool.return.description }}
            {%- endif %}
            {{- '"' }}
            {{- ', "parameters": ' }}
            {%- if tool.parameters.properties | length == 0 %}
                {{- "{}" }}
            {%- else %}
                {{- tool.parameters|tojson }}
            {%- endif %}
            {{- "}" }}
            {%- if not loop.last %}
                {{- "
        " }}
            {%- endif %}
        {%- endfor %}
        {{- " </tools>" }}
        {{- 'Use the following pydantic model json schema for each tool call you will make: {"properties": {"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, "required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}
        ' }}
        {{- "For each function call return a json object with function name and arguments within <tool_call></tool_call> XML tags as follows:
        " }}
        {{- "<tool_call>
        " }}
        {{- '{"name": <function-name>, "arguments": <args-dict>}
        ' }}
        {{- '</tool_call><|im_end|>
        ' }}
        {%- for message in messages %}
            {%- if message.role == "user" or message.role == "system" or (message.role == "assistant" and message.tool_calls is not defined) %}
                {{- '<|im_start|>' + message.role + '
        ' + message.content + '<|im_end|>' + '
        ' }}
            {%- elif message.role == "assistant" %}
                {{- '<|im_start|>' + message.role }}
            {%- for tool_call in message.tool_calls %}
               {{- '
        <tool_call>
        ' }}           {%- if tool_call.function is defined %}
                        {%- set tool_call = tool_call.function %}
                    {%- endif %}
                    {{- '{' }}
                    {{- '"name": "' }}
                    {{- tool_call.name }}
                    {{- '"' }}
                    {{- ', '}}
                    {%- if tool_call.arguments is defined %}
                        {{- '"arguments": ' }}
                        {%- if tool_call.arguments is string %}
                            {{- tool_call.arguments }}
                        {%- else %}
                            {{- tool_call.arguments|tojson }}
                        {%- endif %}
                    {%- endif %}
                     {{- '}' }}
                    {{- '
        </tool_call>' }}
            {%- endfor %}
                {{- '<|im_end|>
        ' }}
            {%- elif message.role == "tool" %}
                {%- if loop.previtem and loop.previtem.role != "tool" %}
                    {{- '<|im_start|>tool
        ' }}
                {%- endif %}
                {{- '<tool_response>
        ' }}
                {{- message.content }}
                {%- if not loop.last %}
                    {{- '
        </tool_response>
        ' }}
                {%- else %}
                    {{- '
        </tool_response>' }}
                {%- endif %}
                {%- if not loop.last and loop.nextitem.role != "tool" %}
                    {{- '<|im_end|>' }}
                {%- elif loop.last %}
                    {{- '<|im_end|>' }}
                {%- endif %}
            {%- endif %}
        {%- endfor %}
        {%- if add_generation_prompt %}
            {{- '<|im_start|>assistant
        ' }}
        {%- endif %}
        
        """#
}

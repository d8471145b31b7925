/// A small OpenAI-compatible server for the upstream backend's tests, in Python (standard library
/// only), written to a temporary file and run by `withFakeUpstream`.
///
/// GET /v1/models lists "fake-model". POST /v1/chat/completions streams the words of
/// "Hello from the fake upstream server" as chat.completion.chunk events (then a usage chunk and
/// [DONE]); a request whose last message is a continuation instruction gets " continued" instead.
/// With `logprobs`, each word's chunk carries one logprobs item (-0.5, -0.6, …) with
/// `top_logprobs` alternatives "alt0", "alt1", … (-3, -4, …); the last item leaves its bytes out.
/// With `tools`, the answer is one content chunk echoing `tool_choice`, `parallel_tool_calls` and the
/// tools' names and parameters, then two calls of the first tool streamed in pieces (arguments
/// `{"city": "Paris"}` in two pieces, then `{}`), finish reason `tool_calls`; a request whose last
/// message is a tool result instead echoes its messages (role, content, tool_calls, tool_call_id).
/// A request whose last message is "Think first" streams reasoning first (`reasoning_content`
/// pieces, then one in vLLM's newer `reasoning` field), then the answer, which starts with the
/// JSON list of the assistant messages' contents it received.
/// Unknown models answer 404 with an OpenAI error object. Prints "PORT <n>" once listening.
let fakeUpstreamScript = #"""
    import json
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    WORDS = ["Hello", " from", " the", " fake", " upstream", " server"]


    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": "no such path"}})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            if body.get("model") != "fake-model":
                self.send_json(404, {"error": {"message": "model %s does not exist" % body.get("model")}})
                return
            messages = body["messages"]
            continuing = messages[-1]["role"] == "user" and messages[-1]["content"].startswith("Continue your previous")
            words = [" continued"] if continuing else WORDS
            # Sampling fields beyond the basics: answered back as the one word, so a test sees what arrived.
            echoed = {k: body[k] for k in ("frequency_penalty", "presence_penalty", "logit_bias", "response_format", "top_k", "min_p",
                                           "repetition_penalty") if k in body}
            if echoed:
                words = [json.dumps(echoed, sort_keys=True)]
            limit = body.get("max_tokens")
            if limit is not None:
                words = words[:limit]
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()

            def event(payload):
                self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
                self.wfile.flush()

            if messages[-1].get("content") == "Think first":
                event({"choices": [{"index": 0, "delta": {"role": "assistant", "reasoning_content": "Let me"}}]})
                event({"choices": [{"index": 0, "delta": {"reasoning_content": " think."}}]})
                event({"choices": [{"index": 0, "delta": {"reasoning": " More."}}]})
                history = [m.get("content") for m in messages if m["role"] == "assistant"]
                event({"choices": [{"index": 0, "delta": {"content": "\n\n" + json.dumps(history)}}]})
                event({"choices": [{"index": 0, "delta": {"content": " Done."}, "finish_reason": "stop"}]})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                return

            if "tools" in body:
                if messages[-1]["role"] == "tool":
                    seen = [{k: m[k] for k in ("role", "content", "tool_calls", "tool_call_id") if k in m} for m in messages]
                    event({"choices": [{"index": 0, "delta": {"content": json.dumps(seen, sort_keys=True)}}]})
                    event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                else:
                    echoed = {"tool_choice": body.get("tool_choice"), "parallel_tool_calls": body.get("parallel_tool_calls"),
                              "tools": [[t["function"]["name"], t["function"].get("parameters")] for t in body["tools"]]}
                    name = body["tools"][0]["function"]["name"]
                    event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": json.dumps(echoed, sort_keys=True)}}]})
                    pieces = [(0, {"id": "up_0", "type": "function", "function": {"name": name, "arguments": "{\"city\": "}}),
                              (0, {"function": {"arguments": "\"Paris\"}"}}),
                              (1, {"id": "up_1", "type": "function", "function": {"name": name, "arguments": "{}"}})]
                    for index, piece in pieces:
                        piece["index"] = index
                        event({"choices": [{"index": 0, "delta": {"tool_calls": [piece]}, "finish_reason": None}]})
                    event({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                return

            event({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
            for i, word in enumerate(words):
                choice = {"index": 0, "delta": {"content": word}, "finish_reason": None}
                if body.get("logprobs"):
                    top = [{"token": "alt%d" % k, "logprob": -3.0 - k, "bytes": list(b"alt%d" % k)}
                           for k in range(body.get("top_logprobs", 0))]
                    item = {"token": word, "logprob": -0.5 - i / 10, "top_logprobs": top}
                    if i < len(words) - 1:
                        item["bytes"] = list(word.encode())
                    choice["logprobs"] = {"content": [item], "refusal": None}
                event({"choices": [choice]})
            reason = "length" if limit is not None and limit <= len(words) and not continuing else "stop"
            event({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
            event({"choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(words)}})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()


    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    """#

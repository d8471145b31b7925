#!/usr/bin/env python3
"""Reference GGUF reading for the ParleyEngine tests, using the `gguf` PyPI package.

Reads a JSON request from stdin and writes JSON to stdout:

  {"model": PATH, "mode": "dequantize", "rows": [{"tensor": NAME, "row": N}, ...]}
      -> [[float, ...], ...]  each row dequantized to float32 by gguf.quants
  {"model": PATH, "mode": "chat", "conversations": [{"messages": [...], "add_generation_prompt": bool}, ...]}
      -> ["prompt", ...]  tokenizer.chat_template rendered with jinja2 the way Hugging Face does
  {"model": PATH, "mode": "describe"}
      -> {"metadata": {key: value}, "tensors": [{"name", "type", "dims", "offset"}]} (token arrays omitted)
  {"mode": "template", "template": TEXT, "conversations": [...], "context": {NAME: VALUE}, "strftime_now": bool}
      -> ["prompt" or null, ...]  TEXT rendered like "chat" (no model file); null where the template
         refuses the chat (raise_exception, undefined message); `context` adds template variables
         (e.g. date_string, or bos_token and eos_token, which are "" otherwise); `strftime_now` (default
         false) defines that function as transformers does; `now` ("YYYY-MM-DDTHH:MM:SS", UTC) fixes
         the time it formats
  {"mode": "templates", "items": [{"template": TEXT, "conversations": [...], "context": {...}, "now": ...}, ...]}
      -> [["prompt" or null, ...], ...]  several "template" requests at once (strftime_now always
         defined); null where rendering raises any error, or where the template does not parse
"""
import datetime
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def dequantize_rows(reader, rows):
    tensors = {t.name: t for t in reader.tensors}
    out = []
    for spec in rows:
        t = tensors[spec["tensor"]]
        # t.data has one row per tensor row (raw blocks for quantized types); convert only the asked row.
        rows_view = t.data.reshape(-1, t.data.shape[-1]) if t.data.ndim > 1 else t.data.reshape(1, -1)
        values = dequantize(rows_view[spec["row"] : spec["row"] + 1], t.tensor_type).astype(np.float32)
        out.append([float(x) for x in values.reshape(-1)])
    return out


def hugging_face_environment(strftime_now=False, now=None):
    """A jinja2 environment set up as transformers' apply_chat_template sets up its own."""
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers replaces jinja2's tojson (which escapes HTML characters) with plain json.dumps.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    class Generation(jinja2.ext.Extension):
        """transformers' {% generation %}…{% endgeneration %}: marks the assistant's text, renders its body."""

        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, Generation])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    if strftime_now:
        fixed = datetime.datetime.fromisoformat(now) if now else None
        env.globals["strftime_now"] = lambda format: (fixed or datetime.datetime.now()).strftime(format)
    return env


def render_chats(reader, conversations):
    import jinja2

    source = reader.fields["tokenizer.chat_template"].contents()
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(source)
    return [
        template.render(messages=c["messages"], add_generation_prompt=c["add_generation_prompt"],
                        bos_token="", eos_token="")
        for c in conversations
    ]


def render_template(request, catch=None):
    """Renders a given template text; the BOS a template writes is left to the tokenizer (bos_token="")."""
    import jinja2

    catch = catch or jinja2.exceptions.TemplateError
    env = hugging_face_environment(request.get("strftime_now", False), request.get("now"))
    try:
        template = env.from_string(request["template"])
    except catch:
        return [None for _ in request["conversations"]]
    out = []
    for c in request["conversations"]:
        context = {"bos_token": "", "eos_token": "", **request.get("context", {})}
        try:
            # Messages as chat clients build them: role first, then content.
            messages = [{"role": m["role"], "content": m["content"], **m} for m in c["messages"]]
            out.append(template.render(messages=messages, add_generation_prompt=c["add_generation_prompt"], **context))
        except catch:
            out.append(None)
    return out


def render_templates(request):
    """Several template requests, strftime_now defined, any rendering error giving null."""
    return [render_template({"strftime_now": True, **item}, catch=Exception) for item in request["items"]]


def describe(reader):
    metadata = {}
    for key, f in reader.fields.items():
        if key.startswith("GGUF.") or key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"):
            continue
        value = f.contents()
        if isinstance(value, bytes):
            value = list(value)
        metadata[key] = value
    tensors = [
        {"name": t.name, "type": int(t.tensor_type), "dims": [int(d) for d in t.shape], "offset": int(t.data_offset)}
        for t in reader.tensors
    ]
    return {"metadata": metadata, "tensors": tensors}


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    if mode == "template":
        json.dump(render_template(request), sys.stdout, ensure_ascii=False)
        return
    if mode == "templates":
        json.dump(render_templates(request), sys.stdout, ensure_ascii=False)
        return
    reader = GGUFReader(request["model"])
    if mode == "dequantize":
        out = dequantize_rows(reader, request["rows"])
    elif mode == "chat":
        out = render_chats(reader, request["conversations"])
    elif mode == "describe":
        out = describe(reader)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference GGUF reading for the ParleyEngine tests, using the `gguf` PyPI package.

Reads a JSON request from stdin and writes JSON to stdout:

  {"model": PATH, "mode": "dequantize", "rows": [{"tensor": NAME, "row": N}, ...]}
      -> [[float, ...], ...]  each row dequantized to float32 by gguf.quants
  {"model": PATH, "mode": "chat", "conversations": [{"messages": [...], "add_generation_prompt": bool}, ...]}
      -> ["prompt", ...]  tokenizer.chat_template rendered with jinja2 the way Hugging Face does
  {"model": PATH, "mode": "describe"}
      -> {"metadata": {key: value}, "tensors": [{"name", "type", "dims", "offset"}]} (token arrays omitted)
"""
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
    reader = GGUFReader(request["model"])
    mode = request["mode"]
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

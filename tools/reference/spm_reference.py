#!/usr/bin/env python3
"""SentencePiece reference for the ParleyEngine tests (GGUF files with tokenizer.ggml.model = "llama").

No SentencePiece-tokenized model is available offline, so this script trains a small BPE model
with the `sentencepiece` package on a built-in corpus, stores its vocabulary in a GGUF file the
way llama.cpp's converter does (tokens, scores, token types), and encodes texts with the trained
model itself, which is the original implementation llama.cpp follows. Requests are JSON on stdin:

  {"mode": "build", "directory": DIR, "vocab_size": N}  -> {"gguf": PATH, "model": PATH}
  {"mode": "encode", "model": PATH, "texts": [...]}     -> [[ids...], ...]
"""
import json
import os
import sys

import sentencepiece as spm

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Parley is a self-hostable chat system written in Swift.",
    "It runs a small language model on the CPU and streams tokens to the browser.",
    "Tokenizers split text into pieces; byte fallback covers characters the vocabulary lacks.",
    "Numbers like 3.14159, 2024 and 1,000,000 appear in text, as do dates such as 2026-11-29.",
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)",
    "func greet(name: String) -> String { return \"Hello, \\(name)!\" }",
    "Caf\u00e9, na\u00efve and r\u00e9sum\u00e9 keep their accents; \u00c5ngstr\u00f6m too.",
    "Don't stop, we'll see what they're doing and I'm sure it's fine.",
    "    Indented lines and  double  spaces matter.\n\nParagraphs are separated by blank lines.",
    "Ask a question, get an answer: what is the capital of France? Paris.",
    "The engine reads GGUF files, memory-maps the weights and dequantizes blocks of 32 values.",
]


def build(request):
    directory = request["directory"]
    os.makedirs(directory, exist_ok=True)
    corpus_path = os.path.join(directory, "corpus.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        for i in range(40):
            for line in CORPUS:
                f.write(line.replace("\n", " ") + (f" {i}" if i % 3 == 0 else "") + "\n")
    prefix = os.path.join(directory, "spm")
    spm.SentencePieceTrainer.train(
        input=corpus_path,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=request.get("vocab_size", 600),
        byte_fallback=True,
        character_coverage=0.995,
        split_digits=True,
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        normalization_rule_name="identity",
        num_threads=1,
        minloglevel=2,
    )
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        elif sp.is_unused(i):
            types.append(5)
        else:
            types.append(1)

    import gguf

    gguf_path = prefix + ".gguf"
    writer = gguf.GGUFWriter(gguf_path, "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(sp.bos_id())
    writer.add_eos_token_id(sp.eos_id())
    writer.add_unk_token_id(sp.unk_id())
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"gguf": gguf_path, "model": prefix + ".model"}


def encode(request):
    sp = spm.SentencePieceProcessor(model_file=request["model"])
    return [sp.encode(text) for text in request["texts"]]


def main():
    request = json.load(sys.stdin)
    if request["mode"] == "build":
        out = build(request)
    elif request["mode"] == "encode":
        out = encode(request)
    else:
        raise SystemExit(f"unknown mode {request['mode']!r}")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference tokenizer for the ParleyEngine tests.

Builds a Hugging Face `tokenizers` tokenizer from the vocabulary, merges and token types stored
in a GGUF file, with the pre-tokenizer that `tokenizer.ggml.pre` names (the same construction the
original model's tokenizer.json uses), and answers requests read as JSON from stdin:

  {"model": PATH, "mode": "encode", "items": [{"text": "...", "special": false}, ...]}
      -> [[ids...], ...]   ("special": true recognises control tokens such as <|im_start|>)
  {"model": PATH, "mode": "split", "pre": "smollm"|"gpt2"|"llama-bpe"|"qwen2"|..., "texts": ["...", ...]}
      -> [[[start, end], ...], ...]   word boundaries in code points, from the pre-tokenizer alone
  {"model": PATH, "mode": "decode", "items": [[ids...], ...]} -> ["text", ...]
"""
import json
import sys

from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2's pattern as llama.cpp runs it (LLAMA_VOCAB_PRE_TYPE_QWEN2): Llama 3's with single digits
# (\p{N} instead of \p{N}{1,3}), and the contractions spelled with explicit case classes as
# llama.cpp rewrites them. Qwen's tokenizer.json says (?i:'s|'t|...), which Oniguruma also matches on
# case-folding equivalents such as 'ſ (U+017F folds to s: "x'ſx" -> x | 'ſ | x); llama.cpp compares
# the lowercase of the next character, and ſ's lowercase is ſ (-> x | 'ſx), as the explicit classes do.
# (Neither this nor \p{N} vs \p{N}{1,3} changes ids with Qwen's vocabulary, which has no ſ merges and
# no multi-digit tokens, but the "split" mode's boundaries differ.)
QWEN2_PATTERN = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# tokenizer.ggml.pre values llama.cpp maps to LLAMA_VOCAB_PRE_TYPE_QWEN2 (llama-vocab.cpp).
QWEN2_PRES = ("qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez")

# GPT-4o's and Tekken's patterns as llama.cpp runs them (LLAMA_VOCAB_PRE_TYPE_GPT4O, _TEKKEN):
# tokenizer.json's \p{Lu}…/\p{Ll}… case classes become "a letter not in a-z" / "a letter not in
# A-Z" (so a non-ASCII letter is both, and combining marks are no letters), contractions with
# explicit case classes.
_UPPER = r"((?=[\p{L}])([^a-z]))"
_LOWER = r"((?=[\p{L}])([^A-Z]))"
_CONTRACTIONS = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
GPT4O_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?" + _UPPER + "*" + _LOWER + "+" + _CONTRACTIONS
    + r"|[^\r\n\p{L}\p{N}]?" + _UPPER + "+" + _LOWER + "*" + _CONTRACTIONS
    + r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TEKKEN_PATTERN = (
    r"[^\r\n\p{L}\p{N}]?" + _UPPER + "*" + _LOWER + "+"
    + r"|[^\r\n\p{L}\p{N}]?" + _UPPER + "+" + _LOWER + "*"
    + r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

CONTROL = 3
USER_DEFINED = 4


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def pre_tokenizer(pre):
    if pre == "gpt2":
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in ("smollm", "starcoder", "refact", "codeshell"):
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
        )
    if pre in ("llama-bpe", "llama3"):
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    if pre in QWEN2_PRES:
        # Qwen2 / DeepSeek-R1-Distill-Qwen: no ignore_merges, byte-level BPE as llama-bpe.
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    cased = {"gpt-4o": GPT4O_PATTERN, "llama4": GPT4O_PATTERN, "tekken": TEKKEN_PATTERN}
    if pre in cased:
        return pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(cased[pre]), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    raise SystemExit(f"unsupported pre-tokenizer {pre!r}")


def build(reader, pre, with_special):
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = [tuple(m.split(" ", 1)) for m in field(reader, "tokenizer.ggml.merges")]
    vocab = {}
    for i, t in enumerate(tokens):
        vocab.setdefault(t, i)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizer(pre)
    tok.decoder = decoders.ByteLevel()
    added = []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        # llama.cpp always matches user-defined tokens; control tokens only when asked.
        if ty == USER_DEFINED or (with_special and ty == CONTROL):
            added.append(AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False))
    if added:
        tok.add_special_tokens(added)
    return tok


def main():
    request = json.load(sys.stdin)
    mode = request["mode"]
    if mode == "split" and request.get("pre"):
        # Word splits need only the pre-tokenizer, not the vocabulary.
        pt = pre_tokenizer(request["pre"])
        json.dump([[[a, b] for _, (a, b) in pt.pre_tokenize_str(t)] for t in request["texts"]], sys.stdout)
        return
    reader = GGUFReader(request["model"])
    pre = request.get("pre") or field(reader, "tokenizer.ggml.pre")
    if mode == "encode":
        plain = build(reader, pre, False)
        special = build(reader, pre, True)
        out = []
        for item in request["items"]:
            tok = special if item.get("special") else plain
            out.append(tok.encode(item["text"], add_special_tokens=False).ids)
    elif mode == "split":
        pt = pre_tokenizer(pre)
        out = []
        for text in request["texts"]:
            # pre_tokenize_str reports offsets in code points of the input.
            out.append([[a, b] for _, (a, b) in pt.pre_tokenize_str(text)])
    elif mode == "decode":
        plain = build(reader, pre, False)
        out = [plain.decode(ids, skip_special_tokens=False) for ids in request["items"]]
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent NumPy reference of the llama forward pass over a GGUF file, for ParleyEngine's tests.

Weights are dequantized by the `gguf` PyPI package (not by Parley's code). Two arithmetic modes:

  --activations float  plain float32 math (float64 sums in the norms): the "true" model.
  --activations q8     like llama.cpp on the CPU: before every product with a quantized weight the
                       activations are quantized per block (Q8_0/Q8_1: 32 values, d = max|x|/127
                       rounded to f16; Q8_K for K-quant weights: 256 values, float d), and the
                       KV cache, the query and the attention weights are rounded to f16.

Usage:
  forward.py --model M.gguf --tokens 1,2,3 logits       -> {"logits": [...vocab floats of the last token]}
  forward.py --model M.gguf --tokens 1,2,3 greedy --n 32 -> {"ids": [...], "margins": [...]}
     margins[i] = top-1 minus top-2 logit at step i (how close greedy was to a tie).
  forward.py --model M.gguf jobs < jobs.json  -> one result per job, loading the weights once;
     jobs.json = [{"tokens": [...], "mode": "logits" | "greedy", "n": 32, "stop": [ids]}, ...]
"""
import argparse
import json
import sys

import numpy as np
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT
from gguf.quants import dequantize


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    v = f.contents()
    return v


TRACE = {}  # stage -> first token's vector, filled when --trace is given


class Model:
    def __init__(self, path, mode):
        r = GGUFReader(path)
        arch = field(r, "general.architecture")
        if arch != "llama":
            raise SystemExit(f"unsupported architecture {arch}")
        self.dim = int(field(r, "llama.embedding_length"))
        self.layers = int(field(r, "llama.block_count"))
        self.heads = int(field(r, "llama.attention.head_count"))
        self.kv_heads = int(field(r, "llama.attention.head_count_kv", self.heads))
        self.eps = np.float32(field(r, "llama.attention.layer_norm_rms_epsilon"))
        self.base = np.float32(field(r, "llama.rope.freq_base", 10000.0))
        self.head_dim = self.dim // self.heads
        self.rope_dims = int(field(r, "llama.rope.dimension_count", self.head_dim))
        self.mode = mode
        self.w = {}
        self.types = {}
        self.q4_1_min = {}
        for t in r.tensors:
            if t.tensor_type == QT.Q4_1:
                blocks = np.asarray(t.data).reshape(-1, 20)
                mins = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
                self.q4_1_min[t.name] = mins.reshape(int(t.shape[1]), -1)
            a = dequantize(t.data, t.tensor_type).astype(np.float32)
            ne = [int(x) for x in t.shape]  # ne[0] first
            self.w[t.name] = a.reshape(list(reversed(ne))) if len(ne) > 1 else a.reshape(-1)
            self.types[t.name] = t.tensor_type
        if "output.weight" not in self.w:
            self.w["output.weight"] = self.w["token_embd.weight"]
            self.types["output.weight"] = self.types["token_embd.weight"]

    # -- llama.cpp's activation quantization --------------------------------------------------
    @staticmethod
    def q8_blocks(x):
        """Q8_0/Q8_1 activations: returns the dequantized values and, per block, the Q8_1 sum term
        error (s stored as f16(d·Σq) minus the f16(d)·Σq the dequantized values imply)."""
        b = x.reshape(x.shape[0], -1, 32)
        amax = np.abs(b).max(axis=2, keepdims=True)
        d = amax / np.float32(127)
        iscale = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
        q = np.rint(b * iscale)
        d16 = d.astype(np.float16).astype(np.float32)
        qsum = q.sum(axis=2, keepdims=True)
        s_err = (d * qsum).astype(np.float16).astype(np.float32) - d16 * qsum
        return (q * d16).reshape(x.shape), s_err[..., 0]

    @staticmethod
    def q8_k(x):
        b = x.reshape(x.shape[0], -1, 256)
        idx = np.abs(b).argmax(axis=2)[..., None]
        mx = np.take_along_axis(b, idx, axis=2)
        iscale = np.where(mx != 0, np.float32(-128) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
        q = np.minimum(np.rint(b * iscale), 127)
        d = np.where(mx != 0, np.float32(1) / np.where(iscale != 0, iscale, 1), 0).astype(np.float32)
        return (q * d).reshape(x.shape)

    def matmul(self, name, x):
        w = self.w[name]
        if self.mode == "q8":
            t = self.types[name]
            if t in (QT.Q4_K, QT.Q6_K):
                x = self.q8_k(x)
            elif t in (QT.Q4_0, QT.Q8_0):
                x = self.q8_blocks(x)[0]
            elif t == QT.Q4_1:
                # llama.cpp's Q4_1·Q8_1 dot adds m·s with s kept as f16(d·Σq).
                x, s_err = self.q8_blocks(x)
                return x @ w.T + s_err @ self.q4_1_min[name].T
            elif t == QT.F16:
                x = x.astype(np.float16).astype(np.float32)
        return x @ w.T

    def f16(self, a):
        return a.astype(np.float16).astype(np.float32) if self.mode == "q8" else a

    def rms(self, x, w):
        mean = (x.astype(np.float64) ** 2).mean(axis=1, keepdims=True)
        scale = (np.float32(1) / np.sqrt(mean.astype(np.float32) + self.eps)).astype(np.float32)
        return (x * scale) * w

    def rope(self, x, positions, heads):
        # x: (n, heads*head_dim); adjacent pairs (ggml's normal mode), angle p * base^(-2i/dims)
        # computed by repeated float32 multiplication as ggml does.
        n = x.shape[0]
        x = x.reshape(n, heads, self.head_dim).copy()
        scale = np.float32(self.base) ** np.float32(-2.0 / self.rope_dims)
        for t, p in enumerate(positions):
            theta = np.float32(p)
            for i in range(self.rope_dims // 2):
                c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
                x0 = x[t, :, 2 * i].copy()
                x1 = x[t, :, 2 * i + 1].copy()
                x[t, :, 2 * i] = x0 * c - x1 * s
                x[t, :, 2 * i + 1] = x0 * s + x1 * c
                theta = np.float32(theta * scale)
        return x.reshape(n, -1)

    def forward(self, tokens, cache, start):
        """Runs tokens at positions start..; cache = list of (K, V) arrays per layer; returns last logits."""
        n = len(tokens)
        positions = list(range(start, start + n))
        x = self.w["token_embd.weight"][np.array(tokens)].astype(np.float32)
        group = self.heads // self.kv_heads
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            TRACE[f"{l}.attn_norm"] = h[0]
            q = self.rope(self.matmul(p + "attn_q.weight", h), positions, self.heads)
            TRACE[f"{l}.q"] = q[0]
            k = self.rope(self.matmul(p + "attn_k.weight", h), positions, self.kv_heads)
            v = self.matmul(p + "attn_v.weight", h)
            K, V = cache[l]
            K = np.concatenate([K, self.f16(k)]) if K is not None else self.f16(k)
            V = np.concatenate([V, self.f16(v)]) if V is not None else self.f16(v)
            cache[l] = (K, V)
            TRACE[f"{l}.v"] = v[0]
            out = np.zeros_like(q)
            for hd in range(self.heads):
                g = hd // group
                qs = self.f16(q[:, hd * self.head_dim:(hd + 1) * self.head_dim])
                ks = K[:, g * self.head_dim:(g + 1) * self.head_dim]
                vs = V[:, g * self.head_dim:(g + 1) * self.head_dim]
                scores = (qs @ ks.T) / np.float32(np.sqrt(self.head_dim))
                for t in range(n):
                    scores[t, start + t + 1:] = -np.inf
                scores = scores - scores.max(axis=1, keepdims=True)
                e = np.exp(scores)
                wts = self.f16(e / e.sum(axis=1, keepdims=True))
                out[:, hd * self.head_dim:(hd + 1) * self.head_dim] = wts @ vs
            TRACE[f"{l}.attended"] = out[0]
            x = x + self.matmul(p + "attn_output.weight", out)
            h = self.rms(x, self.w[p + "ffn_norm.weight"])
            TRACE[f"{l}.ffn_norm"] = h[0]
            gate = self.matmul(p + "ffn_gate.weight", h)
            TRACE[f"{l}.gate"] = gate[0]
            up = self.matmul(p + "ffn_up.weight", h)
            act = gate / (np.float32(1) + np.exp(-gate)) * up
            TRACE[f"{l}.act"] = act[0]
            down = self.matmul(p + "ffn_down.weight", act)
            TRACE[f"{l}.down"] = down[0]
            x = x + down
        h = self.rms(x[-1:], self.w["output_norm.weight"])
        return self.matmul("output.weight", h)[0]


def run_logits(model, tokens):
    cache = [(None, None)] * model.layers
    return {"logits": [float(v) for v in model.forward(tokens, cache, 0)]}


def run_greedy(model, tokens, n, stop):
    cache = [(None, None)] * model.layers
    logits = model.forward(tokens, cache, 0)
    ids, margins, pos = [], [], len(tokens)
    for _ in range(n):
        top2 = np.argsort(logits)[-2:]
        nxt = int(top2[1])
        ids.append(nxt)
        margins.append(float(logits[top2[1]] - logits[top2[0]]))
        if nxt in stop:
            break
        logits = model.forward([nxt], cache, pos)
        pos += 1
    return {"ids": ids, "margins": margins}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", default="", help="comma-separated prompt token ids")
    ap.add_argument("--activations", choices=["float", "q8"], default="q8")
    ap.add_argument("--trace", action="store_true", help="add the first token's vector after each stage")
    ap.add_argument("--layers", type=int, default=0, help="run only the first N blocks (diagnostics)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("logits")
    g = sub.add_parser("greedy")
    g.add_argument("--n", type=int, default=32)
    g.add_argument("--stop", default="", help="comma-separated ids that end generation")
    sub.add_parser("jobs")
    a = ap.parse_args()
    model = Model(a.model, a.activations)
    if a.layers:
        model.layers = a.layers
    if a.cmd == "jobs":
        results = []
        for job in json.load(sys.stdin):
            if job["mode"] == "logits":
                results.append(run_logits(model, job["tokens"]))
            else:
                results.append(run_greedy(model, job["tokens"], job.get("n", 32), set(job.get("stop", []))))
        json.dump(results, sys.stdout)
        return
    tokens = [int(t) for t in a.tokens.split(",") if t]
    if a.cmd == "logits":
        result = run_logits(model, tokens)
        if a.trace:
            result["trace"] = {k: [float(x) for x in v] for k, v in TRACE.items()}
        json.dump(result, sys.stdout)
    else:
        stop = {int(t) for t in a.stop.split(",") if t}
        json.dump(run_greedy(model, tokens, a.n, stop), sys.stdout)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent NumPy reference of the llama, Gemma 3, Qwen2, Qwen3 and Phi-3 forward passes over a
GGUF file, for ParleyEngine's tests.

Weights are dequantized by the `gguf` PyPI package (not by Parley's code). Two arithmetic modes:

  --activations float  plain float32 math (float64 sums in the norms): the "true" model.
  --activations q8     like llama.cpp on the CPU: before every product with a quantized weight the
                       activations are quantized per block (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL weights,
                       Q8_1 for Q4_1/Q5_1: 32 values, d = max|x|/127 rounded to f16; Q8_K for K-quant
                       and IQ4_XS weights: 256 values, float d = max/-127), and the KV cache, the query and the
                       attention weights are rounded to f16. Gemma 3's GELU goes through ggml's f16
                       lookup table (y = f16(gelu(f16(x))) for -10 < x < 10); in float mode it is
                       the plain float32 tanh formula.
                       Checked against llama.cpp's CPU backend stage by stage (each op fed llama.cpp's
                       own inputs): ~1e-6 relative, GELU bit-exact. End to end, Gemma 3 amplifies
                       last-bit differences through the activation rounding and its large norm
                       weights: logits of llama.cpp and of this reference (either mode) differ by
                       up to ~1-3, as much as llama.cpp's own flash and non-flash attention do.

Architectures: "llama" (with the attn_q/k/v.bias and attn_output.bias llama.cpp adds where a file
has them); "smollm3", llama's graph without the rotation in every fourth layer, and "gemma2", gemma3's below
without the q/k norms and with soft caps (see init_gemma3), each checked against llama.cpp on a
random-weight file; "gemma3" as llama.cpp's gemma3 graph runs it: embeddings × sqrt(n_embd),
per-head RMSNorm of q and k before NEOX RoPE, post-attention and post-FFN norms, GELU(tanh)-gated FFN,
sliding-window layers (all but every 6th, RoPE base 10000) and global layers (rope.freq_base, linear
rope scaling), query scaled by 1/sqrt(head_dim) before the product, tied output. The converter has
already added Gemma's +1 to the norm weights, so every norm is x/rms(x)·w with w as stored.

"qwen2" and "qwen3" as llama.cpp's qwen2/qwen3 graphs run them: the llama block (RMSNorm, SiLU-gated
FFN, grouped-query attention, scores scaled by 1/sqrt(head_dim) before the softmax) with NEOX RoPE
(pairs (i, i + head_dim/2)), the q/k/v biases (blk.N.attn_{q,k,v}.bias, added after the product
whenever the file has them: Qwen2 always, Qwen3 normally not) and, for qwen3, a per-head RMSNorm of q
and k before the rotation (attn_q_norm/attn_k_norm, width head_dim, plain x/rms(x)·w: Qwen3's norms
have no +1, and neither the converter nor the graph adds one). Head width = attention.key_length
(default n_embd/n_head; Qwen3-0.6B: 1024 wide, 16 heads of 128); value_length and
rope.dimension_count must equal it, as llama.cpp asserts. output.weight absent -> tied to
token_embd.weight; qwen2's optional output.bias is added to the logits. Rope scaling: none or linear
only (YaRN, e.g. Qwen2.5's long-context files, is refused); fused attn_qkv tensors are refused.
Checked against llama.cpp (llama-cpp-python 0.3.36, CPU) on random-weight F32 qwen2/qwen3 files with
large biases and q/k norm weights, sequences of 1-40 tokens: float mode vs llama.cpp with an F32 KV
cache differs by <= 4e-5 (logits up to ~100); q8 mode vs llama.cpp's default (F16 KV cache) by <= 2e-2
on F32 weights, and on Q8_0/Q4_0/Q4_1/Q4_K/Q5_K/Q6_K files it matches to ~1e-5 until one activation
rounding flips, then by up to ~1 — less than llama.cpp's flash vs non-flash attention differ there.

"phi3" (Phi-3, Phi-3.5, Phi-4-mini) as llama.cpp's phi3 graph runs it: the llama block (RMSNorm,
grouped-query attention) with a fused blk.N.attn_qkv.weight (output rows q, then k, then v; optional
attn_qkv.bias, or attn_q/k/v.bias) or separate attn_q/k/v (optional biases); a fused
blk.N.ffn_up.weight of 2·n_ff rows whose first n_ff rows are the gate (SiLU applied) and the last n_ff
the up projection (ggml_swiglu, not swapped); NEOX rotation of the first rope.dimension_count dims of
each head (Phi-4-mini: 96 of 128), the others unrotated; the query scaled by 1/sqrt(head_dim) after the
rotation, before the product; output.weight or, absent, token_embd.weight. LongRoPE: with
rope_factors_long.weight / rope_factors_short.weight (rope_dims/2 per-pair divisors of the angle),
llama.cpp takes the long factors when its per-sequence context (n_ctx rounded up to a multiple of
256) exceeds rope.scaling.original_context_length (default context_length), else the short ones
(none when the file lacks that tensor); --context N gives the context size (default: the original
length). rope.scaling.attn_factor (default 1) multiplies cos and sin, so the rotated dims of q and k
(only those) are scaled by it, with or without factors. attention.sliding_window is ignored, as
llama.cpp disables Phi's SWA. Checked against llama.cpp (llama-cpp-python 0.3.36, CPU, no flash
attention) on random F32 phi3 files (fused and separate qkv, 16/48 of 32/64 dims rotated, LongRoPE with
both factor sets, attn_factor 1.35 and 0.8), 1-40 tokens, contexts 64/256/512: float mode vs an F32 KV
cache differs by <= 3e-4 on logits up to ~70 (as much as this reference's own batched and one-token
runs differ); q8 mode vs the F16 KV cache by <= 5e-2, and on Q8_0/Q4_K_M/Q6_K files by ~1e-5 until an
activation rounding flips, then by up to ~2 — less than llama.cpp's flash vs non-flash attention there.

Usage:
  forward.py --model M.gguf --tokens 1,2,3 logits       -> {"logits": [...vocab floats of the last token]}
  forward.py --model M.gguf --tokens 1,2,3 greedy --n 32 -> {"ids": [...], "margins": [...]}
     margins[i] = top-1 minus top-2 logit at step i (how close greedy was to a tie).
  forward.py --model M.gguf jobs < jobs.json  -> one result per job, loading the weights once;
     jobs.json = [{"tokens": [...], "mode": "logits" | "greedy", "n": 32, "stop": [ids]}, ...]
  --context N (phi3 only): the context size the model runs with; it picks LongRoPE's factor set.
"""
import argparse
import json
import os
import struct
import sys

# One BLAS thread: the products here are matrix-vector sized, and threaded OpenBLAS slows them down
# several-fold when the machine is busy (as it is while the Swift tests run). Same results.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from gguf import GGUFReader
from gguf.constants import GGMLQuantizationType as QT
from gguf.constants import GGUFValueType as VT
from gguf.quants import dequantize


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    v = f.contents()
    return v


class Reader(GGUFReader):
    """GGUFReader that skips the contents of long metadata arrays (the tokenizer's vocabulary: the
    reference never reads it, and gguf parses it element by element, ~15 s for a 262k vocab). Such
    fields are kept with no data; everything else, the tensors included, is parsed by gguf as usual."""

    LONG = 4096

    def _get_field_parts(self, orig_offs, raw_type):
        if VT(raw_type) != VT.ARRAY or self.byte_order != "I":
            return super()._get_field_parts(orig_offs, raw_type)
        raw_itype = self._get(orig_offs, np.uint32)
        alen = self._get(orig_offs + 4, np.uint64)
        count, itype = int(alen[0]), VT(int(raw_itype[0]))
        if count <= self.LONG or (itype != VT.STRING and itype not in self.gguf_scalar_to_np):
            return super()._get_field_parts(orig_offs, raw_type)
        offs = orig_offs + 12
        if itype == VT.STRING:
            buf = memoryview(self.data)
            for _ in range(count):
                offs += 8 + struct.unpack_from("<Q", buf, offs)[0]
        else:
            offs += count * np.dtype(self.gguf_scalar_to_np[itype]).itemsize
        return offs - orig_offs, [raw_itype, alen], [], [VT.ARRAY, itype]


TRACE = {}  # stage -> first token's vector, filled when --trace is given


class Model:
    def __init__(self, path, mode, context=None):
        r = Reader(path)
        arch = field(r, "general.architecture")
        if arch not in ("llama", "smollm3", "gemma2", "gemma3", "qwen2", "qwen3", "phi3"):
            raise SystemExit(f"unsupported architecture {arch}")
        self.arch = arch
        if arch in ("gemma2", "gemma3"):
            self.init_gemma3(r, arch)
        elif arch in ("qwen2", "qwen3"):
            self.init_qwen(r, arch)
        elif arch == "phi3":
            self.init_phi3(r, context)
        else:
            self.init_llama(r, arch)
        self.mode = mode
        self.load(r)
        if arch in ("qwen2", "qwen3"):
            self.check_qwen_tensors()
        elif arch == "phi3":
            self.check_phi3_tensors()

    def init_llama(self, r, arch="llama"):
        a = arch + "."
        self.dim = int(field(r, a + "embedding_length"))
        self.layers = int(field(r, a + "block_count"))
        self.heads = int(field(r, a + "attention.head_count"))
        self.kv_heads = int(field(r, a + "attention.head_count_kv", self.heads))
        self.eps = np.float32(field(r, a + "attention.layer_norm_rms_epsilon"))
        self.base = np.float32(field(r, a + "rope.freq_base", 10000.0))
        self.head_dim = self.dim // self.heads
        self.rope_dims = int(field(r, a + "rope.dimension_count", self.head_dim))
        # Linear rope scaling (angle · 1/factor) and Llama 3.1's rope_freqs tensor (angle / factor_i),
        # as ggml's rope cache applies them.
        factor = field(r, a + "rope.scaling.factor", field(r, a + "rope.scale_linear", 0.0))
        linear = field(r, a + "rope.scaling.type", "linear") == "linear" and factor
        self.freq_scale = np.float32(1.0 / factor) if linear else np.float32(1.0)

    def init_gemma3(self, r, arch="gemma3"):
        """gemma3, and gemma2 (llama.cpp's defaults differ: a window of 4096 in every other layer, the
        sliding layers on the global base, no q/k norms, soft caps of 50 on the scaled attention
        scores and 30 on the logits, the 27B's scale at 46 layers)."""
        a = arch + "."
        gemma2 = arch == "gemma2"
        self.dim = int(field(r, a + "embedding_length"))
        self.layers = int(field(r, a + "block_count"))
        self.heads = int(field(r, a + "attention.head_count"))
        self.kv_heads = int(field(r, a + "attention.head_count_kv", self.heads))
        self.eps = np.float32(field(r, a + "attention.layer_norm_rms_epsilon"))
        self.head_dim = int(field(r, a + "attention.key_length", self.dim // self.heads))
        if int(field(r, a + "attention.value_length", self.head_dim)) != self.head_dim:
            raise SystemExit("gemma3: key_length != value_length is not supported")
        self.rope_dims = int(field(r, a + "rope.dimension_count", self.head_dim))
        # llama.cpp: rope.freq_base (default 10000) and 1/rope.scaling.factor on global layers;
        # sliding layers use rope.freq_base_swa (default 10000) and no scaling.
        self.base = np.float32(field(r, a + "rope.freq_base", 10000.0))
        factor = field(r, a + "rope.scaling.factor", field(r, a + "rope.scale_linear", 0.0))
        self.freq_scale = np.float32(1.0 / factor) if factor else np.float32(1.0)
        rtype = field(r, a + "rope.scaling.type", "linear" if factor else "none")
        if rtype not in ("none", "linear"):
            raise SystemExit(f"{arch}: rope scaling {rtype} is not supported")
        if gemma2 and factor:
            raise SystemExit("gemma2: rope scaling is not supported")
        self.base_swa = np.float32(field(r, a + "rope.freq_base_swa", self.base if gemma2 else 10000.0))
        self.window = int(field(r, a + "attention.sliding_window", 4096 if gemma2 else 0))
        pattern = field(r, a + "attention.sliding_window_pattern", 2 if gemma2 else 6)
        if self.window <= 0:
            self.is_swa = [False] * self.layers
        elif isinstance(pattern, list):
            self.is_swa = [bool(v) for v in pattern][: self.layers]
        else:
            n = int(pattern)  # llama.cpp's set_swa_pattern: the last layer of every n is global
            self.is_swa = [n == 0 or (il % n < n - 1) for il in range(self.layers)]
        # llama.cpp: 1/sqrt(n_embd/n_head) for the 27B (62 blocks), else 1/sqrt(head_dim); applied
        # to the query in float32 before the attention product.
        width = self.dim // self.heads if self.layers == (46 if gemma2 else 62) else self.head_dim
        self.attn_scale = np.float32(1.0) / np.float32(np.sqrt(np.float32(width)))
        if gemma2:
            self.attn_softcap = np.float32(field(r, a + "attn_logit_softcapping", 50.0))
            self.final_softcap = np.float32(field(r, a + "final_logit_softcapping", 30.0))
        else:
            self.attn_softcap = self.final_softcap = None
            if field(r, a + "final_logit_softcapping", None):
                raise SystemExit("gemma3: final_logit_softcapping is not part of llama.cpp's gemma3 graph")
        self.embed_scale = np.float32(np.sqrt(np.float32(self.dim)))

    def init_qwen(self, r, arch):
        a = arch + "."
        self.dim = int(field(r, a + "embedding_length"))
        self.layers = int(field(r, a + "block_count"))
        heads = field(r, a + "attention.head_count")
        kv_heads = field(r, a + "attention.head_count_kv", heads)
        if isinstance(heads, list) or isinstance(kv_heads, list):
            raise SystemExit(f"{arch}: per-layer head counts are not supported")
        self.heads, self.kv_heads = int(heads), int(kv_heads)
        self.eps = np.float32(field(r, a + "attention.layer_norm_rms_epsilon"))
        self.head_dim = int(field(r, a + "attention.key_length", self.dim // self.heads))
        if int(field(r, a + "attention.value_length", self.dim // self.heads)) != self.head_dim:
            raise SystemExit(f"{arch}: value_length != key_length is not supported (llama.cpp asserts it)")
        self.rope_dims = int(field(r, a + "rope.dimension_count", self.head_dim))
        if self.rope_dims != self.head_dim:
            raise SystemExit(f"{arch}: rope.dimension_count != head dim is not supported (llama.cpp asserts it)")
        self.base = np.float32(field(r, a + "rope.freq_base", 10000.0))
        # llama.cpp: scaling type defaults to "linear"; "none" never scales; the factor is
        # rope.scaling.factor (or the old rope.scale_linear), 0/absent meaning 1.
        rtype = field(r, a + "rope.scaling.type", "linear")
        factor = field(r, a + "rope.scaling.factor", field(r, a + "rope.scale_linear", 0.0))
        if rtype not in ("none", "linear"):
            raise SystemExit(f"{arch}: rope scaling {rtype} is not supported")
        attn_factor = field(r, a + "rope.scaling.attn_factor", 1.0)
        if float(attn_factor) != 1.0:
            raise SystemExit(f"{arch}: rope.scaling.attn_factor {attn_factor} is not supported")
        self.freq_scale = np.float32(1.0 / factor) if rtype == "linear" and factor else np.float32(1.0)
        # llama.cpp's build_attn: kq_scale = 1.0f/sqrtf(float(n_embd_head)), applied in the softmax.
        self.attn_scale = np.float32(1.0) / np.float32(np.sqrt(np.float32(self.head_dim)))

    def init_phi3(self, r, context):
        a = "phi3."
        self.dim = int(field(r, a + "embedding_length"))
        self.layers = int(field(r, a + "block_count"))
        heads = field(r, a + "attention.head_count")
        kv_heads = field(r, a + "attention.head_count_kv", heads)
        n_ff = field(r, a + "feed_forward_length")
        if isinstance(heads, list) or isinstance(kv_heads, list) or isinstance(n_ff, list):
            raise SystemExit("phi3: per-layer head counts / feed_forward_length are not supported")
        self.heads, self.kv_heads, self.n_ff = int(heads), int(kv_heads), int(n_ff)
        self.eps = np.float32(field(r, a + "attention.layer_norm_rms_epsilon"))
        self.head_dim = int(field(r, a + "attention.key_length", self.dim // self.heads))
        if int(field(r, a + "attention.value_length", self.dim // self.heads)) != self.head_dim:
            raise SystemExit("phi3: value_length != key_length is not supported (llama.cpp asserts it)")
        if self.heads * self.head_dim != self.dim:
            raise SystemExit("phi3: heads·head_dim != embedding_length (llama.cpp's attn_output is n_embd × n_embd)")
        self.rope_dims = int(field(r, a + "rope.dimension_count", self.head_dim))
        if self.rope_dims > self.head_dim or self.rope_dims % 2:
            raise SystemExit(f"phi3: rope.dimension_count {self.rope_dims} must be even and <= head dim {self.head_dim}")
        self.base = np.float32(field(r, a + "rope.freq_base", 10000.0))
        # The converter writes neither rope.scaling.type nor .factor for phi3: llama.cpp's defaults
        # ("linear", factor 1) then leave the angle unscaled and YaRN off (ext_factor 0).
        rtype = field(r, a + "rope.scaling.type", "linear")
        factor = field(r, a + "rope.scaling.factor", field(r, a + "rope.scale_linear", 0.0))
        if rtype not in ("none", "linear", "longrope"):
            raise SystemExit(f"phi3: rope scaling {rtype} is not supported")
        self.freq_scale = np.float32(1.0 / factor) if rtype != "none" and factor else np.float32(1.0)
        # rope.scaling.attn_factor: ggml's rope multiplies cos and sin by it (mscale).
        self.rope_mscale = np.float32(field(r, a + "rope.scaling.attn_factor", 1.0))
        n_ctx_train = int(field(r, a + "context_length"))
        self.n_ctx_orig = int(field(r, a + "rope.scaling.original_context_length", n_ctx_train)) or n_ctx_train
        self.context = self.n_ctx_orig if context is None else int(context)
        if self.context <= 0:
            raise SystemExit("--context must be positive")
        # llama.cpp's get_rope_factors: long factors when n_ctx_seq > n_ctx_orig_yarn, where n_ctx_seq is
        # the context rounded up to a multiple of 256 (llama_context pads n_ctx; one sequence).
        n_ctx_seq = (self.context + 255) // 256 * 256
        self.use_long_factors = n_ctx_seq > self.n_ctx_orig
        # llama.cpp: build_attn with kq_scale 1 after Qcur·1/sqrt(n_embd_head) (the full head width).
        self.attn_scale = np.float32(1.0) / np.float32(np.sqrt(np.float32(self.head_dim)))

    def check_phi3_tensors(self):
        # The tensors llama.cpp's phi3 loader creates; it refuses a file with any other (its count check).
        known = {"token_embd.weight", "output_norm.weight", "output.weight", "rope_factors_long.weight",
                 "rope_factors_short.weight"}
        for l in range(self.layers):
            p = f"blk.{l}."
            known |= {p + n for n in ("attn_norm.weight", "attn_qkv.weight", "attn_qkv.bias", "attn_q.weight",
                                      "attn_k.weight", "attn_v.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias",
                                      "attn_output.weight", "ffn_norm.weight", "ffn_up.weight", "ffn_down.weight")}
            if p + "attn_qkv.weight" not in self.w and any(p + f"attn_{x}.weight" not in self.w for x in "qkv"):
                raise SystemExit(f"phi3: {p}attn_qkv.weight or attn_q/k/v.weight missing")
            if self.w[p + "ffn_up.weight"].shape[0] != 2 * self.n_ff:
                raise SystemExit(f"phi3: {p}ffn_up.weight must have 2·feed_forward_length rows (gate, up)")
        extra = sorted(set(self.w) - known - {"output.weight"})
        if extra:
            raise SystemExit(f"phi3: tensors llama.cpp's phi3 graph does not load: {', '.join(extra[:5])}")
        for name in ("rope_factors_long.weight", "rope_factors_short.weight"):
            if name in self.w and self.w[name].shape != (self.rope_dims // 2,):
                raise SystemExit(f"phi3: {name} must hold rope.dimension_count/2 = {self.rope_dims // 2} values")
        self.rope_factors = self.w.get("rope_factors_long.weight" if self.use_long_factors
                                       else "rope_factors_short.weight")

    def check_qwen_tensors(self):
        if any(name.endswith("attn_qkv.weight") for name in self.w):
            raise SystemExit(f"{self.arch}: fused attn_qkv tensors are not supported")
        if self.w.get("rope_freqs.weight") is not None:
            raise SystemExit(f"{self.arch}: rope_freqs is not part of llama.cpp's {self.arch} graph")
        if self.w["token_embd.weight"].shape[1] != self.dim:
            raise SystemExit(f"{self.arch}: token_embd width != embedding_length")
        for l in range(self.layers):
            p = f"blk.{l}."
            if self.w[p + "attn_q.weight"].shape[0] != self.heads * self.head_dim:
                raise SystemExit(f"{self.arch}: {p}attn_q.weight has {self.w[p + 'attn_q.weight'].shape[0]} rows, "
                                 f"expected heads·head_dim = {self.heads * self.head_dim}")
            if self.arch == "qwen3" and (p + "attn_q_norm.weight" not in self.w or p + "attn_k_norm.weight" not in self.w):
                raise SystemExit(f"qwen3: {p}attn_q_norm/attn_k_norm missing")

    def load(self, r):
        self.w = {}
        self.types = {}
        self.q4_1_min = {}  # Q4_1's and Q5_1's block minimums
        for t in r.tensors:
            if t.tensor_type in (QT.Q4_1, QT.Q5_1):
                blocks = np.asarray(t.data).reshape(-1, 20 if t.tensor_type == QT.Q4_1 else 24)
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
        # ggml's quantize_row_q8_K_ref: iscale = -127/max, max = the value of largest magnitude
        # (-128/max before ggml changed it for IQ2_XXS; with -128 the products with K-quant weights
        # differ from llama.cpp's by up to ~1% of their range).
        b = x.reshape(x.shape[0], -1, 256)
        idx = np.abs(b).argmax(axis=2)[..., None]
        mx = np.take_along_axis(b, idx, axis=2)
        iscale = np.where(mx != 0, np.float32(-127) / np.where(mx != 0, mx, 1), 0).astype(np.float32)
        q = np.minimum(np.rint(b * iscale), 127)
        d = np.where(mx != 0, np.float32(1) / np.where(iscale != 0, iscale, 1), 0).astype(np.float32)
        return (q * d).reshape(x.shape)

    def matmul(self, name, x):
        w = self.w[name]
        if self.mode == "q8":
            t = self.types[name]
            if t in (QT.Q2_K, QT.Q3_K, QT.Q4_K, QT.Q5_K, QT.Q6_K, QT.IQ4_XS):
                x = self.q8_k(x)
            elif t in (QT.Q4_0, QT.Q5_0, QT.Q8_0, QT.IQ4_NL):
                x = self.q8_blocks(x)[0]
            elif t in (QT.Q4_1, QT.Q5_1):
                # llama.cpp's Q4_1·Q8_1 and Q5_1·Q8_1 dots add m·s with s kept as f16(d·Σq).
                x, s_err = self.q8_blocks(x)
                return x @ w.T + s_err @ self.q4_1_min[name].T
            elif t == QT.F16:
                x = x.astype(np.float16).astype(np.float32)
            elif t != QT.F32:
                raise SystemExit(f"--activations q8: no activation rule for {t.name} ({name})")
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
        factors = self.w.get("rope_freqs.weight")
        for t, p in enumerate(positions):
            theta = np.float32(p)
            for i in range(self.rope_dims // 2):
                angle = theta if factors is None else np.float32(theta / factors[i])
                if self.freq_scale != 1:
                    angle = np.float32(self.freq_scale * angle)
                c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
                x0 = x[t, :, 2 * i].copy()
                x1 = x[t, :, 2 * i + 1].copy()
                x[t, :, 2 * i] = x0 * c - x1 * s
                x[t, :, 2 * i + 1] = x0 * s + x1 * c
                theta = np.float32(theta * scale)
        return x.reshape(n, -1)

    def attend(self, q, K, V, masked, scale=None, softcap=None):
        """Grouped-query attention of the queries q (tokens × heads·head_dim) over the cached K and V,
        `masked` (tokens × positions) left out: the scores (times `scale`, then soft-capped), a
        softmax, the f16-rounded weights times V, as llama.cpp's non-flash path computes it."""
        hd, group = self.head_dim, self.heads // self.kv_heads
        out = np.zeros((q.shape[0], self.heads * hd), dtype=np.float32)
        for hh in range(self.heads):
            g = hh // group
            qs = self.f16(q[:, hh * hd:(hh + 1) * hd])
            scores = qs @ K[:, g * hd:(g + 1) * hd].T
            if scale is not None:
                scores = scores * scale
            if softcap is not None:
                scores = np.tanh(scores / softcap) * softcap
            scores[masked] = -np.inf
            scores = scores - scores.max(axis=1, keepdims=True)
            e = np.exp(scores)
            wts = self.f16(e / e.sum(axis=1, keepdims=True))
            out[:, hh * hd:(hh + 1) * hd] = wts @ V[:, g * hd:(g + 1) * hd]
        return out

    def swiglu_ffn(self, p, l, x):
        """llama's feed-forward block of layer l (prefix p) on the residual x: RMSNorm, then
        down(silu(gate(h)) · up(h)); returns what is added to x."""
        h = self.rms(x, self.w[p + "ffn_norm.weight"])
        TRACE[f"{l}.ffn_norm"] = h[0]
        gate = self.matmul(p + "ffn_gate.weight", h)
        TRACE[f"{l}.gate"] = gate[0]
        up = self.matmul(p + "ffn_up.weight", h)
        act = gate / (np.float32(1) + np.exp(-gate)) * up
        TRACE[f"{l}.act"] = act[0]
        down = self.matmul(p + "ffn_down.weight", act)
        TRACE[f"{l}.down"] = down[0]
        return down

    def forward(self, tokens, cache, start):
        """Runs tokens at positions start..; cache = list of (K, V) arrays per layer; returns last logits."""
        if self.arch in ("gemma2", "gemma3"):
            return self.forward_gemma3(tokens, cache, start)
        if self.arch in ("qwen2", "qwen3"):
            return self.forward_qwen(tokens, cache, start)
        if self.arch == "phi3":
            return self.forward_phi3(tokens, cache, start)
        n = len(tokens)
        positions = list(range(start, start + n))
        x = self.w["token_embd.weight"][np.array(tokens)].astype(np.float32)
        group = self.heads // self.kv_heads
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            TRACE[f"{l}.attn_norm"] = h[0]
            # The biases llama.cpp's llama graph adds where the file has them (attn_q/k/v.bias).
            q = self.linear_bias(p + "attn_q", h)
            k = self.linear_bias(p + "attn_k", h)
            # SmolLM3 leaves every fourth layer unrotated (llama.cpp: (il + 1) % 4 == 0).
            if not (self.arch == "smollm3" and (l + 1) % 4 == 0):
                q = self.rope(q, positions, self.heads)
                k = self.rope(k, positions, self.kv_heads)
            TRACE[f"{l}.q"] = q[0]
            v = self.linear_bias(p + "attn_v", h)
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
            # llama's graph (alone of these) also adds attn_output.bias where the file has it.
            x = x + self.linear_bias(p + "attn_output", out)
            x = x + self.swiglu_ffn(p, l, x)
        h = self.rms(x[-1:], self.w["output_norm.weight"])
        return self.matmul("output.weight", h)[0]

    # -- Gemma 3 ------------------------------------------------------------------------------
    def gelu(self, x):
        """GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))).
        float mode: that formula in float32. q8 mode: ggml's CPU path (GGML_GELU_FP16): 0 for
        x <= -10, x for x >= 10, else the f16 table entry f16(gelu_f32(f16(x))), the table built as
        ggml's compiled ggml_gelu_f32 computes it (1 + a·x·x fused into one multiply-add, float32
        tanh). This reproduces llama.cpp's ffn_geglu outputs bit for bit (checked on all 27M values
        of a 775-token Gemma 3 prompt; numpy's own float32 tanh would change 235 table entries)."""
        c = np.float32(0.79788456080286535587989211986876)
        a = np.float32(0.044715)
        half, one = np.float32(0.5), np.float32(1)
        if self.mode != "q8":
            return half * x * (one + np.tanh(c * x * (one + a * x * x)))
        if not hasattr(self, "_gelu_table"):
            with np.errstate(all="ignore"):
                xs = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float32)
                # fma(a·x, x, 1): the float64 product of two float32 values is exact
                fused = ((a * xs).astype(np.float64) * xs.astype(np.float64) + 1).astype(np.float32)
                inner = (c * xs) * fused
                t = np.tanh(inner.astype(np.float64)).astype(np.float32)  # tanhf, correctly rounded
                self._gelu_table = (half * xs * (one + t)).astype(np.float16).astype(np.float32)
        y = self._gelu_table[x.astype(np.float16).view(np.uint16)]
        y = np.where(x >= np.float32(10), x, y)
        return np.where(x <= np.float32(-10), np.float32(0), y).astype(np.float32)

    def rope_neox(self, x, positions, heads, base, freq_scale, factors=None, mscale=None):
        """ggml's NEOX RoPE: element i pairs with i + rope_dims/2; angle freq_scale·θ where θ starts at
        p and is multiplied by base^(-2/rope_dims) in float32 once per pair (as ggml's cache does).
        factors (rope_freqs-like per-pair divisors): angle freq_scale·(θ/factors[i]); mscale (the
        rope attn_factor): cos and sin multiplied by it. Dims past rope_dims are left as they are."""
        n = x.shape[0]
        x = x.reshape(n, heads, self.head_dim).copy()
        half = self.rope_dims // 2
        theta_scale = np.float32(base) ** np.float32(-2.0 / self.rope_dims)
        theta = np.array(positions, dtype=np.float32)
        cos = np.empty((n, half), dtype=np.float32)
        sin = np.empty((n, half), dtype=np.float32)
        for i in range(half):
            t = theta if factors is None else (theta / np.float32(factors[i])).astype(np.float32)
            t = (freq_scale * t).astype(np.float32)
            cos[:, i] = np.cos(t)
            sin[:, i] = np.sin(t)
            theta = (theta * theta_scale).astype(np.float32)
        if mscale is not None:
            cos, sin = cos * np.float32(mscale), sin * np.float32(mscale)
        c, s = cos[:, None, :], sin[:, None, :]
        x0 = x[:, :, :half].copy()
        x1 = x[:, :, half:self.rope_dims].copy()
        x[:, :, :half] = x0 * c - x1 * s
        x[:, :, half:self.rope_dims] = x0 * s + x1 * c
        return x.reshape(n, -1)

    def head_rms(self, x, w, heads):
        n = x.shape[0]
        return self.rms(x.reshape(n * heads, self.head_dim), w).reshape(n, heads * self.head_dim)

    def forward_gemma3(self, tokens, cache, start):
        n = len(tokens)
        positions = list(range(start, start + n))
        hd = self.head_dim
        x = self.w["token_embd.weight"][np.array(tokens)].astype(np.float32) * self.embed_scale
        TRACE["embd"] = x[0]
        qpos = np.arange(start, start + n)[:, None]
        for l in range(self.layers):
            p = f"blk.{l}."
            swa = self.is_swa[l]
            base = self.base_swa if swa else self.base
            fscale = np.float32(1.0) if swa else self.freq_scale
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            TRACE[f"{l}.attn_norm"] = h[0]
            q = self.matmul(p + "attn_q.weight", h)
            k = self.matmul(p + "attn_k.weight", h)
            if self.arch == "gemma3":
                q = self.head_rms(q, self.w[p + "attn_q_norm.weight"], self.heads)
                k = self.head_rms(k, self.w[p + "attn_k_norm.weight"], self.kv_heads)
            v = self.matmul(p + "attn_v.weight", h)
            q = self.rope_neox(q, positions, self.heads, base, fscale) * self.attn_scale
            k = self.rope_neox(k, positions, self.kv_heads, base, fscale)
            TRACE[f"{l}.q"] = q[0]
            TRACE[f"{l}.k"] = k[0]
            TRACE[f"{l}.v"] = v[0]
            K, V = cache[l]
            K = np.concatenate([K, self.f16(k)]) if K is not None else self.f16(k)
            V = np.concatenate([V, self.f16(v)]) if V is not None else self.f16(v)
            cache[l] = (K, V)
            kpos = np.arange(K.shape[0])[None, :]
            masked = kpos > qpos
            if swa:
                masked = masked | (qpos - kpos >= self.window)
            out = self.attend(q, K, V, masked, softcap=self.attn_softcap)
            TRACE[f"{l}.attended"] = out[0]
            a = self.rms(self.matmul(p + "attn_output.weight", out), self.w[p + "post_attention_norm.weight"])
            TRACE[f"{l}.attn_out"] = a[0]
            x = x + a
            h = self.rms(x, self.w[p + "ffn_norm.weight"])
            TRACE[f"{l}.ffn_norm"] = h[0]
            gate = self.matmul(p + "ffn_gate.weight", h)
            TRACE[f"{l}.gate"] = gate[0]
            up = self.matmul(p + "ffn_up.weight", h)
            act = self.gelu(gate) * up
            TRACE[f"{l}.act"] = act[0]
            down = self.rms(self.matmul(p + "ffn_down.weight", act), self.w[p + "post_ffw_norm.weight"])
            TRACE[f"{l}.down"] = down[0]
            x = x + down
        h = self.rms(x[-1:], self.w["output_norm.weight"])
        logits = self.matmul("output.weight", h)[0]
        if self.final_softcap is not None:
            logits = np.tanh(logits / self.final_softcap) * self.final_softcap
        return logits

    # -- Qwen2 / Qwen3 ------------------------------------------------------------------------
    def linear_bias(self, name, x):
        """x·Wᵀ (+ the F32 bias of the same name when the file has one), as build_qkv does."""
        y = self.matmul(name + ".weight", x)
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def forward_qwen(self, tokens, cache, start):
        n = len(tokens)
        positions = list(range(start, start + n))
        hd = self.head_dim
        x = self.w["token_embd.weight"][np.array(tokens)].astype(np.float32)
        qpos = np.arange(start, start + n)[:, None]
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            TRACE[f"{l}.attn_norm"] = h[0]
            q = self.linear_bias(p + "attn_q", h)
            k = self.linear_bias(p + "attn_k", h)
            v = self.linear_bias(p + "attn_v", h)
            if self.arch == "qwen3":
                q = self.head_rms(q, self.w[p + "attn_q_norm.weight"], self.heads)
                k = self.head_rms(k, self.w[p + "attn_k_norm.weight"], self.kv_heads)
            q = self.rope_neox(q, positions, self.heads, self.base, self.freq_scale)
            k = self.rope_neox(k, positions, self.kv_heads, self.base, self.freq_scale)
            TRACE[f"{l}.q"] = q[0]
            TRACE[f"{l}.k"] = k[0]
            TRACE[f"{l}.v"] = v[0]
            K, V = cache[l]
            K = np.concatenate([K, self.f16(k)]) if K is not None else self.f16(k)
            V = np.concatenate([V, self.f16(v)]) if V is not None else self.f16(v)
            cache[l] = (K, V)
            masked = np.arange(K.shape[0])[None, :] > qpos
            out = self.attend(q, K, V, masked, scale=self.attn_scale)
            TRACE[f"{l}.attended"] = out[0]
            x = x + self.matmul(p + "attn_output.weight", out)
            x = x + self.swiglu_ffn(p, l, x)
        h = self.rms(x[-1:], self.w["output_norm.weight"])
        logits = self.matmul("output.weight", h)[0]
        b = self.w.get("output.bias") if self.arch == "qwen2" else None  # only qwen2's graph has it
        return logits if b is None else logits + b


    # -- Phi-3 --------------------------------------------------------------------------------
    def phi3_qkv(self, p, h):
        """q, k, v from the fused attn_qkv (rows q | k | v) or the separate projections, with the
        biases llama.cpp's build_qkv adds: attn_qkv.bias, else attn_q/k/v.bias (all three, when fused)."""
        nq, nk = self.heads * self.head_dim, self.kv_heads * self.head_dim
        if p + "attn_qkv.weight" not in self.w:
            return self.linear_bias(p + "attn_q", h), self.linear_bias(p + "attn_k", h), self.linear_bias(p + "attn_v", h)
        qkv = self.matmul(p + "attn_qkv.weight", h)
        b = self.w.get(p + "attn_qkv.bias")
        if b is None and all(p + f"attn_{x}.bias" in self.w for x in "qkv"):
            b = np.concatenate([self.w[p + f"attn_{x}.bias"] for x in "qkv"])
        if b is not None:
            qkv = qkv + b
        return qkv[:, :nq], qkv[:, nq:nq + nk], qkv[:, nq + nk:nq + 2 * nk]

    def forward_phi3(self, tokens, cache, start):
        n = len(tokens)
        positions = list(range(start, start + n))
        hd = self.head_dim
        x = self.w["token_embd.weight"][np.array(tokens)].astype(np.float32)
        qpos = np.arange(start, start + n)[:, None]
        mscale = None if self.rope_mscale == 1 else self.rope_mscale
        for l in range(self.layers):
            p = f"blk.{l}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            TRACE[f"{l}.attn_norm"] = h[0]
            q, k, v = self.phi3_qkv(p, h)
            q = self.rope_neox(q, positions, self.heads, self.base, self.freq_scale, self.rope_factors, mscale)
            k = self.rope_neox(k, positions, self.kv_heads, self.base, self.freq_scale, self.rope_factors, mscale)
            q = q * self.attn_scale
            TRACE[f"{l}.q"] = q[0]
            TRACE[f"{l}.k"] = k[0]
            TRACE[f"{l}.v"] = v[0]
            K, V = cache[l]
            K = np.concatenate([K, self.f16(k)]) if K is not None else self.f16(k)
            V = np.concatenate([V, self.f16(v)]) if V is not None else self.f16(v)
            cache[l] = (K, V)
            masked = np.arange(K.shape[0])[None, :] > qpos  # no sliding window: llama.cpp disables it for phi3
            out = self.attend(q, K, V, masked)
            TRACE[f"{l}.attended"] = out[0]
            x = x + self.matmul(p + "attn_output.weight", out)
            h = self.rms(x, self.w[p + "ffn_norm.weight"])
            TRACE[f"{l}.ffn_norm"] = h[0]
            gate_up = self.matmul(p + "ffn_up.weight", h)
            gate, up = gate_up[:, :self.n_ff], gate_up[:, self.n_ff:]
            TRACE[f"{l}.gate"] = gate[0]
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
    ap.add_argument("--context", type=int, default=None,
                    help="phi3: the context size the model runs with, which picks LongRoPE's long or short "
                         "factors as llama.cpp does (default: rope.scaling.original_context_length)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("logits")
    g = sub.add_parser("greedy")
    g.add_argument("--n", type=int, default=32)
    g.add_argument("--stop", default="", help="comma-separated ids that end generation")
    sub.add_parser("jobs")
    a = ap.parse_args()
    model = Model(a.model, a.activations, a.context)
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

// Integer dot-product kernels for x86-64 CPUs with AVX-512 VNNI (vpdpbusd on 256-bit vectors), used by
// ParleyEngine's matrix products when `parley_vnni_available()` says the CPU and OS support them.
//
// They take the engine's repacked weight layout (eight rows per group, four quants of each row per
// 32-bit lane; see WeightMatrix.swift) and its quantized activations (QuantizedActivations.swift),
// and produce, per activation vector, the eight rows' sums with exactly the integer block sums and
// the same sequence of float operations as the portable Swift kernels (DotKernels+Nibble.swift,
// DotKernels+Byte.swift), so their results are bit for bit the same. (Activation quants are within
// ±127, as QuantizedActivations produces them; a −128 would make the portable byte kernel's sign
// trick wrap where this one computes the true product.)
//
// The attention kernels (AttentionKernels.c) read the engine's f16 key/value cache sixteen lanes at
// a time for four queries at once, and its softmax, with the float steps of the portable Swift
// attention (Attention.swift, Attention+Runs.swift) lane by lane, so their results are the same too.
// Both kinds run only where `parley_vnni_available()`.
#ifndef CPARLEYKERNELS_H
#define CPARLEYKERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 if this CPU and OS run the kernels below (AVX2, FMA, F16C, AVX-512 F/BW/VL/VNNI with the
/// vector state enabled by the OS), else 0. Always 0 on other architectures, where the kernels
/// must not be called.
int parley_vnni_available(void);

/// A quantized weight matrix in the engine's repacked layout (see WeightMatrix.swift): row group
/// `g` (rows 8g…8g+7) has its quants at `quants + g * group_stride` bytes (`blocks` blocks of 128
/// bytes in the nibble format; in the byte format as `packed_bits` below) and its scales at
/// `scales + g * scale_stride` bytes (`scales_per_block`: eight, one per row, or in the byte format
/// sixteen, eight rows × two halves, for 6, 3 and 2 packed bits): f32 if
/// `scale_kind` is 0, f16 if 1; if 2, Int8 codes, each multiplied by the f16 multiplier of its row
/// and super-block (eight blocks) at `super_scales + g * super_stride` bytes, eight per super-block.
/// Nibble format only: the offsets `m` at `offsets` (and their multipliers at `super_offsets`),
/// laid out like the scales. Byte format: `packed_bits` per quant, 8 (blocks of 256 bytes) or 6,
/// 5, 3 or 2 (blocks of 32 × bits bytes: the low bits — a nibble block, or for 2 and 3 bits a
/// two-bit plane — then a plane of the high bits), the packed quants stored as q + `quant_bias`;
/// or 4 (blocks of 128 bytes laid out as a nibble block): indices into IQ4_NL's sixteen non-linear
/// levels.
typedef struct parley_matrix {
    const void *quants;
    const void *scales;
    const void *offsets;
    const void *super_scales;
    const void *super_offsets;
    long group_stride;
    long scale_stride;
    long super_stride;
    int rows;
    int blocks;
    int scale_kind;
    int nibble;
    int packed_bits;
    int quant_bias;
    int scales_per_block;
} parley_matrix;

/// A batch of `count` activation vectors quantized to 8 bits per 32-element block (see
/// QuantizedActivations.swift), `padded_width` quants each.
/// - In element order: vector `v`'s quants at `quants + v * padded_width`, its block scales and
///   scaled sums at `scales + v * blocks` and `sums + v * blocks`, and (byte weights) the
///   corrections of its half blocks at `corrections + v * 2 * blocks`: −128 × the sum of the
///   sixteen quants of the half.
/// - The first `8 * groups` vectors again as `groups` groups of eight interleaved vectors: in group
///   `e`, the four quants of chunk `c` of vector `v` at `group_quants + e * 8 * padded_width + 32c + 4v`,
///   scale and sum of block `b` at `(e * blocks + b) * 8 + v` of `group_scales` and `group_sums`, the
///   correction of half `h` of block `b` at `((e * blocks + b) * 2 + h) * 8 + v` of `group_corrections`.
typedef struct parley_batch {
    const int8_t *quants;
    const float *scales;
    const float *sums;
    const int32_t *corrections;
    const int8_t *group_quants;
    const float *group_scales;
    const float *group_sums;
    const int32_t *group_corrections;
    long padded_width;
    int count;
    int groups;
} parley_batch;

/// `out[v * out_stride + r] = Σ_b` (block `b` of row `r` of `w`) · (block `b` of vector `v` of `x`)
/// for rows `first_row..<end_row` (`first_row` a multiple of 8) and every vector: per block (nibble)
/// `(d·da)·Σq·qa + m·sa`, per half block (byte) `(s·da)·Σq·qa`, accumulated in that order from zero,
/// as the portable kernels do.
void parley_vnni_multiply(
    const parley_matrix *w, const parley_batch *x, int first_row, int end_row, float *out, long out_stride);

/// Attention scores of four queries against `count` positions of an f16 key cache (AVX-512; call only
/// when `parley_vnni_available()`): `scores[k * stride + p] = q_k · K[p]` for the queries at
/// `queries + k * dim` (floats, `dim` a multiple of 8) and the keys at `keys + p * row_bytes`,
/// summed as the portable Swift kernels sum them (Attention+Runs.swift), bit for bit.
void parley_attention_scores4(
    const float *queries, int dim, const void *keys, long row_bytes, int count, float *scores, long stride);

/// `out[k][e] += Σ_p weights[k * stride + p] · V[p][e]` for four queries, the f16 values at
/// `values + p * row_bytes`, `dim` (a multiple of 8) elements each, accumulated in order of `p`
/// as the portable Swift kernels do (AVX-512; call only when `parley_vnni_available()`).
void parley_attention_weighted_sum4(
    const float *weights, long stride, const void *values, long row_bytes, int count, int dim, float *const out[4]);

/// `x[0..<count]` scaled by `scale` and replaced by its softmax (rounded to f16 precision if
/// `round_to_half`), as the portable Swift softmax computes it, bit for bit (AVX-512; call only when
/// `parley_vnni_available()`). `x` has room for `count` rounded up to a multiple of 8; that padding
/// ends zeroed.
void parley_attention_softmax(float *x, int count, float scale, int round_to_half);

#if defined(__x86_64__)
#include <immintrin.h>

/// `v` rounded to f16 precision, to nearest even, lane by lane (`vcvtps2ph` and back). Inline here
/// because the intrinsic takes its rounding mode as an immediate, which Swift cannot pass.
__attribute__((target("avx,f16c"))) static inline __m256 parley_round_to_half(__m256 v) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
#endif

#ifdef __cplusplus
}
#endif

#endif

// Integer dot-product kernels for x86-64 CPUs with AVX-512 VNNI (vpdpbusd on 256-bit vectors), used by
// ParleyEngine's matrix products when `parley_vnni_available()` says the CPU and OS support them.
//
// They take the engine's repacked weight layout (eight rows per group, four quants of each row per
// 32-bit lane; see WeightMatrix.swift) and its quantized activations (QuantizedActivations.swift),
// and produce, per activation vector, the eight rows' sums with exactly the integer block sums and
// the same sequence of float operations as the portable Swift kernels (DotKernels+Nibble.swift,
// DotKernels+Byte.swift), so their results are bit for bit the same.
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

/// Activation vectors for the kernels. `layout` 0: `count` (1…4) vectors in element order, vector
/// `v` at `quants + v * quant_stride` bytes, its block scales, sums and byte corrections at
/// `scales + v * blocks`, `sums + v * blocks` and `corrections + v * 2 * blocks`. `layout` 1: a
/// group of eight interleaved vectors (`count` must be 8): the four quants of chunk `c` of vector
/// `v` at byte `32c + 4v`, scale and sum of block `b` of vector `v` at `8b + v`, the correction of
/// half `h` of block `b` at `(2b + h) * 8 + v`. A byte correction is −128 × the sum of the sixteen
/// quants of a half block; `sums` is read by the nibble kernel only, `corrections` by the byte kernel only.
typedef struct parley_activations {
    const int8_t *quants;
    const float *scales;
    const float *sums;
    const int32_t *corrections;
    long quant_stride;
    int count;
    int layout;
} parley_activations;

/// One row group of a nibble-format matrix (Q4_0, Q4_1, Q4_K): `blocks` blocks of 128 bytes of
/// quants at `w`, eight scales `d` and offsets `m` per block (f16 if `half_scales`, else f32).
/// Adds Σ_b (d·Σq·qa)·da + m·sa of vector `v` and row `r` to `acc[8v + r]`, block by block.
void parley_vnni_nibble(
    const void *w, const void *d, const void *m, int half_scales, int blocks, const parley_activations *x, float *acc);

/// One row group of a byte-format matrix (Q8_0, Q6_K): `blocks` blocks of 256 bytes of quants at
/// `w`, sixteen scales per block at `s` (eight rows × two halves). Adds Σ (s·Σq·qa)·da per half
/// block of vector `v` and row `r` to `acc[8v + r]`, half block by half block.
void parley_vnni_byte(const void *w, const void *s, int half_scales, int blocks, const parley_activations *x, float *acc);

#ifdef __cplusplus
}
#endif

#endif

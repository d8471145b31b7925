// The AVX-512 VNNI kernels declared in CParleyKernels.h.
//
// vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of four products to a
// 32-bit lane, with no intermediate saturation:
// - nibble weights are unsigned (0…15) and multiply the signed activation quants directly;
// - byte weights are signed, so the kernel feeds w + 128 (w XOR 0x80) as the unsigned operand and
//   starts each half-block sum at −128·Σa (the correction the activations carry), which leaves
//   exactly Σ w·a.
// The activation quants are the broadcast operand (one 32-bit group of four quants for all eight
// rows), which the compiler folds into vpdpbusd's memory operand. The float steps repeat those of
// the Swift kernels one for one (convert, scale product, fused multiply-add), so the results match
// them bit for bit.
#include "CParleyKernels.h"

#if defined(__x86_64__)

#include <cpuid.h>
#include <immintrin.h>
#include <string.h>

#pragma clang fp contract(off)

#define PK_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define PK_INLINE static inline __attribute__((always_inline)) PK_TARGET

int parley_vnni_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, f16c = 1u << 29;
    if ((c & (fma | osxsave | f16c)) != (fma | osxsave | f16c)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xE6) != 0xE6) return 0;  // the OS saves XMM, YMM, opmask and the upper ZMM state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned avx2 = 1u << 5, f = 1u << 16, bw = 1u << 30, vl = 1u << 31;
    if ((b & (avx2 | f | bw | vl)) != (avx2 | f | bw | vl)) return 0;
    return (int)((c >> 11) & 1);  // AVX512_VNNI
}

/// The eight scales at `index…index+7` of `base` (f16 or f32).
PK_INLINE __m256 scales8(const void *base, long index, int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + index)));
    return _mm256_loadu_ps((const float *)base + index);
}

/// Four quants at `p` repeated in every 32-bit lane.
PK_INLINE __m256i broadcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/// Chunk `k` (four quants) of half `h` (elements 16h…16h+15) of block `b` of vector `v`.
PK_INLINE const int8_t *quants(const parley_activations *x, int layout, int v, int b, int h, int k) {
    return layout ? x->quants + 256 * b + 128 * h + 32 * k + 4 * v
                  : x->quants + v * x->quant_stride + 32 * b + 16 * h + 4 * k;
}

PK_INLINE float scale(const parley_activations *x, int layout, int v, int b, int blocks) {
    return layout ? x->scales[8 * b + v] : x->scales[v * blocks + b];
}

PK_INLINE float sum(const parley_activations *x, int layout, int v, int b, int blocks) {
    return layout ? x->sums[8 * b + v] : x->sums[v * blocks + b];
}

PK_INLINE int32_t correction(const parley_activations *x, int layout, int v, int b, int h, int blocks) {
    return layout ? x->corrections[(2 * b + h) * 8 + v] : x->corrections[v * 2 * blocks + 2 * b + h];
}

/// `vectors` vectors (a constant after inlining); one or two vectors use two independent integer
/// chains per block so that vpdpbusd's latency overlaps.
PK_INLINE void nibble_tile(
    const uint8_t *w, const void *d, const void *m, int hs, int blocks, const parley_activations *x, float *acc,
    const int vectors, const int layout) {
    __m256 a[8];
    for (int v = 0; v < vectors; v++) a[v] = _mm256_loadu_ps(acc + 8 * v);
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < blocks; b++) {
        const uint8_t *wb = w + 128 * b;
        __m256i lo[4], hi[4];
        for (int k = 0; k < 4; k++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(wb + 32 * k));
            lo[k] = _mm256_and_si256(raw, mask);
            hi[k] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
        }
        const __m256 dw = scales8(d, 8L * b, hs), mw = scales8(m, 8L * b, hs);
        for (int v = 0; v < vectors; v++) {
            __m256i t;
            if (vectors <= 2) {
                __m256i t0 = _mm256_setzero_si256(), t1 = _mm256_setzero_si256();
                for (int k = 0; k < 4; k++) {
                    t0 = _mm256_dpbusd_epi32(t0, lo[k], broadcast4(quants(x, layout, v, b, 0, k)));
                    t1 = _mm256_dpbusd_epi32(t1, hi[k], broadcast4(quants(x, layout, v, b, 1, k)));
                }
                t = _mm256_add_epi32(t0, t1);
            } else {
                t = _mm256_setzero_si256();
                for (int k = 0; k < 4; k++) {
                    t = _mm256_dpbusd_epi32(t, lo[k], broadcast4(quants(x, layout, v, b, 0, k)));
                    t = _mm256_dpbusd_epi32(t, hi[k], broadcast4(quants(x, layout, v, b, 1, k)));
                }
            }
            const __m256 ds = _mm256_mul_ps(dw, _mm256_set1_ps(scale(x, layout, v, b, blocks)));
            a[v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), ds, a[v]);
            a[v] = _mm256_fmadd_ps(mw, _mm256_set1_ps(sum(x, layout, v, b, blocks)), a[v]);
        }
    }
    for (int v = 0; v < vectors; v++) _mm256_storeu_ps(acc + 8 * v, a[v]);
}

PK_INLINE void byte_tile(
    const uint8_t *w, const void *s, int hs, int blocks, const parley_activations *x, float *acc, const int vectors,
    const int layout) {
    __m256 a[8];
    for (int v = 0; v < vectors; v++) a[v] = _mm256_loadu_ps(acc + 8 * v);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int b = 0; b < blocks; b++) {
        for (int h = 0; h < 2; h++) {
            const uint8_t *wb = w + 256 * b + 128 * h;
            __m256i u[4];
            for (int k = 0; k < 4; k++) u[k] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(wb + 32 * k)), flip);
            const __m256 sw = scales8(s, 16L * b + 8 * h, hs);
            for (int v = 0; v < vectors; v++) {
                __m256i t = _mm256_set1_epi32(correction(x, layout, v, b, h, blocks));
                if (vectors <= 2) {
                    __m256i t1 = _mm256_setzero_si256();
                    t = _mm256_dpbusd_epi32(t, u[0], broadcast4(quants(x, layout, v, b, h, 0)));
                    t1 = _mm256_dpbusd_epi32(t1, u[1], broadcast4(quants(x, layout, v, b, h, 1)));
                    t = _mm256_dpbusd_epi32(t, u[2], broadcast4(quants(x, layout, v, b, h, 2)));
                    t1 = _mm256_dpbusd_epi32(t1, u[3], broadcast4(quants(x, layout, v, b, h, 3)));
                    t = _mm256_add_epi32(t, t1);
                } else {
                    for (int k = 0; k < 4; k++) t = _mm256_dpbusd_epi32(t, u[k], broadcast4(quants(x, layout, v, b, h, k)));
                }
                const __m256 ss = _mm256_mul_ps(sw, _mm256_set1_ps(scale(x, layout, v, b, blocks)));
                a[v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), ss, a[v]);
            }
        }
    }
    for (int v = 0; v < vectors; v++) _mm256_storeu_ps(acc + 8 * v, a[v]);
}

PK_TARGET void parley_vnni_nibble(
    const void *w, const void *d, const void *m, int half_scales, int blocks, const parley_activations *x, float *acc) {
    const uint8_t *q = (const uint8_t *)w;
#define PK_NIBBLE(hs)                                                                                                  \
    if (x->layout) {                                                                                                   \
        nibble_tile(q, d, m, hs, blocks, x, acc, 8, 1);                                                                \
        return;                                                                                                        \
    }                                                                                                                  \
    switch (x->count) {                                                                                                \
    case 1: nibble_tile(q, d, m, hs, blocks, x, acc, 1, 0); return;                                                    \
    case 2: nibble_tile(q, d, m, hs, blocks, x, acc, 2, 0); return;                                                    \
    case 3: nibble_tile(q, d, m, hs, blocks, x, acc, 3, 0); return;                                                    \
    default: nibble_tile(q, d, m, hs, blocks, x, acc, 4, 0); return;                                                   \
    }
    if (half_scales) {
        PK_NIBBLE(1)
    } else {
        PK_NIBBLE(0)
    }
#undef PK_NIBBLE
}

PK_TARGET void parley_vnni_byte(
    const void *w, const void *s, int half_scales, int blocks, const parley_activations *x, float *acc) {
    const uint8_t *q = (const uint8_t *)w;
#define PK_BYTE(hs)                                                                                                    \
    if (x->layout) {                                                                                                   \
        byte_tile(q, s, hs, blocks, x, acc, 8, 1);                                                                     \
        return;                                                                                                        \
    }                                                                                                                  \
    switch (x->count) {                                                                                                \
    case 1: byte_tile(q, s, hs, blocks, x, acc, 1, 0); return;                                                         \
    case 2: byte_tile(q, s, hs, blocks, x, acc, 2, 0); return;                                                         \
    case 3: byte_tile(q, s, hs, blocks, x, acc, 3, 0); return;                                                         \
    default: byte_tile(q, s, hs, blocks, x, acc, 4, 0); return;                                                        \
    }
    if (half_scales) {
        PK_BYTE(1)
    } else {
        PK_BYTE(0)
    }
#undef PK_BYTE
}

#else

int parley_vnni_available(void) { return 0; }

void parley_vnni_nibble(
    const void *w, const void *d, const void *m, int half_scales, int blocks, const parley_activations *x, float *acc) {
    (void)w, (void)d, (void)m, (void)half_scales, (void)blocks, (void)x, (void)acc;
    __builtin_trap();
}

void parley_vnni_byte(const void *w, const void *s, int half_scales, int blocks, const parley_activations *x, float *acc) {
    (void)w, (void)s, (void)half_scales, (void)blocks, (void)x, (void)acc;
    __builtin_trap();
}

#endif

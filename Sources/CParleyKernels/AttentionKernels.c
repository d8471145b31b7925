// The AVX-512 attention kernels declared in CParleyKernels.h: the f16 key/value cache read sixteen
// lanes at a time, each lane doing the float steps the Swift kernels (Attention+Runs.swift) do
// eight lanes at a time, in the same order, so that the results are the same bit for bit:
// - a score is eight lane sums, each a chain of fused multiply-adds over the head's vectors of
//   eight, then added up as ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)) (the Swift `sum4`, two `vhaddps`
//   and the halves). Here one 512-bit register holds the lanes of two positions.
// - an output element is one chain of fused multiply-adds over the positions, whatever the width.
#include "CParleyKernels.h"

#if defined(__x86_64__)

#include <immintrin.h>

#pragma clang fp contract(off)

#define PA_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define PA_INLINE static inline __attribute__((always_inline)) PA_TARGET

/// The eight f16 keys of vector `j` of the positions at `k0` and `k1`, as floats in the low and
/// high halves.
PA_INLINE __m512 pair_vector(const uint8_t *k0, const uint8_t *k1, int j) {
    __m128i lo = _mm_loadu_si128((const __m128i *)(k0 + 16 * j));
    __m128i hi = _mm_loadu_si128((const __m128i *)(k1 + 16 * j));
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1));
}

/// Per 128-bit lane: [a0+a1, a2+a3, b0+b1, b2+b3] (`vhaddps` on 512 bits).
PA_INLINE __m512 pair_sums(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x88), _mm512_shuffle_ps(a, b, 0xDD));
}

/// The scores of four queries (a, b, c, d: each a pair register of positions p, p+1) stored at
/// `s[k] + p` and `s[k] + p + 1`.
PA_INLINE void store_pair_scores(__m512 a, __m512 b, __m512 c, __m512 d, float *const s[4], int p) {
    __m512 z = pair_sums(pair_sums(a, b), pair_sums(c, d));
    // 128-bit lanes 0+1 hold position p, 2+3 position p+1: add each odd lane onto the even one.
    __m512 w = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0xB1));
    float out[16];
    _mm512_storeu_ps(out, w);
    for (int k = 0; k < 4; k++) {
        s[k][p] = out[k];
        s[k][p + 1] = out[8 + k];
    }
}

/// The scores of one query at eight positions (`pairs[m]`: positions 2m, 2m+1) stored at `s…s+7`.
PA_INLINE void store_eight_scores(const __m512 pairs[4], float *s) {
    __m512 z = pair_sums(pair_sums(pairs[0], pairs[1]), pair_sums(pairs[2], pairs[3]));
    // 128-bit lanes 0+1: the first position of each pair; 2+3: the second.
    __m512 w = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, 0xB1));
    __m128 first = _mm512_castps512_ps128(w), second = _mm512_extractf32x4_ps(w, 2);
    _mm_storeu_ps(s, _mm_unpacklo_ps(first, second));
    _mm_storeu_ps(s + 4, _mm_unpackhi_ps(first, second));
}

/// Eight lane sums of one position's four queries added up as the Swift `sum4` does.
PA_INLINE __m128 sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

PA_TARGET void parley_attention_scores4(
    const float *queries, int dim, const void *keys, long row_bytes, int count, float *scores, long stride) {
    const int vectors = dim / 8;
    const uint8_t *k = (const uint8_t *)keys;
    float *const s[4] = {scores, scores + stride, scores + 2 * stride, scores + 3 * stride};
    // Each query vector twice, for the two positions of a pair register.
    __m512 q[4][vectors];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < vectors; j++) {
            __m512 v = _mm512_castps256_ps512(_mm256_loadu_ps(queries + i * dim + 8 * j));
            q[i][j] = _mm512_shuffle_f32x4(v, v, 0x44);
        }
    }
    int p = 0;
    // Eight positions (four pair registers) for the four queries: sixteen sums.
    for (; p + 8 <= count; p += 8) {
        const uint8_t *k0 = k + p * row_bytes;
        __m512 a[4][4];
        for (int i = 0; i < 4; i++) {
            for (int m = 0; m < 4; m++) a[i][m] = _mm512_setzero_ps();
        }
        for (int j = 0; j < vectors; j++) {
            __m512 x[4];
            for (int m = 0; m < 4; m++) x[m] = pair_vector(k0 + 2 * m * row_bytes, k0 + (2 * m + 1) * row_bytes, j);
            for (int i = 0; i < 4; i++) {
                for (int m = 0; m < 4; m++) a[i][m] = _mm512_fmadd_ps(x[m], q[i][j], a[i][m]);
            }
        }
        for (int i = 0; i < 4; i++) store_eight_scores(a[i], s[i] + p);
    }
    for (; p + 2 <= count; p += 2) {
        const uint8_t *k0 = k + p * row_bytes, *k1 = k0 + row_bytes;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < vectors; j++) {
            __m512 x = pair_vector(k0, k1, j);
            a0 = _mm512_fmadd_ps(x, q[0][j], a0);
            a1 = _mm512_fmadd_ps(x, q[1][j], a1);
            a2 = _mm512_fmadd_ps(x, q[2][j], a2);
            a3 = _mm512_fmadd_ps(x, q[3][j], a3);
        }
        store_pair_scores(a0, a1, a2, a3, s, p);
    }
    if (p < count) {
        const uint8_t *k0 = k + p * row_bytes;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < vectors; j++) {
            __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k0 + 16 * j)));
            a0 = _mm256_fmadd_ps(x, _mm512_castps512_ps256(q[0][j]), a0);
            a1 = _mm256_fmadd_ps(x, _mm512_castps512_ps256(q[1][j]), a1);
            a2 = _mm256_fmadd_ps(x, _mm512_castps512_ps256(q[2][j]), a2);
            a3 = _mm256_fmadd_ps(x, _mm512_castps512_ps256(q[3][j]), a3);
        }
        float out[4];
        _mm_storeu_ps(out, sum4(a0, a1, a2, a3));
        for (int i = 0; i < 4; i++) s[i][p] = out[i];
    }
}

PA_TARGET void parley_attention_weighted_sum4(
    const float *weights, long stride, const void *values, long row_bytes, int count, int dim, float *const out[4]) {
    const float *w[4] = {weights, weights + stride, weights + 2 * stride, weights + 3 * stride};
    const uint8_t *v = (const uint8_t *)values;
    int e = 0;
    // 64 elements of the four outputs in sixteen registers.
    for (; e + 64 <= dim; e += 64) {
        __m512 o[4][4];
        for (int i = 0; i < 4; i++) {
            for (int c = 0; c < 4; c++) o[i][c] = _mm512_loadu_ps(out[i] + e + 16 * c);
        }
        const uint8_t *row = v + 2 * e;
        for (int p = 0; p < count; p++, row += row_bytes) {
            __m512 x[4];
            for (int c = 0; c < 4; c++) x[c] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(row + 32 * c)));
            for (int i = 0; i < 4; i++) {
                __m512 b = _mm512_set1_ps(w[i][p]);
                for (int c = 0; c < 4; c++) o[i][c] = _mm512_fmadd_ps(x[c], b, o[i][c]);
            }
        }
        for (int i = 0; i < 4; i++) {
            for (int c = 0; c < 4; c++) _mm512_storeu_ps(out[i] + e + 16 * c, o[i][c]);
        }
    }
    for (; e + 16 <= dim; e += 16) {
        __m512 o[4];
        for (int i = 0; i < 4; i++) o[i] = _mm512_loadu_ps(out[i] + e);
        const uint8_t *row = v + 2 * e;
        for (int p = 0; p < count; p++, row += row_bytes) {
            __m512 x = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)row));
            for (int i = 0; i < 4; i++) o[i] = _mm512_fmadd_ps(x, _mm512_set1_ps(w[i][p]), o[i]);
        }
        for (int i = 0; i < 4; i++) _mm512_storeu_ps(out[i] + e, o[i]);
    }
    for (; e + 8 <= dim; e += 8) {
        __m256 o[4];
        for (int i = 0; i < 4; i++) o[i] = _mm256_loadu_ps(out[i] + e);
        const uint8_t *row = v + 2 * e;
        for (int p = 0; p < count; p++, row += row_bytes) {
            __m256 x = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)row));
            for (int i = 0; i < 4; i++) o[i] = _mm256_fmadd_ps(x, _mm256_set1_ps(w[i][p]), o[i]);
        }
        for (int i = 0; i < 4; i++) _mm256_storeu_ps(out[i] + e, o[i]);
    }
}

/// `VectorMath.exp` (Swift) sixteen lanes at a time: the same clamp, reduction, polynomial and
/// exponent bits, step for step.
PA_INLINE __m512 exp16(__m512 x) {
    const __m512 limit = _mm512_set1_ps(87.3f);
    __m512 clamped = _mm512_min_ps(_mm512_max_ps(x, _mm512_sub_ps(_mm512_setzero_ps(), limit)), limit);
    __m512i n = _mm512_cvtps_epi32(_mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504f)));
    __m512 nf = _mm512_cvtepi32_ps(n);
    __m512 r = _mm512_fmadd_ps(nf, _mm512_set1_ps(-0.693359375f), clamped);
    r = _mm512_fmadd_ps(nf, _mm512_set1_ps(2.1219444e-4f), r);
    __m512 p = _mm512_set1_ps(1.98756915e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.39819995e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.16657959e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.66666655e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001e-1f));
    __m512 e = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(n, _mm512_set1_epi32(127)), 23));
    return _mm512_mul_ps(e, scale);
}

PA_TARGET void parley_attention_softmax(float *x, int count, float scale, int round_to_half) {
    const int whole = count / 16 * 16, padded = (count + 7) / 8 * 8;
    const __m512 s = _mm512_set1_ps(scale);
    // Two maxima (exact in any order for finite scores), so that each waits on half as many.
    __m512 m0 = _mm512_set1_ps(-__builtin_inff()), m1 = m0;
    int p = 0;
    for (; p + 32 <= whole; p += 32) {
        __m512 v0 = _mm512_mul_ps(_mm512_loadu_ps(x + p), s), v1 = _mm512_mul_ps(_mm512_loadu_ps(x + p + 16), s);
        _mm512_storeu_ps(x + p, v0);
        _mm512_storeu_ps(x + p + 16, v1);
        m0 = _mm512_max_ps(m0, v0);
        m1 = _mm512_max_ps(m1, v1);
    }
    for (; p < whole; p += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + p), s);
        _mm512_storeu_ps(x + p, v);
        m0 = _mm512_max_ps(m0, v);
    }
    float max_score = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    for (p = whole; p < count; p++) {
        x[p] *= scale;
        if (x[p] > max_score) max_score = x[p];
    }
    // The exponentials of whole vectors of eight (the portable padding, zeroed), summed in double as
    // they are made: eight lanes (two chains of four, as `VectorMath.sumInDouble`) at a time.
    const __m512 m = _mm512_set1_ps(max_score);
    __m512d sum = _mm512_setzero_pd();
    for (p = 0; p < padded; p += 16) {
        const int left = count - p;
        const __mmask16 keep = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1);
        // Lanes past `count` are not read (the row may end at `padded`, eight short of sixteen).
        __m512 e = _mm512_maskz_mov_ps(keep, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(keep, x + p), m)));
        if (p + 16 <= padded) {
            _mm512_storeu_ps(x + p, e);
            sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
            sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
        } else {
            _mm256_storeu_ps(x + p, _mm512_castps512_ps256(e));
            sum = _mm512_add_pd(sum, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        }
    }
    __m256d halves = _mm256_add_pd(_mm512_castpd512_pd256(sum), _mm512_extractf64x4_pd(sum, 1));
    double lanes[4];
    _mm256_storeu_pd(lanes, halves);
    double total = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    if (total == 0) total = 1;
    const __m512 norm = _mm512_set1_ps((float)(1 / total));
    for (p = 0; p + 16 <= padded; p += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + p), norm);
        if (round_to_half) v = _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        _mm512_storeu_ps(x + p, v);
    }
    if (p < padded) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + p), _mm512_castps512_ps256(norm));
        if (round_to_half) v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
        _mm256_storeu_ps(x + p, v);
    }
}

#else

void parley_attention_softmax(float *x, int count, float scale, int round_to_half) {
    (void)x, (void)count, (void)scale, (void)round_to_half;
    __builtin_trap();
}

void parley_attention_scores4(
    const float *queries, int dim, const void *keys, long row_bytes, int count, float *scores, long stride) {
    (void)queries, (void)dim, (void)keys, (void)row_bytes, (void)count, (void)scores, (void)stride;
    __builtin_trap();
}

void parley_attention_weighted_sum4(
    const float *weights, long stride, const void *values, long row_bytes, int count, int dim, float *const out[4]) {
    (void)weights, (void)stride, (void)values, (void)row_bytes, (void)count, (void)dim, (void)out;
    __builtin_trap();
}

#endif

// The AVX-512 VNNI kernels declared in CParleyKernels.h.
//
// vpdpbusd multiplies unsigned bytes by signed bytes and adds each group of four products to a
// 32-bit lane, with no intermediate saturation:
// - nibble weights are unsigned (0…15) and multiply the signed activation quants directly;
// - byte weights are signed, so the kernel feeds w + 128 (w XOR 0x80) as the unsigned operand and
//   starts each half-block sum at −128·Σa (the correction the activations carry), which leaves
//   exactly Σ w·a; packed 2-, 3-, 5- and 6-bit weights are stored as w + bias and fed as they are, the sum
//   started at −bias·Σa (the correction times bias/128); the 4-bit indices of IQ4_NL and IQ4_XS are
//   looked up (vpshufb) in a table of their non-linear levels + 128, fed like 8-bit weights.
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

/// Up to eight activation vectors for one tile. `layout` 0: `count` (1…4) vectors in element
/// order, `quant_stride` bytes apart; 1: a group of eight interleaved vectors (see parley_batch).
typedef struct parley_activations {
    const int8_t *quants;
    const float *scales;
    const float *sums;
    const int32_t *corrections;
    long quant_stride;
    int count;
    int layout;
} parley_activations;

/// The eight scales at `index…index+7` of `base` (`kind` as parley_matrix's `scale_kind`): for
/// codes, times the f16 multipliers of their super-block at `multipliers + 8 * (index >> shift)`.
PK_INLINE __m256 scales8(const void *base, const void *multipliers, long index, int kind, int shift) {
    if (kind == 2) {
        long long c;
        memcpy(&c, (const int8_t *)base + index, 8);
        const __m256 codes = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(c)));
        const __m128i m = _mm_loadu_si128((const __m128i *)((const uint16_t *)multipliers + 8 * (index >> shift)));
        return _mm256_mul_ps(codes, _mm256_cvtph_ps(m));
    }
    if (kind == 1) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + index)));
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

/// Stores the first `valid` rows of each vector's sums at `out + v * out_stride`.
PK_INLINE void store(const __m256 *a, const int vectors, float *out, long out_stride, int valid) {
    if (valid == 8) {
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) _mm256_storeu_ps(out + v * out_stride, a[v]);
    } else {
        const __mmask8 mask = (__mmask8)((1u << valid) - 1);
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) _mm256_mask_storeu_ps(out + v * out_stride, mask, a[v]);
    }
}

/// `vectors` vectors (a constant after inlining; the loops over vectors and chunks are unrolled so
/// that every accumulator stays in a register). The integer sums of all vectors advance chunk by
/// chunk (independent vpdpbusd chains); one or two vectors use two chains each.
PK_INLINE void nibble_tile(
    const uint8_t *w, const void *d, const void *m, const void *dk, const void *mk, int kind, int blocks,
    const parley_activations *x, float *out, long out_stride, int valid, const uint8_t *next, const int vectors,
    const int layout) {
    __m256 a[8];
#pragma clang loop unroll(full)
    for (int v = 0; v < vectors; v++) a[v] = _mm256_setzero_ps();
    const __m256i mask = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < blocks; b++) {
        const uint8_t *wb = w + 128 * b;
        if (next) {
            _mm_prefetch((const char *)next + 128 * b, _MM_HINT_T0);
            _mm_prefetch((const char *)next + 128 * b + 64, _MM_HINT_T0);
        }
        __m256i t[8], u[8];
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            t[v] = _mm256_setzero_si256();
            u[v] = _mm256_setzero_si256();
        }
#pragma clang loop unroll(full)
        for (int k = 0; k < 4; k++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(wb + 32 * k));
            const __m256i lo = _mm256_and_si256(raw, mask), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) {
                t[v] = _mm256_dpbusd_epi32(t[v], lo, broadcast4(quants(x, layout, v, b, 0, k)));
                if (vectors <= 2) {
                    u[v] = _mm256_dpbusd_epi32(u[v], hi, broadcast4(quants(x, layout, v, b, 1, k)));
                } else {
                    t[v] = _mm256_dpbusd_epi32(t[v], hi, broadcast4(quants(x, layout, v, b, 1, k)));
                }
            }
        }
        const __m256 dw = scales8(d, dk, 8L * b, kind, 6), mw = scales8(m, mk, 8L * b, kind, 6);
#pragma clang loop unroll(full)
        for (int v = 0; v < vectors; v++) {
            const __m256i sum_v = vectors <= 2 ? _mm256_add_epi32(t[v], u[v]) : t[v];
            const __m256 ds = _mm256_mul_ps(dw, _mm256_set1_ps(scale(x, layout, v, b, blocks)));
            a[v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_v), ds, a[v]);
            a[v] = _mm256_fmadd_ps(mw, _mm256_set1_ps(sum(x, layout, v, b, blocks)), a[v]);
        }
    }
    store(a, vectors, out, out_stride, valid);
}

/// The nibbles of half `h` of chunk `k` of a nibble block at `w`: low nibbles for elements 0…15,
/// high ones for 16…31.
PK_INLINE __m256i nibble_half(const uint8_t *w, int h, int k) {
    const __m256i raw = _mm256_loadu_si256((const __m256i *)(w + 32 * k));
    return _mm256_and_si256(h ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0F));
}

/// Chunk `k` of half `h` of a block of `bits`-bit quants (6, 5, 3 or 2) at `w` as unsigned bytes
/// q + bias (see WeightMatrix.swift): the low bits (a nibble of the nibble block for 5 and 6 bits;
/// bits 2k, 2k+1 of the two-bit plane's half h for 2 and 3), and the high bits of their plane moved
/// up above them (six bits: bits 2k, 2k+1 of the plane's half h; five and three bits: bit 4h + k).
PK_INLINE __m256i packed_chunk(const uint8_t *w, int h, int k, const int bits) {
    __m256i low;
    if (bits >= 4) {
        low = nibble_half(w, h, k);
    } else {
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(w + 32 * h));
        low = _mm256_and_si256(_mm256_srli_epi16(raw, 2 * k), _mm256_set1_epi8(0x03));
    }
    if (bits == 2) return low;
    const int low_bits = bits >= 4 ? 4 : 2;
    const __m256i plane = _mm256_loadu_si256((const __m256i *)(w + (bits == 6 ? 128 + 32 * h : 32 * low_bits)));
    const int bit = bits == 6 ? 2 * k : 4 * h + k;
    const __m256i high =
        bit >= low_bits ? _mm256_srli_epi16(plane, bit - low_bits) : _mm256_slli_epi16(plane, low_bits - bit);
    const char mask = bits == 6 ? 0x30 : bits == 5 ? 0x10 : 0x04;
    return _mm256_or_si256(low, _mm256_and_si256(high, _mm256_set1_epi8(mask)));
}

/// Chunk `k` of half `h` of a block of IQ4 indices at `w` (laid out as the nibble format) as the
/// unsigned bytes level + 128: GGMLDequantizer.nonlinearLevels + 128 (the VNNI kernel test compares
/// every level against the portable kernels' lookup).
PK_INLINE __m256i nonlinear_chunk(const uint8_t *w, int h, int k) {
    const __m256i levels = _mm256_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181, (char)197, (char)217,
        (char)241, 1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181, (char)197,
        (char)217, (char)241);
    return _mm256_shuffle_epi8(levels, nibble_half(w, h, k));
}

/// The byte format with `bits`-bit quants: 8-bit ones fed as w + 128 (w XOR 0x80) with the sums
/// started at the correction −128·Σa; packed ones (6, 5, 3 or 2 bits) fed as stored, q + `bias`, with the
/// sums started at −bias·Σa (the correction times bias/128); 4-bit IQ4 indices (`bits` 4) as their
/// levels + 128, with the sums started at the correction. Each leaves exactly Σ q·a.
PK_INLINE void byte_tile(
    const uint8_t *w, const void *s, const void *sk, int kind, int blocks, const parley_activations *x, float *out,
    long out_stride, int valid, const uint8_t *next, const int vectors, const int layout, const int bits,
    const int bias, const int half_scales) {
    __m256 a[8];
#pragma clang loop unroll(full)
    for (int v = 0; v < vectors; v++) a[v] = _mm256_setzero_ps();
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    const int packed = bits < 8, nonlinear = bits == 4;
    const long block_bytes = 32 * bits;
    for (int b = 0; b < blocks; b++) {
#pragma clang loop unroll(full)
        for (int h = 0; h < 2; h++) {
            const uint8_t *wb = packed ? w + block_bytes * b : w + 256 * b + 128 * h;
            if (next && (!packed || h == 0)) {
                const char *p = (const char *)next + block_bytes * b + (packed ? 0 : 128 * h);
                _mm_prefetch(p, _MM_HINT_T0);
                if (!packed || block_bytes > 64) _mm_prefetch(p + 64, _MM_HINT_T0);
                if (packed && block_bytes > 128) _mm_prefetch(p + 128, _MM_HINT_T0);
            }
            __m256i t[8], u[8];
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) {
                const int32_t c = correction(x, layout, v, b, h, blocks);
                t[v] = _mm256_set1_epi32(packed && !nonlinear ? (c >> 7) * bias : c);
                u[v] = _mm256_setzero_si256();
            }
#pragma clang loop unroll(full)
            for (int k = 0; k < 4; k++) {
                const __m256i q = nonlinear ? nonlinear_chunk(wb, h, k)
                                  : packed  ? packed_chunk(wb, h, k, bits)
                                            : _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(wb + 32 * k)), flip);
#pragma clang loop unroll(full)
                for (int v = 0; v < vectors; v++) {
                    if (vectors <= 2 && (k & 1)) {
                        u[v] = _mm256_dpbusd_epi32(u[v], q, broadcast4(quants(x, layout, v, b, h, k)));
                    } else {
                        t[v] = _mm256_dpbusd_epi32(t[v], q, broadcast4(quants(x, layout, v, b, h, k)));
                    }
                }
            }
            // Eight scales per half block (Q2_K, Q3_K, Q6_K) or per block: 128 or 64 per super-block.
            const __m256 sw = half_scales ? scales8(s, sk, 16L * b + 8 * h, kind, 7) : scales8(s, sk, 8L * b, kind, 6);
#pragma clang loop unroll(full)
            for (int v = 0; v < vectors; v++) {
                const __m256i sum_v = vectors <= 2 ? _mm256_add_epi32(t[v], u[v]) : t[v];
                const __m256 ss = _mm256_mul_ps(sw, _mm256_set1_ps(scale(x, layout, v, b, blocks)));
                a[v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum_v), ss, a[v]);
            }
        }
    }
    store(a, vectors, out, out_stride, valid);
}

/// One row group against every vector of `x`: the groups of eight, then the rest up to four at a time.
PK_INLINE void row_group(
    const parley_matrix *w, const parley_batch *x, long g, int valid, float *out, long out_stride, const int nibble,
    const int kind, const int bits, const int bias, const int hs) {
    const int blocks = w->blocks;
    const uint8_t *q = (const uint8_t *)w->quants + g * w->group_stride;
    const void *s = (const char *)w->scales + g * w->scale_stride;
    const void *m = nibble ? (const char *)w->offsets + g * w->scale_stride : 0;
    const void *sk = (const char *)w->super_scales + g * w->super_stride;
    const void *mk = nibble ? (const char *)w->super_offsets + g * w->super_stride : 0;
    // The quants of the row group two ahead, fetched into the cache while the first group of eight
    // vectors computes (a few vectors alone are limited by memory anyway, where the hardware
    // prefetcher keeps up on its own).
    const uint8_t *next = g + 2 < (w->rows + 7) / 8 ? q + 2 * w->group_stride : 0;
    const long width = x->padded_width;
    for (int e = 0; e < x->groups; e++) {
        const parley_activations view = {
            x->group_quants + e * 8 * width, x->group_scales + (long)e * blocks * 8, x->group_sums + (long)e * blocks * 8,
            x->group_corrections + (long)e * blocks * 16, width, 8, 1};
        float *o = out + 8L * e * out_stride;
        if (nibble) {
            nibble_tile(q, s, m, sk, mk, kind, blocks, &view, o, out_stride, valid, e == 0 ? next : 0, 8, 1);
        } else {
            byte_tile(q, s, sk, kind, blocks, &view, o, out_stride, valid, e == 0 ? next : 0, 8, 1, bits, bias, hs);
        }
    }
    for (int v = 8 * x->groups; v < x->count;) {
        const int n = x->count - v < 4 ? x->count - v : 4;
        const parley_activations view = {
            x->quants + v * width, x->scales + (long)v * blocks, x->sums + (long)v * blocks,
            x->corrections + (long)v * 2 * blocks, width, n, 0};
        float *o = out + v * out_stride;
#define PK_TILE(count)                                                                                                 \
    if (nibble) {                                                                                                      \
        nibble_tile(q, s, m, sk, mk, kind, blocks, &view, o, out_stride, valid, 0, count, 0);                         \
    } else {                                                                                                           \
        byte_tile(q, s, sk, kind, blocks, &view, o, out_stride, valid, 0, count, 0, bits, bias, hs);                  \
    }
        switch (n) {
        case 1: PK_TILE(1) break;
        case 2: PK_TILE(2) break;
        case 3: PK_TILE(3) break;
        default: PK_TILE(4) break;
        }
#undef PK_TILE
        v += n;
    }
}

PK_INLINE void multiply_rows(
    const parley_matrix *w, const parley_batch *x, int first_row, int end_row, float *out, long out_stride,
    const int nibble, const int kind, const int bits, const int bias, const int hs) {
    for (int r = first_row; r < end_row; r += 8) {
        const int valid = w->rows - r < 8 ? w->rows - r : 8;
        row_group(w, x, r / 8, valid, out + r, out_stride, nibble, kind, bits, bias, hs);
    }
}

PK_TARGET void parley_vnni_multiply(
    const parley_matrix *w, const parley_batch *x, int first_row, int end_row, float *out, long out_stride) {
    // One specialization per format and scale kind, so that the kind's branches fold away.
    // (`hs`: sixteen scales per block — Q2_K, Q3_K and Q6_K, the packed types of 2, 3 and 6 bits;
    // WeightMatrix checks that its scales_per_block agrees.)
#define PK_ROWS(nibble, bits, bias, hs)                                                                                \
    switch (w->scale_kind) {                                                                                           \
    case 1: multiply_rows(w, x, first_row, end_row, out, out_stride, nibble, 1, bits, bias, hs); break;               \
    case 2: multiply_rows(w, x, first_row, end_row, out, out_stride, nibble, 2, bits, bias, hs); break;               \
    default: multiply_rows(w, x, first_row, end_row, out, out_stride, nibble, 0, bits, bias, hs); break;              \
    }
    if (w->nibble) {
        PK_ROWS(1, 8, 0, 0)
    } else if (w->packed_bits == 6) {
        PK_ROWS(0, 6, 32, 1)
    } else if (w->packed_bits == 5 && w->quant_bias == 16) {
        PK_ROWS(0, 5, 16, 0)
    } else if (w->packed_bits == 5) {
        PK_ROWS(0, 5, 0, 0)
    } else if (w->packed_bits == 4) {
        PK_ROWS(0, 4, 0, 0)
    } else if (w->packed_bits == 3) {
        PK_ROWS(0, 3, 4, 1)
    } else if (w->packed_bits == 2) {
        PK_ROWS(0, 2, 0, 1)
    } else {  // 8 bits: Q8_0
        PK_ROWS(0, 8, 0, 0)
    }
#undef PK_ROWS
}

#else

int parley_vnni_available(void) { return 0; }

void parley_vnni_multiply(
    const parley_matrix *w, const parley_batch *x, int first_row, int end_row, float *out, long out_stride) {
    (void)w, (void)x, (void)first_row, (void)end_row, (void)out, (void)out_stride;
    __builtin_trap();
}

#endif

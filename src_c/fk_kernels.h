/*
 * fk_kernels.h -- the arithmetic of filterkit's core, in plain C.
 *
 * Nothing here validates or allocates: the Cython driver (_core.pyx) hands
 * in buffers that are large enough and parameters that make sense.
 *
 * Three families of functions:
 *   - fk_corr_rows_{f,d}_*: one output row of a 2-D correlation, computed as
 *     "one mask tap across a whole row": for every tap (a, b) the row
 *     rows[a] shifted by b is multiplied by k[a][b] and accumulated.  The
 *     accumulators for a block of pixels stay in vector registers
 *     (GCC/Clang vector extensions), so each tap costs one unaligned load
 *     and one FMA per vector.  The same function serves the vertical
 *     (kw == 1) and horizontal (kh == 1) passes of a separable filter.
 *   - loaders: convert one strided row of any supported dtype to the
 *     compute type (float or double).
 *   - storers: convert one computed row to the output dtype, rounding half
 *     to even and saturating for integer outputs (NaN becomes 0).
 *
 * Runtime CPU dispatch: on x86 the correlation kernel is compiled twice,
 * for AVX2+FMA (ymm vectors, function attribute target("avx2,fma")) and for
 * the portable baseline (16-byte vectors: SSE2, or NEON on ARM), and the
 * driver picks one by what the CPU it runs on supports.  CPUs with
 * AVX-512VL get the same ymm code with EVEX encodings (32 registers, ~5%
 * faster here); 64-byte zmm vectors were slower (more loads that cross
 * cache lines).
 */
#ifndef FK_KERNELS_H
#define FK_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#ifdef _OPENMP
#define FK_HAVE_OPENMP 1
#else
#define FK_HAVE_OPENMP 0
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
    !defined(FK_NO_DISPATCH)
#define FK_X86_DISPATCH 1
#define FK_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define FK_TARGET_AVX512 __attribute__((target("avx2,fma,avx512f,avx512vl")))
#endif

/* Unaligned vectors that may alias the float/double buffers: a
 * dereference is an unaligned load or store.  32 bytes (one ymm register)
 * for the AVX2+FMA path, 16 bytes (SSE2 / NEON) for the portable path. */
typedef float fk_v8f __attribute__((vector_size(32), aligned(4), may_alias));
typedef double fk_v4d __attribute__((vector_size(32), aligned(8), may_alias));
typedef float fk_v4f __attribute__((vector_size(16), aligned(4), may_alias));
typedef double fk_v2d __attribute__((vector_size(16), aligned(8), may_alias));

/* Slack (in elements) that every row read by the kernels must have beyond
 * its logical end: the last block of 8 vectors (at most 64 floats) may read
 * up to one block past the last output pixel.  The driver allocates rows
 * this much longer. */
#define FK_SLACK 64

/*
 * out[x] = sum_{a < kh} sum_{b < kw} k[a*kw + b] * rows[a][x + b],  0 <= x < n
 *
 * Eight vector accumulators (a block of 8 * LANES pixels) stay in registers
 * while every tap adds one shifted, unaligned load times its weight.  Taps
 * whose weight is exactly zero are skipped (as scipy.ndimage does), so they
 * neither cost time nor propagate NaN/inf from the image.  `pf`, if not
 * NULL, is a row the caller will need next: it is prefetched 256 bytes per
 * block, so that memory traffic overlaps the arithmetic.  Every output pixel
 * is computed by the same sequence of operations, whatever block, strip or
 * thread it falls in.
 */
#define FK_DEFINE_CORR(NAME, ATTR, T, VT, L)                                    \
ATTR static void NAME(T *restrict out, const T *const *rows, const T *k,        \
                      int kh, int kw, ptrdiff_t n, const T *pf)                 \
{                                                                               \
    T lag[8 * L];                                                               \
    ptrdiff_t x;                                                                \
    int a, b;                                                                   \
    for (x = 0; x + 8 * L <= n; x += 8 * L) {                                   \
        if (pf != NULL) {                                                       \
            const char *q = (const char *)(pf + x);                             \
            __builtin_prefetch(q);                                              \
            __builtin_prefetch(q + 64);                                         \
            __builtin_prefetch(q + 128);                                        \
            __builtin_prefetch(q + 192);                                        \
        }                                                                       \
        VT c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};                              \
        VT c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};                              \
        for (a = 0; a < kh; a++) {                                              \
            const T *r = rows[a] + x;                                           \
            const T *ka = k + (ptrdiff_t)a * kw;                                \
            for (b = 0; b < kw; b++) {                                          \
                const T w = ka[b];                                              \
                const T *p = r + b;                                             \
                if (w == (T)0) continue;                                        \
                c0 += w * *(const VT *)(p);                                     \
                c1 += w * *(const VT *)(p + L);                                 \
                c2 += w * *(const VT *)(p + 2 * L);                             \
                c3 += w * *(const VT *)(p + 3 * L);                             \
                c4 += w * *(const VT *)(p + 4 * L);                             \
                c5 += w * *(const VT *)(p + 5 * L);                             \
                c6 += w * *(const VT *)(p + 6 * L);                             \
                c7 += w * *(const VT *)(p + 7 * L);                             \
            }                                                                   \
        }                                                                       \
        /* store the previous block now: its stores then trail this block's  \
         * loads by a whole block, so they never alias in the low 12 address  \
         * bits with the loads that follow (rows 4 KiB-multiples apart)      */ \
        if (x > 0) {                                                            \
            T *o = out + x - 8 * L;                                             \
            *(VT *)(o) = *(VT *)(lag);                                          \
            *(VT *)(o + L) = *(VT *)(lag + L);                                  \
            *(VT *)(o + 2 * L) = *(VT *)(lag + 2 * L);                          \
            *(VT *)(o + 3 * L) = *(VT *)(lag + 3 * L);                          \
            *(VT *)(o + 4 * L) = *(VT *)(lag + 4 * L);                          \
            *(VT *)(o + 5 * L) = *(VT *)(lag + 5 * L);                          \
            *(VT *)(o + 6 * L) = *(VT *)(lag + 6 * L);                          \
            *(VT *)(o + 7 * L) = *(VT *)(lag + 7 * L);                          \
        }                                                                       \
        *(VT *)(lag) = c0;                                                      \
        *(VT *)(lag + L) = c1;                                                  \
        *(VT *)(lag + 2 * L) = c2;                                              \
        *(VT *)(lag + 3 * L) = c3;                                              \
        *(VT *)(lag + 4 * L) = c4;                                              \
        *(VT *)(lag + 5 * L) = c5;                                              \
        *(VT *)(lag + 6 * L) = c6;                                              \
        *(VT *)(lag + 7 * L) = c7;                                              \
    }                                                                           \
    if (x > 0) memcpy(out + x - 8 * L, lag, sizeof lag);                        \
    /* the last columns (and narrow border strips): one vector at a time */    \
    for (; x < n; x += L) {                                                     \
        VT c = {0};                                                             \
        for (a = 0; a < kh; a++) {                                              \
            const T *r = rows[a] + x;                                           \
            const T *ka = k + (ptrdiff_t)a * kw;                                \
            for (b = 0; b < kw; b++)                                            \
                if (ka[b] != (T)0) c += ka[b] * *(const VT *)(r + b);           \
        }                                                                       \
        if (x + L <= n) *(VT *)(out + x) = c;                                   \
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));                  \
    }                                                                           \
}

/*
 * Two output rows at once: out0 from rows[0 .. kh), out1 from rows[1 .. kh].
 * Each source row is loaded once for both outputs, which halves the loads
 * of a tall mask (they come from the second-level cache for wide images).
 * Four accumulators per output row.  Each output pixel sees exactly the
 * operations, in the same order, that the one-row kernel applies, so the
 * results are bit-identical whichever kernel computes a row.
 */
#define FK_ACC4(A0, A1, A2, A3, W, V0, V1, V2, V3)                              \
    do { A0 += (W) * (V0); A1 += (W) * (V1); A2 += (W) * (V2); A3 += (W) * (V3); } while (0)

#define FK_LAG4(T, VT, L, OUT, LAG, X, C0, C1, C2, C3)                             \
    do {                                                                        \
        if ((X) > 0) {                                                          \
            T *o_ = (OUT) + (X) - 4 * L;                                        \
            *(VT *)(o_) = *(VT *)(LAG);                                         \
            *(VT *)(o_ + L) = *(VT *)((LAG) + L);                               \
            *(VT *)(o_ + 2 * L) = *(VT *)((LAG) + 2 * L);                       \
            *(VT *)(o_ + 3 * L) = *(VT *)((LAG) + 3 * L);                       \
        }                                                                       \
        *(VT *)(LAG) = C0;                                                      \
        *(VT *)((LAG) + L) = C1;                                                \
        *(VT *)((LAG) + 2 * L) = C2;                                            \
        *(VT *)((LAG) + 3 * L) = C3;                                            \
    } while (0)

#define FK_DEFINE_CORR2(NAME, ATTR, T, VT, L)                                   \
ATTR static void NAME(T *restrict out0, T *restrict out1, const T *const *rows, \
                      const T *k, int kh, int kw, ptrdiff_t n,                  \
                      const T *pf0, const T *pf1)                               \
{                                                                               \
    T lag0[4 * L], lag1[4 * L];                                                 \
    ptrdiff_t x;                                                                \
    int r, b;                                                                   \
    for (x = 0; x + 4 * L <= n; x += 4 * L) {                                   \
        VT a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                              \
        VT b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};                              \
        if (pf0 != NULL) {                                                      \
            __builtin_prefetch((const char *)(pf0 + x));                        \
            __builtin_prefetch((const char *)(pf0 + x) + 64);                   \
        }                                                                       \
        if (pf1 != NULL) {                                                      \
            __builtin_prefetch((const char *)(pf1 + x));                        \
            __builtin_prefetch((const char *)(pf1 + x) + 64);                   \
        }                                                                       \
        for (b = 0; b < kw; b++) { /* first row: out0 only, mask row 0 */      \
            const T w = k[b];                                                   \
            const T *p = rows[0] + x + b;                                       \
            if (w == (T)0) continue;                                            \
            FK_ACC4(a0, a1, a2, a3, w, *(const VT *)(p), *(const VT *)(p + L),  \
                    *(const VT *)(p + 2 * L), *(const VT *)(p + 3 * L));        \
        }                                                                       \
        for (r = 1; r < kh; r++) { /* out0 mask row r, out1 mask row r - 1 */   \
            const T *kr = k + (ptrdiff_t)r * kw;                                \
            for (b = 0; b < kw; b++) {                                          \
                const T w0 = kr[b], w1 = kr[b - kw];                            \
                const T *p = rows[r] + x + b;                                   \
                VT v0, v1, v2, v3;                                              \
                if (w0 == (T)0 && w1 == (T)0) continue;                         \
                v0 = *(const VT *)(p);                                          \
                v1 = *(const VT *)(p + L);                                      \
                v2 = *(const VT *)(p + 2 * L);                                  \
                v3 = *(const VT *)(p + 3 * L);                                  \
                if (w0 != (T)0) FK_ACC4(a0, a1, a2, a3, w0, v0, v1, v2, v3);    \
                if (w1 != (T)0) FK_ACC4(b0, b1, b2, b3, w1, v0, v1, v2, v3);    \
            }                                                                   \
        }                                                                       \
        for (b = 0; b < kw; b++) { /* last row: out1 only, mask row kh - 1 */  \
            const T w = k[(ptrdiff_t)(kh - 1) * kw + b];                        \
            const T *p = rows[kh] + x + b;                                      \
            if (w == (T)0) continue;                                            \
            FK_ACC4(b0, b1, b2, b3, w, *(const VT *)(p), *(const VT *)(p + L),  \
                    *(const VT *)(p + 2 * L), *(const VT *)(p + 3 * L));        \
        }                                                                       \
        FK_LAG4(T, VT, L, out0, lag0, x, a0, a1, a2, a3);                       \
        FK_LAG4(T, VT, L, out1, lag1, x, b0, b1, b2, b3);                       \
    }                                                                           \
    if (x > 0) {                                                                \
        memcpy(out0 + x - 4 * L, lag0, sizeof lag0);                            \
        memcpy(out1 + x - 4 * L, lag1, sizeof lag1);                            \
    }                                                                           \
    /* the last columns (and narrow border strips): one vector at a time */    \
    for (; x < n; x += L) {                                                     \
        VT c = {0}, d = {0};                                                    \
        for (r = 0; r <= kh; r++) {                                             \
            const T *kr = k + (ptrdiff_t)r * kw;                                \
            for (b = 0; b < kw; b++) {                                          \
                const VT v = *(const VT *)(rows[r] + x + b);                    \
                if (r < kh && kr[b] != (T)0) c += kr[b] * v;                    \
                if (r > 0 && kr[b - kw] != (T)0) d += kr[b - kw] * v;           \
            }                                                                   \
        }                                                                       \
        if (x + L <= n) {                                                       \
            *(VT *)(out0 + x) = c;                                              \
            *(VT *)(out1 + x) = d;                                              \
        } else {                                                                \
            memcpy(out0 + x, &c, (size_t)(n - x) * sizeof(T));                  \
            memcpy(out1 + x, &d, (size_t)(n - x) * sizeof(T));                  \
        }                                                                       \
    }                                                                           \
}

/*
 * One row, horizontal taps of a symmetric (sign = 1) or antisymmetric
 * (sign = -1) mask of odd width kw = 2h + 1:
 *   out[x] = sum_{b < h} k[b] (row[x + b] + sign row[x + kw - 1 - b]) + k[h] row[x + h]
 * Pairing the mirrored taps first moves half the work from the multiply-add
 * units to the adders, which run in parallel (Gaussian and mean rows are
 * symmetric, the Sobel derivative row antisymmetric).
 */
#define FK_DEFINE_CORR_SYM(NAME, ATTR, T, VT, L)                                \
ATTR static void NAME(T *restrict out, const T *row, const T *k, int kw, int sign, \
                      ptrdiff_t n)                                              \
{                                                                               \
    const int h = kw / 2;                                                       \
    ptrdiff_t x;                                                                \
    int b;                                                                      \
    for (x = 0; x + 4 * L <= n; x += 4 * L) {                                   \
        const T *p = row + x;                                                   \
        VT c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};                              \
        if (k[h] != (T)0) {                                                     \
            const T w = k[h];                                                   \
            c0 = w * *(const VT *)(p + h);                                      \
            c1 = w * *(const VT *)(p + h + L);                                  \
            c2 = w * *(const VT *)(p + h + 2 * L);                              \
            c3 = w * *(const VT *)(p + h + 3 * L);                              \
        }                                                                       \
        for (b = 0; b < h; b++) {                                               \
            const T w = k[b];                                                   \
            const T *q = p + b, *r = p + kw - 1 - b;                            \
            if (w == (T)0) continue;                                            \
            if (sign > 0) {                                                     \
                c0 += w * (*(const VT *)(q) + *(const VT *)(r));                \
                c1 += w * (*(const VT *)(q + L) + *(const VT *)(r + L));        \
                c2 += w * (*(const VT *)(q + 2 * L) + *(const VT *)(r + 2 * L)); \
                c3 += w * (*(const VT *)(q + 3 * L) + *(const VT *)(r + 3 * L)); \
            } else {                                                            \
                c0 += w * (*(const VT *)(q) - *(const VT *)(r));                \
                c1 += w * (*(const VT *)(q + L) - *(const VT *)(r + L));        \
                c2 += w * (*(const VT *)(q + 2 * L) - *(const VT *)(r + 2 * L)); \
                c3 += w * (*(const VT *)(q + 3 * L) - *(const VT *)(r + 3 * L)); \
            }                                                                   \
        }                                                                       \
        *(VT *)(out + x) = c0;                                                  \
        *(VT *)(out + x + L) = c1;                                              \
        *(VT *)(out + x + 2 * L) = c2;                                          \
        *(VT *)(out + x + 3 * L) = c3;                                          \
    }                                                                           \
    for (; x < n; x += L) {                                                     \
        const T *p = row + x;                                                   \
        VT c = {0};                                                             \
        if (k[h] != (T)0) c = k[h] * *(const VT *)(p + h);                      \
        for (b = 0; b < h; b++)                                                 \
            if (k[b] != (T)0)                                                   \
                c += k[b] * (*(const VT *)(p + b) +                             \
                             (T)sign * *(const VT *)(p + kw - 1 - b));          \
        if (x + L <= n) *(VT *)(out + x) = c;                                   \
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));                  \
    }                                                                           \
}

/*
 * 3 x 3 masks whose non-zero taps are all of PAT (bit a*3 + b: tap (a, b)):
 * 0x1FF, no zero weight (the commonest direct mask), and 0x0BA, the cross
 * of the 4-neighbour Laplace.  The weights stay in registers as vectors (at
 * most 9 + 4 accumulators of the 16 AVX2 registers), no per-tap loads,
 * tests or broadcasts, the taps unrolled; the general kernels spend more on
 * that bookkeeping than on the multiply-adds when a row has three taps.
 * Taps outside PAT are zero and skipped, as the general kernels skip them
 * (a NaN under a zero weight does not spread).  The same operations in the
 * same order as FK_DEFINE_CORR, so the results are bit-identical; stores
 * trail the loads by a block, as there.
 */
#define FK_PAT_CROSS 0x0BA
#define FK_PAT_FULL 0x1FF
#define FK_CORR33_T(C, V, R, X, I, B)                                           \
    if (pat_ & (1 << (I))) C += w##I * *(const V *)(R + (X) + (B))
#define FK_CORR33_TAP(C, V, X)                                                  \
    do {                                                                        \
        FK_CORR33_T(C, V, r0, X, 0, 0); FK_CORR33_T(C, V, r0, X, 1, 1);         \
        FK_CORR33_T(C, V, r0, X, 2, 2); FK_CORR33_T(C, V, r1, X, 3, 0);         \
        FK_CORR33_T(C, V, r1, X, 4, 1); FK_CORR33_T(C, V, r1, X, 5, 2);         \
        FK_CORR33_T(C, V, r2, X, 6, 0); FK_CORR33_T(C, V, r2, X, 7, 1);         \
        FK_CORR33_T(C, V, r2, X, 8, 2);                                         \
    } while (0)
#define FK_DEFINE_CORR33(NAME, ATTR, T, VT, L, PAT)                             \
ATTR static void NAME(T *restrict out, const T *const *rows, const T *k, ptrdiff_t n, \
                      const T *pf)                                              \
{                                                                               \
    enum { pat_ = PAT };  /* the taps (a constant: the others vanish) */       \
    const T *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];                        \
    const VT zero = {0};                                                        \
    const VT w0 = zero + k[0], w1 = zero + k[1], w2 = zero + k[2];              \
    const VT w3 = zero + k[3], w4 = zero + k[4], w5 = zero + k[5];              \
    const VT w6 = zero + k[6], w7 = zero + k[7], w8 = zero + k[8];              \
    T lag[4 * L];                                                               \
    ptrdiff_t x;                                                                \
    for (x = 0; x + 4 * L <= n; x += 4 * L) {                                   \
        VT c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};                              \
        if (pf != NULL) {                                                       \
            __builtin_prefetch((const char *)(pf + x));                         \
            __builtin_prefetch((const char *)(pf + x) + 64);                    \
        }                                                                       \
        FK_CORR33_TAP(c0, VT, x);                                               \
        FK_CORR33_TAP(c1, VT, x + L);                                           \
        FK_CORR33_TAP(c2, VT, x + 2 * L);                                       \
        FK_CORR33_TAP(c3, VT, x + 3 * L);                                       \
        FK_LAG4(T, VT, L, out, lag, x, c0, c1, c2, c3);                         \
    }                                                                           \
    if (x > 0) memcpy(out + x - 4 * L, lag, sizeof lag);                        \
    for (; x < n; x += L) {                                                     \
        VT c = {0};                                                             \
        FK_CORR33_TAP(c, VT, x);                                                \
        if (x + L <= n) *(VT *)(out + x) = c;                                   \
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));                  \
    }                                                                           \
}

typedef void (*fk_corr33_f_t)(float *restrict, const float *const *, const float *, ptrdiff_t,
                              const float *);
typedef void (*fk_corr33_d_t)(double *restrict, const double *const *, const double *,
                              ptrdiff_t, const double *);

typedef void (*fk_corr_f_t)(float *restrict, const float *const *, const float *,
                            int, int, ptrdiff_t, const float *);
typedef void (*fk_corr_d_t)(double *restrict, const double *const *, const double *,
                            int, int, ptrdiff_t, const double *);
typedef void (*fk_corr_sym_f_t)(float *restrict, const float *, const float *, int, int,
                                ptrdiff_t);
typedef void (*fk_corr_sym_d_t)(double *restrict, const double *, const double *, int, int,
                                ptrdiff_t);
typedef void (*fk_corr2_f_t)(float *restrict, float *restrict, const float *const *,
                             const float *, int, int, ptrdiff_t, const float *,
                             const float *);
typedef void (*fk_corr2_d_t)(double *restrict, double *restrict, const double *const *,
                             const double *, int, int, ptrdiff_t, const double *,
                             const double *);

FK_DEFINE_CORR(fk_corr_rows_f_base, , float, fk_v4f, 4)
FK_DEFINE_CORR(fk_corr_rows_d_base, , double, fk_v2d, 2)
FK_DEFINE_CORR2(fk_corr2_rows_f_base, , float, fk_v4f, 4)
FK_DEFINE_CORR_SYM(fk_corr_sym_f_base, , float, fk_v4f, 4)
FK_DEFINE_CORR_SYM(fk_corr_sym_d_base, , double, fk_v2d, 2)
FK_DEFINE_CORR2(fk_corr2_rows_d_base, , double, fk_v2d, 2)
FK_DEFINE_CORR33(fk_corr33_rows_f_base, , float, fk_v4f, 4, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corr33_rows_d_base, , double, fk_v2d, 2, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corrx3_rows_f_base, , float, fk_v4f, 4, FK_PAT_CROSS)
FK_DEFINE_CORR33(fk_corrx3_rows_d_base, , double, fk_v2d, 2, FK_PAT_CROSS)
#ifdef FK_X86_DISPATCH
FK_DEFINE_CORR33(fk_corr33_rows_f_avx2, FK_TARGET_AVX2, float, fk_v8f, 8, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corr33_rows_d_avx2, FK_TARGET_AVX2, double, fk_v4d, 4, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corr33_rows_f_avx512, FK_TARGET_AVX512, float, fk_v8f, 8, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corr33_rows_d_avx512, FK_TARGET_AVX512, double, fk_v4d, 4, FK_PAT_FULL)
FK_DEFINE_CORR33(fk_corrx3_rows_f_avx2, FK_TARGET_AVX2, float, fk_v8f, 8, FK_PAT_CROSS)
FK_DEFINE_CORR33(fk_corrx3_rows_d_avx2, FK_TARGET_AVX2, double, fk_v4d, 4, FK_PAT_CROSS)
FK_DEFINE_CORR33(fk_corrx3_rows_f_avx512, FK_TARGET_AVX512, float, fk_v8f, 8, FK_PAT_CROSS)
FK_DEFINE_CORR33(fk_corrx3_rows_d_avx512, FK_TARGET_AVX512, double, fk_v4d, 4, FK_PAT_CROSS)
FK_DEFINE_CORR(fk_corr_rows_f_avx2, FK_TARGET_AVX2, float, fk_v8f, 8)
FK_DEFINE_CORR(fk_corr_rows_d_avx2, FK_TARGET_AVX2, double, fk_v4d, 4)
/* the same ymm code with AVX-512VL encodings: 32 vector registers */
FK_DEFINE_CORR(fk_corr_rows_f_avx512, FK_TARGET_AVX512, float, fk_v8f, 8)
FK_DEFINE_CORR(fk_corr_rows_d_avx512, FK_TARGET_AVX512, double, fk_v4d, 4)
FK_DEFINE_CORR2(fk_corr2_rows_f_avx2, FK_TARGET_AVX2, float, fk_v8f, 8)
FK_DEFINE_CORR2(fk_corr2_rows_d_avx2, FK_TARGET_AVX2, double, fk_v4d, 4)
FK_DEFINE_CORR2(fk_corr2_rows_f_avx512, FK_TARGET_AVX512, float, fk_v8f, 8)
FK_DEFINE_CORR2(fk_corr2_rows_d_avx512, FK_TARGET_AVX512, double, fk_v4d, 4)
FK_DEFINE_CORR_SYM(fk_corr_sym_f_avx2, FK_TARGET_AVX2, float, fk_v8f, 8)
FK_DEFINE_CORR_SYM(fk_corr_sym_d_avx2, FK_TARGET_AVX2, double, fk_v4d, 4)
FK_DEFINE_CORR_SYM(fk_corr_sym_f_avx512, FK_TARGET_AVX512, float, fk_v8f, 8)
FK_DEFINE_CORR_SYM(fk_corr_sym_d_avx512, FK_TARGET_AVX512, double, fk_v4d, 4)
#endif

/* Runtime CPU dispatch.  cpu_cap (FILTERKIT_CPU) lets tests and benchmarks
 * run the portable or the AVX2 kernels on a machine that has more. */
enum { FK_CAP_AUTO = 0, FK_CAP_PORTABLE = 1, FK_CAP_AVX2 = 2 };
/* 0: portable, 1: AVX2+FMA, 2: AVX2+FMA with AVX-512VL encodings */
static int fk_cpu_level(int cpu_cap)
{
#ifdef FK_X86_DISPATCH
    if (cpu_cap == FK_CAP_PORTABLE) return 0;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    if (cpu_cap != FK_CAP_AVX2 && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512vl")) return 2;
    return 1;
#else
    (void)cpu_cap;
    return 0;
#endif
}

/*
 * Gradient strength and direction from f_x (a) and f_y (b):
 * s[i] = sqrt(a^2 + b^2) (as max(|a|, |b|) sqrt(1 + t^2), t = min / max, so
 * the squares never overflow or underflow); with `direction`,
 * d[i] = atan2(b, a) in (-pi, pi].
 * s and d may be a and b themselves (each element is read before it is
 * written).  A zero gradient gives strength exactly 0 and direction 0.
 *
 * float: a branch-free atan2 that the compiler vectorises, with one
 * division.  t = min(|a|, |b|) / max(|a|, |b|) in [0, 1]; atan(t) = t P(t^2)
 * with P of degree 8 fitted to minimise the maximum error on [0, 1]
 * (Lawson-weighted least squares on Chebyshev nodes: 1.0e-7 in float32);
 * the octant is restored by reflections.  Against numpy's float64 arctan2
 * on 4 million random gradients: at most 3.3e-7 rad (tests allow 5e-7).
 * double: the C library's atan2 (exact to an ulp, not vectorised).
 */
#define FK_PI_F 3.14159265358979323846f
#define FK_PI_D 3.14159265358979323846
/* the strength of one gradient (max * sqrt(1 + t^2): no overflow or
 * underflow of the squares, exactly 0 for a zero gradient), with the
 * ratio t = min / max and z = t^2 that the direction needs */
#define FK_COMBINE_STRENGTH_F(AX, AY, T, Z, S, FMA)                             \
    do {                                                                        \
        const float mx_ = (AX) > (AY) ? (AX) : (AY), mn_ = (AX) > (AY) ? (AY) : (AX); \
        (T) = mx_ > 0.0f ? mn_ / mx_ : 0.0f;                                    \
        (Z) = (T) * (T);                                                        \
        (S) = mx_ * sqrtf(FMA((T), (T), 1.0f));                                 \
    } while (0)
/* 1 + t^2 fused where the level has FMA, so that both loops round it the
 * same (GCC fuses a product into an add only where it has no other use:
 * in the strength-only loop, not in the other); separate in the portable
 * build, which has no FMA to fuse with */
#define FK_MUL_ADD(A, B, C) ((A) * (B) + (C))
#define FK_FMA_F(A, B, C) __builtin_fmaf((A), (B), (C))

/* The direction loop is separate from the strength-only one: with the
 * test inside it, GCC stored the directions with masked stores
 * (vmaskmovps), microcoded on AMD: 43 % of a gradient's time on Zen. */
#define FK_DEFINE_COMBINE_F(NAME, ATTR, FMA)                                    \
ATTR static void NAME(const float *a, const float *b, ptrdiff_t n, int direction, \
                      float *s, float *d)                                       \
{                                                                               \
    ptrdiff_t i;                                                                \
    if (!direction) {                                                           \
        for (i = 0; i < n; i++) {                                               \
            const float ax = fabsf(a[i]), ay = fabsf(b[i]);                     \
            float t, z;                                                         \
            FK_COMBINE_STRENGTH_F(ax, ay, t, z, s[i], FMA);                     \
            (void)t; (void)z;                                                   \
        }                                                                       \
        return;                                                                 \
    }                                                                           \
    for (i = 0; i < n; i++) {                                                   \
        const float x = a[i], y = b[i];                                         \
        const float ax = fabsf(x), ay = fabsf(y);                               \
        float t, z, r;                                                          \
        FK_COMBINE_STRENGTH_F(ax, ay, t, z, s[i], FMA);                         \
        r = 2.4567252470e-03f;                                                  \
        r = r * z - 1.4401360898e-02f;                                          \
        r = r * z + 3.9781229115e-02f;                                          \
        r = r * z - 7.2348579184e-02f;                                          \
        r = r * z + 1.0498946390e-01f;                                          \
        r = r * z - 1.4161229296e-01f;                                          \
        r = r * z + 1.9985906784e-01f;                                          \
        r = r * z - 3.3332597030e-01f;                                          \
        r = (r * z + 9.9999988638e-01f) * t;                                    \
        r = ay > ax ? 0.5f * FK_PI_F - r : r;                                   \
        r = x < 0.0f ? FK_PI_F - r : r;                                         \
        r = y < 0.0f ? -r : r;                                                  \
        d[i] = r;                                                               \
    }                                                                           \
}

static void fk_combine_rows_d(const double *a, const double *b, ptrdiff_t n, int direction,
                              double *s, double *d)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        const double x = a[i], y = b[i];
        s[i] = hypot(x, y); /* no overflow or underflow of the squares */
        if (direction) {
            const double r = (x == 0.0 && y == 0.0) ? 0.0 : atan2(y, x);
            d[i] = r == -FK_PI_D ? FK_PI_D : r;
        }
    }
}

typedef void (*fk_combine_f_t)(const float *, const float *, ptrdiff_t, int, float *, float *);
typedef void (*fk_combine_d_t)(const double *, const double *, ptrdiff_t, int, double *,
                               double *);

static fk_combine_d_t fk_combine_d(int cpu_cap)
{
    (void)cpu_cap;
    return fk_combine_rows_d;
}

FK_DEFINE_COMBINE_F(fk_combine_rows_f_base, , FK_MUL_ADD)
#ifdef FK_X86_DISPATCH
FK_DEFINE_COMBINE_F(fk_combine_rows_f_avx2, FK_TARGET_AVX2, FK_FMA_F)
FK_DEFINE_COMBINE_F(fk_combine_rows_f_avx512, FK_TARGET_AVX512, FK_FMA_F)
#endif

/* NAME(cpu_cap) returns the best of STEM_avx512, STEM_avx2, STEM_base */
#ifdef FK_X86_DISPATCH
#define FK_DEFINE_DISPATCH(NAME, FTYPE, STEM)                                   \
static FTYPE NAME(int cpu_cap)                                           \
{                                                                               \
    switch (fk_cpu_level(cpu_cap)) {                                     \
    case 2: return STEM##_avx512;                                               \
    case 1: return STEM##_avx2;                                                 \
    default: return STEM##_base;                                                \
    }                                                                           \
}
#else
#define FK_DEFINE_DISPATCH(NAME, FTYPE, STEM)                                   \
static FTYPE NAME(int cpu_cap)                                           \
{                                                                               \
    (void)cpu_cap;                                                       \
    return STEM##_base;                                                         \
}
#endif

FK_DEFINE_DISPATCH(fk_corr_f, fk_corr_f_t, fk_corr_rows_f)
FK_DEFINE_DISPATCH(fk_corr_d, fk_corr_d_t, fk_corr_rows_d)
FK_DEFINE_DISPATCH(fk_corr2_f, fk_corr2_f_t, fk_corr2_rows_f)
FK_DEFINE_DISPATCH(fk_corr2_d, fk_corr2_d_t, fk_corr2_rows_d)
FK_DEFINE_DISPATCH(fk_corr33_f, fk_corr33_f_t, fk_corr33_rows_f)
FK_DEFINE_DISPATCH(fk_corr33_d, fk_corr33_d_t, fk_corr33_rows_d)
FK_DEFINE_DISPATCH(fk_corrx3_f, fk_corr33_f_t, fk_corrx3_rows_f)
FK_DEFINE_DISPATCH(fk_corrx3_d, fk_corr33_d_t, fk_corrx3_rows_d)
FK_DEFINE_DISPATCH(fk_corr_sym_f, fk_corr_sym_f_t, fk_corr_sym_f)
FK_DEFINE_DISPATCH(fk_corr_sym_d, fk_corr_sym_d_t, fk_corr_sym_d)
FK_DEFINE_DISPATCH(fk_combine_f, fk_combine_f_t, fk_combine_rows_f)

/* ------------------------------------------------------------------ */
/* Border modes: map a virtual index i (may be < 0 or >= n) to [0, n), */
/* or -1 for "outside, use cval".                                      */
/* ------------------------------------------------------------------ */
enum {
    FK_CONSTANT = 0, /* k k k | a b c d | k k k   (cval)            */
    FK_NEAREST = 1,  /* a a a | a b c d | d d d                     */
    FK_REFLECT = 2,  /* d c b a | a b c d | d c b a  (edge repeated) */
    FK_MIRROR = 3,   /* d c b | a b c d | c b a  (edge not repeated) */
    FK_WRAP = 4      /* a b c d | a b c d | a b c d                  */
};

static inline ptrdiff_t fk_pmod(ptrdiff_t i, ptrdiff_t m)
{
    ptrdiff_t r = i % m;
    return r < 0 ? r + m : r;
}

static inline ptrdiff_t fk_map_index(ptrdiff_t i, ptrdiff_t n, int mode)
{
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case FK_NEAREST:
        return i < 0 ? 0 : n - 1;
    case FK_REFLECT: {
        ptrdiff_t r = fk_pmod(i, 2 * n);
        return r < n ? r : 2 * n - 1 - r;
    }
    case FK_MIRROR: {
        ptrdiff_t r;
        if (n == 1) return 0;
        r = fk_pmod(i, 2 * n - 2);
        return r < n ? r : 2 * n - 2 - r;
    }
    case FK_WRAP:
        return fk_pmod(i, n);
    default:
        return -1;
    }
}

/* ------------------------------------------------------------------ */
/* dtype codes shared with the Python layer (filterkit/_dtypes.py).    */
/* ------------------------------------------------------------------ */
enum {
    FK_U8 = 0, FK_I8 = 1, FK_U16 = 2, FK_I16 = 3, FK_U32 = 4, FK_I32 = 5,
    FK_U64 = 6, FK_I64 = 7, FK_F32 = 8, FK_F64 = 9, FK_NDTYPES = 10
};

/* NAME(code) returns the function for dtype code (FK_U8 ... FK_F64), or 0 */
#define FK_DEFINE_TABLE(NAME, FTYPE, KIND, SUF)                                 \
static FTYPE NAME(int code)                                                     \
{                                                                               \
    static const FTYPE table[FK_NDTYPES] = {                                    \
        fk_##KIND##_u8_##SUF, fk_##KIND##_i8_##SUF, fk_##KIND##_u16_##SUF,      \
        fk_##KIND##_i16_##SUF, fk_##KIND##_u32_##SUF, fk_##KIND##_i32_##SUF,    \
        fk_##KIND##_u64_##SUF, fk_##KIND##_i64_##SUF, fk_##KIND##_f32_##SUF,    \
        fk_##KIND##_f64_##SUF};                                                 \
    return (code >= 0 && code < FK_NDTYPES) ? table[code] : 0;                  \
}

/* loaders: dst[i] = (T) src[i * stride_bytes],  0 <= i < n */
typedef void (*fk_load_f_t)(const char *src, ptrdiff_t stride, ptrdiff_t n, float *dst);
typedef void (*fk_load_d_t)(const char *src, ptrdiff_t stride, ptrdiff_t n, double *dst);

#define FK_DEFINE_LOAD(NAME, ATTR, S, T)                                        \
ATTR static void NAME(const char *src, ptrdiff_t stride, ptrdiff_t n, T *dst)  \
{                                                                               \
    ptrdiff_t i;                                                                \
    if (stride == (ptrdiff_t)sizeof(S)) {                                       \
        const S *s = (const S *)src;                                            \
        for (i = 0; i < n; i++) dst[i] = (T)s[i];                               \
    } else {                                                                    \
        for (i = 0; i < n; i++) dst[i] = (T)(*(const S *)(src + i * stride));   \
    }                                                                           \
}

#define FK_DEFINE_LOADERS(T, CR, SUF, ATTR)                                     \
FK_DEFINE_LOAD(fk_load_u8_##SUF, ATTR, uint8_t, T)                              \
FK_DEFINE_LOAD(fk_load_i8_##SUF, ATTR, int8_t, T)                               \
FK_DEFINE_LOAD(fk_load_u16_##SUF, ATTR, uint16_t, T)                            \
FK_DEFINE_LOAD(fk_load_i16_##SUF, ATTR, int16_t, T)                             \
FK_DEFINE_LOAD(fk_load_u32_##SUF, ATTR, uint32_t, T)                            \
FK_DEFINE_LOAD(fk_load_i32_##SUF, ATTR, int32_t, T)                             \
FK_DEFINE_LOAD(fk_load_u64_##SUF, ATTR, uint64_t, T)                            \
FK_DEFINE_LOAD(fk_load_i64_##SUF, ATTR, int64_t, T)                             \
FK_DEFINE_LOAD(fk_load_f32_##SUF, ATTR, float, T)                               \
FK_DEFINE_LOAD(fk_load_f64_##SUF, ATTR, double, T)                              \
FK_DEFINE_TABLE(fk_loader_##SUF, fk_load_##CR##_t, load, SUF)


/* storers: dst[i * stride_bytes] = convert(src[i]),  0 <= i < n.
 * Integer targets: round half to even (rint), saturate, NaN -> 0. */
typedef void (*fk_store_f_t)(const float *src, ptrdiff_t n, char *dst, ptrdiff_t stride);
typedef void (*fk_store_d_t)(const double *src, ptrdiff_t n, char *dst, ptrdiff_t stride);

#define FK_DEFINE_STORE_INT(NAME, ATTR, T, D, LO, HI)                           \
ATTR static void NAME(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)       \
{                                                                               \
    ptrdiff_t i;                                                                \
    for (i = 0; i < n; i++) {                                                   \
        double v = rint((double)src[i]);                                        \
        D r;                                                                    \
        if (v != v) r = 0;                                                      \
        else if (v <= (double)(LO)) r = (LO);                                   \
        else if (v >= (double)(HI)) r = (HI);                                   \
        else r = (D)v;                                                          \
        *(D *)(dst + i * stride) = r;                                           \
    }                                                                           \
}

#define FK_DEFINE_STORE_FLOAT(NAME, ATTR, T, D)                                 \
ATTR static void NAME(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)       \
{                                                                               \
    ptrdiff_t i;                                                                \
    if (stride == (ptrdiff_t)sizeof(D)) {                                       \
        D *d = (D *)dst;                                                        \
        for (i = 0; i < n; i++) d[i] = (D)src[i];                               \
    } else {                                                                    \
        for (i = 0; i < n; i++) *(D *)(dst + i * stride) = (D)src[i];           \
    }                                                                           \
}

/* The same for 8- and 16-bit targets, in a form the compiler vectorises:
 * NaN to 0, clamped to [LO, HI], then rounded half to even by adding and
 * subtracting 1.5 * 2^(mantissa bits), exact for |v| < 2^22 (float) or 2^51
 * (double) in the default rounding mode; rounding after clamping to integer
 * bounds gives the same as clamping after rounding.  rint() per value is a
 * library call in a portable build: a uint8 mean at 2048^2 took 8.9 ms, 6
 * of them in this store. */
#define FK_DEFINE_CLAMP_ROUND(NAME, T, MAGIC)                                  \
static inline T NAME(T v, T lo, T hi)                                           \
{                                                                               \
    v = v == v ? v : (T)0;                                                      \
    v = v > lo ? v : lo;                                                        \
    v = v < hi ? v : hi;                                                        \
    return (v + (T)(MAGIC)) - (T)(MAGIC);                                       \
}
FK_DEFINE_CLAMP_ROUND(fk_clamp_round_f, float, 12582912.0)
FK_DEFINE_CLAMP_ROUND(fk_clamp_round_d, double, 6755399441055744.0)

#define FK_DEFINE_STORE_SMALL(NAME, ATTR, T, CR, D, LO, HI, VEC)                \
ATTR static void NAME(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)       \
{                                                                               \
    ptrdiff_t i;                                                                \
    if (stride == (ptrdiff_t)sizeof(D)) {                                       \
        D *restrict d = (D *)dst;                                               \
        for (i = VEC(src, n, d); i < n; i++)                                    \
            d[i] = (D)(int)fk_clamp_round_##CR(src[i], (T)(LO), (T)(HI));       \
        return;                                                                 \
    }                                                                           \
    for (i = 0; i < n; i++)                                                     \
        *(D *)(dst + i * stride) = (D)(int)fk_clamp_round_##CR(src[i], (T)(LO), (T)(HI)); \
}

/* The int64 limits are not exactly representable as double: comparing with
 * the rounded-up double and assigning the exact limit saturates correctly. */
/* VEC(src, n, d): how many leading values a vector body stored (none in
 * the portable build and from double) */
#define FK_VEC_NONE(SRC, N, D) 0

#define FK_DEFINE_STORERS(T, CR, SUF, ATTR, VU8, VI8, VU16, VI16)               \
FK_DEFINE_STORE_SMALL(fk_store_u8_##SUF, ATTR, T, CR, uint8_t, 0, UINT8_MAX, VU8) \
FK_DEFINE_STORE_SMALL(fk_store_i8_##SUF, ATTR, T, CR, int8_t, INT8_MIN, INT8_MAX, VI8) \
FK_DEFINE_STORE_SMALL(fk_store_u16_##SUF, ATTR, T, CR, uint16_t, 0, UINT16_MAX, VU16) \
FK_DEFINE_STORE_SMALL(fk_store_i16_##SUF, ATTR, T, CR, int16_t, INT16_MIN, INT16_MAX, VI16) \
FK_DEFINE_STORE_INT(fk_store_u32_##SUF, ATTR, T, uint32_t, 0, UINT32_MAX)       \
FK_DEFINE_STORE_INT(fk_store_i32_##SUF, ATTR, T, int32_t, INT32_MIN, INT32_MAX) \
FK_DEFINE_STORE_INT(fk_store_u64_##SUF, ATTR, T, uint64_t, 0, UINT64_MAX)       \
FK_DEFINE_STORE_INT(fk_store_i64_##SUF, ATTR, T, int64_t, INT64_MIN, INT64_MAX) \
FK_DEFINE_STORE_FLOAT(fk_store_f32_##SUF, ATTR, T, float)                       \
FK_DEFINE_STORE_FLOAT(fk_store_f64_##SUF, ATTR, T, double)                      \
FK_DEFINE_TABLE(fk_storer_##SUF, fk_store_##CR##_t, store, SUF)

/* Loaders and storers for every kernel level: the conversions vectorise
 * with the level's instructions (a uint8 store compiled for SSE2 took half
 * of a 3 x 3 uint8 mean).  fk_loader_f(code, cpu_cap) and the others pick
 * the level as the kernels do. */
FK_DEFINE_LOADERS(float, f, f_base, )
FK_DEFINE_LOADERS(double, d, d_base, )
FK_DEFINE_STORERS(float, f, f_base, , FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE)
FK_DEFINE_STORERS(double, d, d_base, , FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE)
#ifdef FK_X86_DISPATCH
#include <immintrin.h>

/* float32 to 8- and 16-bit integers with AVX2, as fk_clamp_round_f does:
 * NaN to 0 (an AND with the ordered mask), clamped with max and min (which
 * GCC does not make of the selects: it compared and blended, three times
 * slower), rounded half to even by cvtps2dq in the default rounding mode,
 * then packed (the values are in range, so the packs' saturation does
 * nothing) */
FK_TARGET_AVX2 static inline __m256i fk_cvt8_avx2(const float *s, __m256 lo, __m256 hi)
{
    __m256 v = _mm256_loadu_ps(s);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
}

#define FK_DEFINE_VEC8_AVX2(NAME, D, LO, HI, PACK16)                            \
FK_TARGET_AVX2 static inline ptrdiff_t NAME(const float *src, ptrdiff_t n, D *d) \
{                                                                               \
    const __m256 lo = _mm256_set1_ps((float)(LO)), hi = _mm256_set1_ps((float)(HI)); \
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);            \
    ptrdiff_t i;                                                                \
    for (i = 0; i + 32 <= n; i += 32) {                                         \
        const __m256i ab = _mm256_packs_epi32(fk_cvt8_avx2(src + i, lo, hi),    \
                                              fk_cvt8_avx2(src + i + 8, lo, hi)); \
        const __m256i cd = _mm256_packs_epi32(fk_cvt8_avx2(src + i + 16, lo, hi), \
                                              fk_cvt8_avx2(src + i + 24, lo, hi)); \
        _mm256_storeu_si256((__m256i *)(d + i),                                 \
                            _mm256_permutevar8x32_epi32(PACK16(ab, cd), order)); \
    }                                                                           \
    return i;                                                                   \
}

#define FK_DEFINE_VEC16_AVX2(NAME, D, LO, HI, PACK32)                           \
FK_TARGET_AVX2 static inline ptrdiff_t NAME(const float *src, ptrdiff_t n, D *d) \
{                                                                               \
    const __m256 lo = _mm256_set1_ps((float)(LO)), hi = _mm256_set1_ps((float)(HI)); \
    ptrdiff_t i;                                                                \
    for (i = 0; i + 16 <= n; i += 16) {                                         \
        const __m256i ab = PACK32(fk_cvt8_avx2(src + i, lo, hi),                \
                                  fk_cvt8_avx2(src + i + 8, lo, hi));           \
        _mm256_storeu_si256((__m256i *)(d + i), _mm256_permute4x64_epi64(ab, 0xD8)); \
    }                                                                           \
    return i;                                                                   \
}

FK_DEFINE_VEC8_AVX2(fk_vec_u8_avx2, uint8_t, 0, UINT8_MAX, _mm256_packus_epi16)
FK_DEFINE_VEC8_AVX2(fk_vec_i8_avx2, int8_t, INT8_MIN, INT8_MAX, _mm256_packs_epi16)
FK_DEFINE_VEC16_AVX2(fk_vec_u16_avx2, uint16_t, 0, UINT16_MAX, _mm256_packus_epi32)
FK_DEFINE_VEC16_AVX2(fk_vec_i16_avx2, int16_t, INT16_MIN, INT16_MAX, _mm256_packs_epi32)

FK_DEFINE_LOADERS(float, f, f_avx2, FK_TARGET_AVX2)
FK_DEFINE_LOADERS(double, d, d_avx2, FK_TARGET_AVX2)
FK_DEFINE_STORERS(float, f, f_avx2, FK_TARGET_AVX2,
                  fk_vec_u8_avx2, fk_vec_i8_avx2, fk_vec_u16_avx2, fk_vec_i16_avx2)
FK_DEFINE_STORERS(double, d, d_avx2, FK_TARGET_AVX2, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE)
FK_DEFINE_LOADERS(float, f, f_avx512, FK_TARGET_AVX512)
FK_DEFINE_LOADERS(double, d, d_avx512, FK_TARGET_AVX512)
FK_DEFINE_STORERS(float, f, f_avx512, FK_TARGET_AVX512,
                  fk_vec_u8_avx2, fk_vec_i8_avx2, fk_vec_u16_avx2, fk_vec_i16_avx2)
FK_DEFINE_STORERS(double, d, d_avx512, FK_TARGET_AVX512, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE, FK_VEC_NONE)
#define FK_DEFINE_LEVEL_TABLE(NAME, FTYPE, STEM)                                \
static FTYPE NAME(int code, int cpu_cap)                                        \
{                                                                               \
    switch (fk_cpu_level(cpu_cap)) {                                            \
    case 2: return STEM##_avx512(code);                                         \
    case 1: return STEM##_avx2(code);                                           \
    default: return STEM##_base(code);                                          \
    }                                                                           \
}
#else
#define FK_DEFINE_LEVEL_TABLE(NAME, FTYPE, STEM)                                \
static FTYPE NAME(int code, int cpu_cap)                                        \
{                                                                               \
    (void)cpu_cap;                                                              \
    return STEM##_base(code);                                                   \
}
#endif
FK_DEFINE_LEVEL_TABLE(fk_loader_f, fk_load_f_t, fk_loader_f)
FK_DEFINE_LEVEL_TABLE(fk_loader_d, fk_load_d_t, fk_loader_d)
FK_DEFINE_LEVEL_TABLE(fk_storer_f, fk_store_f_t, fk_storer_f)
FK_DEFINE_LEVEL_TABLE(fk_storer_d, fk_store_d_t, fk_storer_d)

#endif /* FK_KERNELS_H */

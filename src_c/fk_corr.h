/*
 * fk_corr.h -- the correlation kernels: output rows computed as "one mask
 * tap across a whole row" (included by fk_impl.h once per compute type T,
 * with VT its vector of L lanes).
 *
 * For every tap (a, b) the row rows[a] shifted by b is multiplied by
 * k[a][b] and accumulated; the accumulators for a block of pixels stay in
 * vector registers, so each tap costs one unaligned load and one
 * multiply-add per vector.  The same functions serve the vertical (kw == 1)
 * and horizontal (kh == 1) passes of a separable mask.  Taps whose weight
 * is exactly zero are skipped (as scipy.ndimage does), so they neither cost
 * time nor propagate NaN/inf from the image.  Every output pixel is
 * computed by the same sequence of operations, whatever kernel, block,
 * strip or thread computes it, so results are bit-identical among them.
 */

/* Store the previous block's four accumulators (held in lag) and keep the
 * new ones: stores then trail the loads by a whole block, so they never
 * alias in the low 12 address bits with the loads that follow (rows 4
 * KiB-multiples apart). */
FK_INLINE void FK_FN(lag4)(T *out, T *lag, ptrdiff_t x, VT c0, VT c1, VT c2, VT c3)
{
    if (x > 0) {
        T *o = out + x - 4 * L;
        *(VT *)(o) = *(VT *)(lag);
        *(VT *)(o + L) = *(VT *)(lag + L);
        *(VT *)(o + 2 * L) = *(VT *)(lag + 2 * L);
        *(VT *)(o + 3 * L) = *(VT *)(lag + 3 * L);
    }
    *(VT *)(lag) = c0;
    *(VT *)(lag + L) = c1;
    *(VT *)(lag + 2 * L) = c2;
    *(VT *)(lag + 3 * L) = c3;
}

/*
 * out[x] = sum_{a < kh} sum_{b < kw} k[a*kw + b] * rows[a][x + cs b],  0 <= x < n
 *
 * (cs: the column step, the channels of interleaved pixels; 1 for a plane)
 * Eight vector accumulators (a block of 8 L pixels).  `pf`, if not NULL,
 * is a row the caller will need next: it is prefetched 256 bytes per
 * block, so that memory traffic overlaps the arithmetic.
 */
FK_INLINE void FK_FN(corr_rows_at)(T *restrict out, const T *const *rows, const T *k, int kh,
                                   int kw, int cs, ptrdiff_t n, const T *pf)
{
    T lag[8 * L];
    ptrdiff_t x;
    int a, b;
    for (x = 0; x + 8 * L <= n; x += 8 * L) {
        if (pf != NULL) {
            const char *q = (const char *)(pf + x);
            __builtin_prefetch(q);
            __builtin_prefetch(q + 64);
            __builtin_prefetch(q + 128);
            __builtin_prefetch(q + 192);
        }
        VT c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
        VT c4 = {0}, c5 = {0}, c6 = {0}, c7 = {0};
        for (a = 0; a < kh; a++) {
            const T *r = rows[a] + x;
            const T *ka = k + (ptrdiff_t)a * kw;
            for (b = 0; b < kw; b++) {
                const T w = ka[b];
                const T *p = r + (ptrdiff_t)b * cs;
                if (w == (T)0) continue;
                c0 += w * *(const VT *)(p);
                c1 += w * *(const VT *)(p + L);
                c2 += w * *(const VT *)(p + 2 * L);
                c3 += w * *(const VT *)(p + 3 * L);
                c4 += w * *(const VT *)(p + 4 * L);
                c5 += w * *(const VT *)(p + 5 * L);
                c6 += w * *(const VT *)(p + 6 * L);
                c7 += w * *(const VT *)(p + 7 * L);
            }
        }
        /* the previous block's stores trail this block's loads (lag4) */
        if (x > 0) {
            T *o = out + x - 8 * L;
            *(VT *)(o) = *(VT *)(lag);
            *(VT *)(o + L) = *(VT *)(lag + L);
            *(VT *)(o + 2 * L) = *(VT *)(lag + 2 * L);
            *(VT *)(o + 3 * L) = *(VT *)(lag + 3 * L);
            *(VT *)(o + 4 * L) = *(VT *)(lag + 4 * L);
            *(VT *)(o + 5 * L) = *(VT *)(lag + 5 * L);
            *(VT *)(o + 6 * L) = *(VT *)(lag + 6 * L);
            *(VT *)(o + 7 * L) = *(VT *)(lag + 7 * L);
        }
        *(VT *)(lag) = c0;
        *(VT *)(lag + L) = c1;
        *(VT *)(lag + 2 * L) = c2;
        *(VT *)(lag + 3 * L) = c3;
        *(VT *)(lag + 4 * L) = c4;
        *(VT *)(lag + 5 * L) = c5;
        *(VT *)(lag + 6 * L) = c6;
        *(VT *)(lag + 7 * L) = c7;
    }
    if (x > 0) memcpy(out + x - 8 * L, lag, sizeof lag);
    /* the last columns (and narrow border strips): one vector at a time */
    for (; x < n; x += L) {
        VT c = {0};
        for (a = 0; a < kh; a++) {
            const T *r = rows[a] + x;
            const T *ka = k + (ptrdiff_t)a * kw;
            for (b = 0; b < kw; b++)
                if (ka[b] != (T)0) c += ka[b] * *(const VT *)(r + (ptrdiff_t)b * cs);
        }
        if (x + L <= n) *(VT *)(out + x) = c;
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));
    }
}

/* A plane's column step (1) is a constant in its own copy of each kernel:
 * with a variable step the compiler keeps an index register per tap
 * offset, which cost 4-10 % on the grey separable passes. */
static void FK_FN(corr_rows)(T *restrict out, const T *const *rows, const T *k, int kh, int kw,
                             int cs, ptrdiff_t n, const T *pf)
{
    if (cs == 1) FK_FN(corr_rows_at)(out, rows, k, kh, kw, 1, n, pf);
    else FK_FN(corr_rows_at)(out, rows, k, kh, kw, cs, n, pf);
}

/* c0..c3 += w * (v0..v3) */
#define FK_ACC4(c0, c1, c2, c3, w, v0, v1, v2, v3) (c0 += (w) * (v0), c1 += (w) * (v1), c2 += (w) * (v2), c3 += (w) * (v3))

/*
 * Two output rows at once: out0 from rows[0 .. kh), out1 from rows[1 .. kh].
 * Each source row is loaded once for both outputs, which halves the loads
 * of a tall mask (they come from the second-level cache for wide images).
 * Four accumulators per output row.  Each output pixel sees exactly the
 * operations, in the same order, that corr_rows applies.
 */
FK_INLINE void FK_FN(corr2_rows_at)(T *restrict out0, T *restrict out1, const T *const *rows,
                                    const T *k, int kh, int kw, int cs, ptrdiff_t n,
                                    const T *pf0, const T *pf1)
{
    T lag0[4 * L], lag1[4 * L];
    ptrdiff_t x;
    int r, b;
    for (x = 0; x + 4 * L <= n; x += 4 * L) {
        VT a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        VT b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
        if (pf0 != NULL) {
            __builtin_prefetch((const char *)(pf0 + x));
            __builtin_prefetch((const char *)(pf0 + x) + 64);
        }
        if (pf1 != NULL) {
            __builtin_prefetch((const char *)(pf1 + x));
            __builtin_prefetch((const char *)(pf1 + x) + 64);
        }
        for (b = 0; b < kw; b++) { /* first row: out0 only, mask row 0 */
            const T w = k[b];
            const T *p = rows[0] + x + (ptrdiff_t)b * cs;
            if (w == (T)0) continue;
            FK_ACC4(a0, a1, a2, a3, w, *(const VT *)(p), *(const VT *)(p + L),
                    *(const VT *)(p + 2 * L), *(const VT *)(p + 3 * L));
        }
        for (r = 1; r < kh; r++) { /* out0 mask row r, out1 mask row r - 1 */
            const T *kr = k + (ptrdiff_t)r * kw;
            for (b = 0; b < kw; b++) {
                const T w0 = kr[b], w1 = kr[b - kw];
                const T *p = rows[r] + x + (ptrdiff_t)b * cs;
                VT v0, v1, v2, v3;
                if (w0 == (T)0 && w1 == (T)0) continue;
                v0 = *(const VT *)(p);
                v1 = *(const VT *)(p + L);
                v2 = *(const VT *)(p + 2 * L);
                v3 = *(const VT *)(p + 3 * L);
                if (w0 != (T)0) FK_ACC4(a0, a1, a2, a3, w0, v0, v1, v2, v3);
                if (w1 != (T)0) FK_ACC4(b0, b1, b2, b3, w1, v0, v1, v2, v3);
            }
        }
        for (b = 0; b < kw; b++) { /* last row: out1 only, mask row kh - 1 */
            const T w = k[(ptrdiff_t)(kh - 1) * kw + b];
            const T *p = rows[kh] + x + (ptrdiff_t)b * cs;
            if (w == (T)0) continue;
            FK_ACC4(b0, b1, b2, b3, w, *(const VT *)(p), *(const VT *)(p + L),
                    *(const VT *)(p + 2 * L), *(const VT *)(p + 3 * L));
        }
        FK_FN(lag4)(out0, lag0, x, a0, a1, a2, a3);
        FK_FN(lag4)(out1, lag1, x, b0, b1, b2, b3);
    }
    if (x > 0) {
        memcpy(out0 + x - 4 * L, lag0, sizeof lag0);
        memcpy(out1 + x - 4 * L, lag1, sizeof lag1);
    }
    /* the last columns (and narrow border strips): one vector at a time */
    for (; x < n; x += L) {
        VT c = {0}, d = {0};
        for (r = 0; r <= kh; r++) {
            const T *kr = k + (ptrdiff_t)r * kw;
            for (b = 0; b < kw; b++) {
                const VT v = *(const VT *)(rows[r] + x + (ptrdiff_t)b * cs);
                if (r < kh && kr[b] != (T)0) c += kr[b] * v;
                if (r > 0 && kr[b - kw] != (T)0) d += kr[b - kw] * v;
            }
        }
        if (x + L <= n) {
            *(VT *)(out0 + x) = c;
            *(VT *)(out1 + x) = d;
        } else {
            memcpy(out0 + x, &c, (size_t)(n - x) * sizeof(T));
            memcpy(out1 + x, &d, (size_t)(n - x) * sizeof(T));
        }
    }
}
#undef FK_ACC4

static void FK_FN(corr2_rows)(T *restrict out0, T *restrict out1, const T *const *rows,
                              const T *k, int kh, int kw, int cs, ptrdiff_t n, const T *pf0,
                              const T *pf1)
{
    if (cs == 1) FK_FN(corr2_rows_at)(out0, out1, rows, k, kh, kw, 1, n, pf0, pf1);
    else FK_FN(corr2_rows_at)(out0, out1, rows, k, kh, kw, cs, n, pf0, pf1);
}

/* the vertical pass of a separable mask (kw = 1): its own copies, the
 * mask's width a constant too */
static void FK_FN(corr_vert)(T *restrict out, const T *const *rows, const T *k, int kh,
                             ptrdiff_t n, const T *pf)
{
    FK_FN(corr_rows_at)(out, rows, k, kh, 1, 1, n, pf);
}

static void FK_FN(corr2_vert)(T *restrict out0, T *restrict out1, const T *const *rows,
                              const T *k, int kh, ptrdiff_t n, const T *pf0, const T *pf1)
{
    FK_FN(corr2_rows_at)(out0, out1, rows, k, kh, 1, 1, n, pf0, pf1);
}

/*
 * One row, horizontal taps of a symmetric (sign = 1) or antisymmetric
 * (sign = -1) mask of odd width kw = 2h + 1:
 *   out[x] = sum_{b < h} k[b] (row[x + cs b] + sign row[x + cs (kw - 1 - b)])
 *            + k[h] row[x + cs h]
 * Pairing the mirrored taps first moves half the work from the multiply-add
 * units to the adders, which run in parallel (Gaussian and mean rows are
 * symmetric, the Sobel derivative row antisymmetric).
 */
FK_INLINE void FK_FN(corr_sym_at)(T *restrict out, const T *row, const T *k, int kw, int cs,
                                  int sign, ptrdiff_t n)
{
    const int h = kw / 2;
    const ptrdiff_t hc = (ptrdiff_t)h * cs, last = (ptrdiff_t)(kw - 1) * cs;
    ptrdiff_t x;
    int b;
    for (x = 0; x + 4 * L <= n; x += 4 * L) {
        const T *p = row + x;
        VT c0 = {0}, c1 = {0}, c2 = {0}, c3 = {0};
        if (k[h] != (T)0) {
            const T w = k[h];
            c0 = w * *(const VT *)(p + hc);
            c1 = w * *(const VT *)(p + hc + L);
            c2 = w * *(const VT *)(p + hc + 2 * L);
            c3 = w * *(const VT *)(p + hc + 3 * L);
        }
        for (b = 0; b < h; b++) {
            const T w = k[b];
            const T *q = p + (ptrdiff_t)b * cs, *r = p + last - (ptrdiff_t)b * cs;
            if (w == (T)0) continue;
            if (sign > 0) {
                c0 += w * (*(const VT *)(q) + *(const VT *)(r));
                c1 += w * (*(const VT *)(q + L) + *(const VT *)(r + L));
                c2 += w * (*(const VT *)(q + 2 * L) + *(const VT *)(r + 2 * L));
                c3 += w * (*(const VT *)(q + 3 * L) + *(const VT *)(r + 3 * L));
            } else {
                c0 += w * (*(const VT *)(q) - *(const VT *)(r));
                c1 += w * (*(const VT *)(q + L) - *(const VT *)(r + L));
                c2 += w * (*(const VT *)(q + 2 * L) - *(const VT *)(r + 2 * L));
                c3 += w * (*(const VT *)(q + 3 * L) - *(const VT *)(r + 3 * L));
            }
        }
        *(VT *)(out + x) = c0;
        *(VT *)(out + x + L) = c1;
        *(VT *)(out + x + 2 * L) = c2;
        *(VT *)(out + x + 3 * L) = c3;
    }
    for (; x < n; x += L) {
        const T *p = row + x;
        VT c = {0};
        if (k[h] != (T)0) c = k[h] * *(const VT *)(p + hc);
        for (b = 0; b < h; b++)
            if (k[b] != (T)0)
                c += k[b] * (*(const VT *)(p + (ptrdiff_t)b * cs)
                             + (T)sign * *(const VT *)(p + last - (ptrdiff_t)b * cs));
        if (x + L <= n) *(VT *)(out + x) = c;
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));
    }
}

static void FK_FN(corr_sym)(T *restrict out, const T *row, const T *k, int kw, int cs, int sign,
                            ptrdiff_t n)
{
    if (cs == 1) FK_FN(corr_sym_at)(out, row, k, kw, 1, sign, n);
    else FK_FN(corr_sym_at)(out, row, k, kw, cs, sign, n);
}

/*
 * 3 x 3 masks whose non-zero taps are all of `pat` (bit a*3 + b: tap
 * (a, b)): FK_PAT_FULL, no zero weight (the commonest direct mask), and
 * FK_PAT_CROSS, the cross of the 4-neighbour Laplace.  The weights stay in
 * registers as vectors (at most 9 + 4 accumulators of the 16 AVX2
 * registers), no per-tap loads, tests or broadcasts, the taps unrolled; the
 * general kernels spend more on that bookkeeping than on the multiply-adds
 * when a row has three taps.  Taps outside pat are zero and skipped, as the
 * general kernels skip them (a NaN under a zero weight does not spread).
 * The same operations in the same order as corr_rows; stores trail the
 * loads by a block, as there.
 */
#ifndef FK_PAT_FULL
#define FK_PAT_FULL 0x1FF
#define FK_PAT_CROSS 0x0BA
#endif

/* the taps of pat on the vectors at r0, r1, r2 (the three rows at x) */
FK_INLINE VT FK_FN(taps33)(const int pat, const T *r0, const T *r1, const T *r2, ptrdiff_t cs,
                           VT w0, VT w1, VT w2, VT w3, VT w4, VT w5, VT w6, VT w7, VT w8)
{
    VT c = {0};
    if (pat & 0x001) c += w0 * *(const VT *)(r0);
    if (pat & 0x002) c += w1 * *(const VT *)(r0 + cs);
    if (pat & 0x004) c += w2 * *(const VT *)(r0 + 2 * cs);
    if (pat & 0x008) c += w3 * *(const VT *)(r1);
    if (pat & 0x010) c += w4 * *(const VT *)(r1 + cs);
    if (pat & 0x020) c += w5 * *(const VT *)(r1 + 2 * cs);
    if (pat & 0x040) c += w6 * *(const VT *)(r2);
    if (pat & 0x080) c += w7 * *(const VT *)(r2 + cs);
    if (pat & 0x100) c += w8 * *(const VT *)(r2 + 2 * cs);
    return c;
}

FK_INLINE void FK_FN(corr33_pat)(T *restrict out, const T *const *rows, const T *k,
                                 ptrdiff_t cs, ptrdiff_t n, const T *pf, const int pat)
{
    const T *r0 = rows[0], *r1 = rows[1], *r2 = rows[2];
    const VT zero = {0};
    const VT w0 = zero + k[0], w1 = zero + k[1], w2 = zero + k[2];
    const VT w3 = zero + k[3], w4 = zero + k[4], w5 = zero + k[5];
    const VT w6 = zero + k[6], w7 = zero + k[7], w8 = zero + k[8];
    T lag[4 * L];
    ptrdiff_t x;
    for (x = 0; x + 4 * L <= n; x += 4 * L) {
        VT c0, c1, c2, c3;
        if (pf != NULL) {
            __builtin_prefetch((const char *)(pf + x));
            __builtin_prefetch((const char *)(pf + x) + 64);
        }
        c0 = FK_FN(taps33)(pat, r0 + x, r1 + x, r2 + x, cs, w0, w1, w2, w3, w4, w5, w6, w7, w8);
        c1 = FK_FN(taps33)(pat, r0 + x + L, r1 + x + L, r2 + x + L, cs,
                           w0, w1, w2, w3, w4, w5, w6, w7, w8);
        c2 = FK_FN(taps33)(pat, r0 + x + 2 * L, r1 + x + 2 * L, r2 + x + 2 * L, cs,
                           w0, w1, w2, w3, w4, w5, w6, w7, w8);
        c3 = FK_FN(taps33)(pat, r0 + x + 3 * L, r1 + x + 3 * L, r2 + x + 3 * L, cs,
                           w0, w1, w2, w3, w4, w5, w6, w7, w8);
        FK_FN(lag4)(out, lag, x, c0, c1, c2, c3);
    }
    if (x > 0) memcpy(out + x - 4 * L, lag, sizeof lag);
    for (; x < n; x += L) {
        const VT c = FK_FN(taps33)(pat, r0 + x, r1 + x, r2 + x, cs, w0, w1, w2, w3, w4, w5, w6, w7, w8);
        if (x + L <= n) *(VT *)(out + x) = c;
        else memcpy(out + x, &c, (size_t)(n - x) * sizeof(T));
    }
}

typedef void (*FK_FN(corr33_t))(T *restrict out, const T *const *rows, const T *k, ptrdiff_t cs,
                                ptrdiff_t n, const T *pf);

static void FK_FN(corr33_full)(T *restrict out, const T *const *rows, const T *k, ptrdiff_t cs,
                               ptrdiff_t n, const T *pf)
{
    if (cs == 1) FK_FN(corr33_pat)(out, rows, k, 1, n, pf, FK_PAT_FULL);
    else FK_FN(corr33_pat)(out, rows, k, cs, n, pf, FK_PAT_FULL);
}

static void FK_FN(corr33_cross)(T *restrict out, const T *const *rows, const T *k, ptrdiff_t cs,
                               ptrdiff_t n, const T *pf)
{
    if (cs == 1) FK_FN(corr33_pat)(out, rows, k, 1, n, pf, FK_PAT_CROSS);
    else FK_FN(corr33_pat)(out, rows, k, cs, n, pf, FK_PAT_CROSS);
}

/* The fixed 3 x 3 kernel for mask k, if its non-zero taps are exactly one
 * of the patterns that have one, else NULL (the general kernels, which skip
 * zero weights). */
static FK_FN(corr33_t) FK_FN(pick33)(const T *k, int kh, int kw)
{
    int i, pat = 0;
    if (k == NULL || kh != 3 || kw != 3) return NULL;
    for (i = 0; i < 9; i++) if (k[i] != (T)0) pat |= 1 << i;
    if (pat == FK_PAT_FULL) return FK_FN(corr33_full);
    if (pat == FK_PAT_CROSS) return FK_FN(corr33_cross);
    return NULL;
}

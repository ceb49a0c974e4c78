/*
 * fk_box.h -- the mean (box) filter in O(1) work per pixel.
 *
 * Running sums: for every output row the column sums of the kh source rows
 * in the window are updated by adding the row that enters and subtracting
 * the row that leaves (float64 accumulators, so integer images sum exactly
 * and float images do not drift); the horizontal window sums are
 * differences of a prefix sum along the row.  Neither step depends on the
 * mask size.  Border rows are mapped by the border mode (or are rows of
 * cval); border columns of the column sums are mapped the same way.
 *
 * The plan is an fk_plan with k, col and row unused; each thread needs
 * fk_box_workspace_bytes(p) bytes and computes output rows [y0, y1).
 */
#ifndef FK_BOX_H
#define FK_BOX_H

#include "fk_plan.h"

/* the column-sum and prefix-sum rows are padded to a multiple of this many
 * doubles, so the vector scan can read and write whole vectors */
#define FK_BOX_CHAINS 8

static inline ptrdiff_t fk_box_padw(const fk_plan *p)
{
    return p->Wo + p->kw - 1; /* padded columns [-pl, Wo - pl + kw - 1) */
}

static inline size_t fk_box_workspace_bytes(const fk_plan *p, size_t elem)
{
    const size_t padw = (size_t)fk_box_padw(p);
    const size_t seg = (padw + FK_BOX_CHAINS - 1) / FK_BOX_CHAINS;
    /* two source rows (T); column sums and prefix sums (double); an output row */
    return elem * 2 * ((size_t)p->W + FK_SLACK)
           + sizeof(double) * (2 * (FK_BOX_CHAINS * seg + FK_SLACK))
           + elem * ((size_t)p->Wo + FK_SLACK) + 128;
}

/* S[0] = 0, S[j + 1] = P[0] + ... + P[j] for j < n (P is read up to n
 * rounded up to 8, zero beyond n).  An in-register scan of 8 doubles per
 * step (three shifted adds), then the running total of the vectors before;
 * the totals chain costs one add per 8 elements.  The order of additions
 * depends on n only. */
typedef double fk_v4dp __attribute__((vector_size(32), aligned(8), may_alias));
typedef long long fk_v4i __attribute__((vector_size(32)));
#if defined(__clang__)
#define FK_SHIFT(V, Z, K) __builtin_shufflevector(V, Z, FK_SHIFT_IDX_##K)
#define FK_SHIFT_IDX_1 4, 0, 1, 2
#define FK_SHIFT_IDX_2 4, 4, 0, 1
#define FK_LAST(V) __builtin_shufflevector(V, V, 3, 3, 3, 3)
#else
#define FK_SHIFT(V, Z, K) __builtin_shuffle(V, Z, FK_SHIFT_MASK_##K)
#define FK_SHIFT_MASK_1 ((fk_v4i){4, 0, 1, 2})
#define FK_SHIFT_MASK_2 ((fk_v4i){4, 4, 0, 1})
#define FK_LAST(V) __builtin_shuffle(V, (fk_v4i){3, 3, 3, 3})
#endif
/* S[i + 1 .. i + 4] for i = FROM, FROM + 4, ... < TO (FROM a multiple of 4),
 * continuing the running total CARRY (a vector of 4 equal values) */
#define FK_BOX_SCAN(P, S, FROM, TO, CARRY)                                      \
    do {                                                                        \
        const fk_v4dp zero_ = {0};                                              \
        ptrdiff_t i_;                                                           \
        for (i_ = (FROM); i_ < (TO); i_ += 4) {                                 \
            fk_v4dp v_ = *(const fk_v4dp *)((P) + i_);                          \
            v_ += FK_SHIFT(v_, zero_, 1);                                       \
            v_ += FK_SHIFT(v_, zero_, 2);                                       \
            *(fk_v4dp *)((S) + i_ + 1) = v_ + (CARRY);                          \
            (CARRY) += FK_LAST(v_);                                             \
        }                                                                       \
    } while (0)

/* the horizontal step sums kw column sums directly up to this width (cheaper
 * than a prefix pass), and takes differences of prefix sums beyond it */
#define FK_BOX_DIRECT_MAX 9
#define FK_BOX_HSUM(OUT, P, N, SCALE, T, K)                                     \
    do {                                                                        \
        ptrdiff_t x_;                                                           \
        for (x_ = 0; x_ < (N); x_++) {                                          \
            double acc_ = 0.0;                                                  \
            int b_;                                                             \
            for (b_ = 0; b_ < (K); b_++) acc_ += (P)[x_ + b_];                  \
            (OUT)[x_] = (T)(acc_ * (SCALE));                                    \
        }                                                                       \
    } while (0)

/* OUT[x] = SCALE * (P[x] + ... + P[x + k - 1]) for k = 1 .. 9, x < N: a fixed
 * number of terms, which the compiler vectorises across the row. */
#define FK_BOX_HSUM_K(OUT, P, N, SCALE, T, K)                                   \
    case K: FK_BOX_HSUM(OUT, P, N, SCALE, T, K); break;
#define FK_BOX_HSUM_ANY(OUT, P, N, SCALE, T, KW)                                \
    switch (KW) {                                                               \
    FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 1) FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 2) \
    FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 3) FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 4) \
    FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 5) FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 6) \
    FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 7) FK_BOX_HSUM_K(OUT, P, N, SCALE, T, 8) \
    default: FK_BOX_HSUM(OUT, P, N, SCALE, T, 9); break;                        \
    }

/* the left border columns of the column sums, by the border mode */
#define FK_BOX_PAD_LEFT()                                                       \
    do {                                                                        \
        ptrdiff_t c_;                                                           \
        for (c_ = -pl; c_ < 0; c_++) {                                          \
            const ptrdiff_t mi_ = fk_map_index(c_, W, p->mode);                 \
            colsum[c_] = mi_ < 0 ? (double)kh * (double)cval : colsum[mi_];     \
        }                                                                       \
    } while (0)

/* rows between fresh column sums; blocks of rows start at multiples of it */
#define FK_BOX_RESTART 256

/* chunk of columns whose column sums are updated and used while in L1 */
#define FK_BOX_CHUNK 512

#define FK_DEFINE_BOX_RUN(NAME, ATTR, T, SUF, LOADER, STORER, OWN_CODE)        \
ATTR static void NAME(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)   \
{                                                                               \
    const ptrdiff_t W = p->W, Wo = p->Wo, kh = p->kh, kw = p->kw, pl = p->pl;   \
    const ptrdiff_t padw = fk_box_padw(p);                                      \
    const ptrdiff_t seg = (padw + FK_BOX_CHAINS - 1) / FK_BOX_CHAINS;           \
    const double scale = 1.0 / ((double)kh * (double)kw);                       \
    const T cval = (T)p->cval;                                                  \
    char *w8 = (char *)ws;                                                      \
    T *rin = (T *)w8;                                                           \
    T *rout = rin + W + FK_SLACK;                                               \
    double *P = (double *)(((size_t)(rout + W + FK_SLACK) + 63) & ~(size_t)63); \
    /* S[1], S[9], ... on 64-byte boundaries: the scan's stores are aligned  \
     * (S[0] takes the last, unused slot of P's slack) */                     \
    double *S = P + FK_BOX_CHAINS * seg + FK_SLACK - 1;                         \
    T *obuf = (T *)(S + 1 + FK_BOX_CHAINS * seg + FK_SLACK);                    \
    double *colsum = P + pl;              /* column sums of the image columns */ \
    const fk_load_##SUF##_t load = LOADER(p->src_code);                         \
    const fk_store_##SUF##_t store = STORER(p->dst_code);                       \
    const int direct_src = p->src_code == OWN_CODE && p->ss1 == (ptrdiff_t)sizeof(T); \
    const int direct_out = p->dst_code == OWN_CODE && p->ds1 == (ptrdiff_t)sizeof(T); \
    const int narrow = kw <= FK_BOX_DIRECT_MAX;                                 \
    /* wide windows scan prefix sums chunk by chunk when the left border      \
     * columns are known after the first chunk (not for 'wrap') */            \
    const int early = !narrow && p->mode != FK_WRAP && pl <= FK_BOX_CHUNK;      \
    ptrdiff_t y, x, a;                                                          \
    const T *row_in = NULL, *row_out = NULL, *row_next = NULL;                  \
    for (x = 0; x < FK_BOX_CHAINS * seg + FK_SLACK; x++) P[x] = 0.0;            \
    for (y = y0; y < y1; y++) {                                                 \
        T *restrict out = direct_out ? (T *)(p->dst + y * p->ds0) : obuf;       \
        ptrdiff_t done = pl;  /* interior outputs [pl, done) are computed */    \
        ptrdiff_t scanned = 0;  /* prefix sums S[0 .. scanned] are known */     \
        fk_v4dp carry = {0};                                                    \
        const int fresh = y == y0 || y % FK_BOX_RESTART == 0;                   \
        if (fresh) {                                                            \
            /* column sums from scratch: at the start of a block of rows and  \
             * every FK_BOX_RESTART rows, so no rounding error accumulates    \
             * and every row is computed the same way however the rows are    \
             * split among threads (blocks start at multiples of it) */       \
            for (x = 0; x < W; x++) colsum[x] = 0.0;                            \
            for (a = 0; a < kh; a++) {                                          \
                const ptrdiff_t s = fk_map_index(y - p->oy + a, p->H, p->mode); \
                if (s < 0) {                                                    \
                    for (x = 0; x < W; x++) colsum[x] += (double)cval;          \
                } else if (direct_src) {                                        \
                    const T *restrict r_ = (const T *)(p->src + s * p->ss0);    \
                    for (x = 0; x < W; x++) colsum[x] += (double)r_[x];         \
                } else {                                                        \
                    load(p->src + s * p->ss0, p->ss1, W, rin);                  \
                    for (x = 0; x < W; x++) colsum[x] += (double)rin[x];        \
                }                                                               \
            }                                                                   \
            row_next = NULL;                                                    \
        } else {                                                                \
            /* the window moves down one row: add the new, drop the old */     \
            const ptrdiff_t sn = fk_map_index(y - p->oy + kh - 1, p->H, p->mode); \
            const ptrdiff_t so = fk_map_index(y - p->oy - 1, p->H, p->mode);    \
            if (sn < 0) { for (x = 0; x < W; x++) rin[x] = cval; row_in = rin; } \
            else if (direct_src) row_in = (const T *)(p->src + sn * p->ss0);    \
            else { load(p->src + sn * p->ss0, p->ss1, W, rin); row_in = rin; }  \
            if (so < 0) { for (x = 0; x < W; x++) rout[x] = cval; row_out = rout; } \
            else if (direct_src) row_out = (const T *)(p->src + so * p->ss0);   \
            else { load(p->src + so * p->ss0, p->ss1, W, rout); row_out = rout; } \
            if (direct_src && y + 1 < y1) {                                     \
                const ptrdiff_t sx = fk_map_index(y - p->oy + kh, p->H, p->mode); \
                row_next = sx < 0 ? NULL : (const T *)(p->src + sx * p->ss0);   \
            }                                                                   \
        }                                                                       \
        /* update the column sums chunk by chunk; for narrow windows the       \
         * interior outputs whose columns are all updated follow at once,      \
         * while the chunk is still in the first-level cache */                \
        for (x = 0; x < W; x += FK_BOX_CHUNK) {                                 \
            const ptrdiff_t c1 = x + FK_BOX_CHUNK < W ? x + FK_BOX_CHUNK : W;   \
            if (!fresh) {                                                       \
                double *restrict cs = colsum;                                   \
                const T *restrict ri = row_in, *restrict ro = row_out;          \
                ptrdiff_t c;                                                    \
                if (row_next != NULL) /* the row entering next: from memory */  \
                    for (c = x; c < c1; c += 64 / (ptrdiff_t)sizeof(T))         \
                        __builtin_prefetch(row_next + c);                       \
                for (c = x; c < c1; c++) cs[c] += (double)ri[c] - (double)ro[c]; \
            }                                                                   \
            if (narrow) {                                                       \
                ptrdiff_t end = c1 + pl - kw + 1;   /* outputs needing < c1 */  \
                if (end > Wo) end = Wo;                                         \
                if (end > done) {                                               \
                    FK_BOX_HSUM_ANY(out + done, P + done, end - done, scale, T, kw); \
                    done = end;                                                 \
                }                                                               \
            } else if (early) {                                                 \
                ptrdiff_t to = ((c1 + pl) / 8) * 8, end;                        \
                if (x == 0) FK_BOX_PAD_LEFT();                                  \
                if (c1 == W) to = scanned; /* the right border comes last */    \
                FK_BOX_SCAN(P, S, scanned, to, carry);                          \
                if (to > scanned) scanned = to;                                 \
                end = scanned - kw + 1;                                         \
                if (end > Wo) end = Wo;                                         \
                if (x == 0) done = 0;                                           \
                for (; done < end; done++)                                      \
                    out[done] = (T)((S[done + kw] - S[done]) * scale);          \
            }                                                                   \
        }                                                                       \
        /* border columns of the column sums, by the border mode */            \
        FK_BOX_PAD_LEFT();                                                      \
        for (x = W; x < padw - pl; x++) {                                       \
            const ptrdiff_t mi = fk_map_index(x, W, p->mode);                   \
            colsum[x] = mi < 0 ? (double)kh * (double)cval : colsum[mi];        \
        }                                                                       \
        if (narrow) {                                                           \
            /* the border outputs, which read padded columns */                \
            const ptrdiff_t left = pl < Wo ? pl : Wo;                           \
            FK_BOX_HSUM_ANY(out, P, left, scale, T, kw);                        \
            if (done < Wo) FK_BOX_HSUM_ANY(out + done, P + done, Wo - done, scale, T, kw); \
        } else {                                                                \
            if (!early) done = 0;                                               \
            FK_BOX_SCAN(P, S, scanned, padw, carry);                            \
            for (x = done; x < Wo; x++) out[x] = (T)((S[x + kw] - S[x]) * scale); \
        }                                                                       \
        if (!direct_out) store(obuf, Wo, p->dst + y * p->ds0, p->ds1);          \
    }                                                                           \
}

FK_DEFINE_BOX_RUN(fk_box_run_f_base, , float, f, fk_loader_f, fk_storer_f, FK_F32)
FK_DEFINE_BOX_RUN(fk_box_run_d_base, , double, d, fk_loader_d, fk_storer_d, FK_F64)
#ifdef FK_X86_DISPATCH
FK_DEFINE_BOX_RUN(fk_box_run_f_avx2, FK_TARGET_AVX2, float, f, fk_loader_f, fk_storer_f, FK_F32)
FK_DEFINE_BOX_RUN(fk_box_run_d_avx2, FK_TARGET_AVX2, double, d, fk_loader_d, fk_storer_d, FK_F64)
FK_DEFINE_BOX_RUN(fk_box_run_f_avx512, FK_TARGET_AVX512, float, f, fk_loader_f, fk_storer_f, FK_F32)
FK_DEFINE_BOX_RUN(fk_box_run_d_avx512, FK_TARGET_AVX512, double, d, fk_loader_d, fk_storer_d, FK_F64)
#endif
FK_DEFINE_DISPATCH(fk_box_run_f, fk_run_t, fk_box_run_f)
FK_DEFINE_DISPATCH(fk_box_run_d, fk_run_t, fk_box_run_d)

#endif /* FK_BOX_H */

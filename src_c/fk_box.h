/*
 * fk_box.h -- the mean (box) filter in O(1) work per pixel.
 *
 * Running sums: for every output row the column sums of the kh source rows
 * in the window are updated by adding the row that enters and subtracting
 * the row that leaves (float64 accumulators, so integer images sum exactly
 * and float images do not drift); the horizontal window sums are direct
 * sums up to 9 columns and beyond that a running sum along the row.
 * Neither step depends on the mask size.  Windows three rows high, the
 * commonest, take their column sums directly, two output rows at a time.  Border rows are mapped by the border mode (or are rows of
 * cval); border columns of the column sums are mapped the same way.
 *
 * The plan is an fk_plan with k, col and row unused; each thread needs
 * fk_box_workspace_bytes(p) bytes and computes output rows [y0, y1).
 */
#ifndef FK_BOX_H
#define FK_BOX_H

#include "fk_plan.h"

/* at most this many rows between fresh column sums */
#define FK_BOX_RESTART 256

/* the horizontal step sums kw column sums directly up to this width (cheaper
 * than a prefix pass), and takes differences of prefix sums beyond it */
#define FK_BOX_DIRECT_MAX 9

/* Rows between fresh column sums, and the rows that blocks of rows for the
 * threads start at multiples of, so that every row is summed the same way
 * whatever the split (so it depends on the plan, not on the threads).
 * Three-row windows have no running state: pairs of rows from even offsets.
 * Other windows restart every FK_BOX_RESTART rows at most, and on smaller
 * images split them into 2 or 4 equal parts of at least 4 kh and 32 rows
 * (a fresh sum reads kh rows, an update two): one block of 256 rows had
 * left the second thread idle on images up to 256 rows high, and three
 * parts for two threads were slower than one. */
static inline ptrdiff_t fk_box_restart(const fk_plan *p)
{
    const ptrdiff_t Ho = p->Ho > 1 ? p->Ho : 1;
    ptrdiff_t least = 4 * (ptrdiff_t)p->kh, parts = 1;
    if (p->kh == 3 && p->kw <= FK_BOX_DIRECT_MAX)
        return 2;
    least = least < 32 ? 32 : least;
    while (parts < 4 && Ho / (2 * parts) >= least)
        parts *= 2;
    if (parts * FK_BOX_RESTART < Ho)
        parts = (Ho + FK_BOX_RESTART - 1) / FK_BOX_RESTART;
    return (Ho + parts - 1) / parts;
}

/* chunk of columns whose column sums are updated and used while in L1
 * (256 measured 10-15 % faster than 512 for wide windows, same for narrow) */
#define FK_BOX_CHUNK 256

static inline ptrdiff_t fk_box_padw(const fk_plan *p)
{
    return p->Wo + p->kw - 1; /* padded columns [-pl, Wo - pl + kw - 1) */
}

static inline size_t fk_box_workspace_bytes(const fk_plan *p, size_t elem)
{
    const size_t padw = (size_t)fk_box_padw(p);
    /* the running sums: two source rows (T), the column sums (double), an
     * output row */
    const size_t running = elem * 2 * ((size_t)p->W + FK_SLACK)
           + sizeof(double) * (padw + FK_SLACK)
           + elem * ((size_t)p->Wo + FK_SLACK)
           + elem * (FK_BOX_CHUNK + FK_SLACK) + 128;
    /* the three-row path: four source rows, two column-sum rows, two
     * output rows */
    const size_t three = elem * 4 * ((size_t)p->W + FK_SLACK)
           + sizeof(double) * 2 * (padw + FK_SLACK)
           + elem * 2 * ((size_t)p->Wo + FK_SLACK) + 128;
    return running > three ? running : three;
}

/* vectors of NV doubles (4 or 8: NV is 8 in the AVX-512 kernels) */
typedef double fk_v4dp __attribute__((vector_size(32), aligned(8), may_alias));
typedef double fk_v8dp __attribute__((vector_size(64), aligned(8), may_alias));
typedef long long fk_v4i __attribute__((vector_size(32)));
typedef long long fk_v8i __attribute__((vector_size(64)));
#define fk_vdp_4 fk_v4dp
#define fk_vdp_8 fk_v8dp
#define fk_vi_4 fk_v4i
#define fk_vi_8 fk_v8i
/* NV values from PTR as float64 (the compiler turns this into one
 * conversion; __builtin_convertvector of a float vector is split in two
 * by GCC 12) */
#define FK_VD_4(PTR) ((fk_v4dp){(double)(PTR)[0], (double)(PTR)[1], (double)(PTR)[2], (double)(PTR)[3]})
#define FK_VD_8(PTR) ((fk_v8dp){(double)(PTR)[0], (double)(PTR)[1], (double)(PTR)[2], (double)(PTR)[3], \
                                (double)(PTR)[4], (double)(PTR)[5], (double)(PTR)[6], (double)(PTR)[7]})
/* FK_SH1/2: the NV values starting 1 and 2 places into the pair A, B;
 * FK_PREFIX: in-register inclusive prefix sums of V (shifted adds, zeros
 * in from Z); FK_LAST: the last value in every lane */
#if defined(__clang__)
#define FK_SH1_4(A, B) __builtin_shufflevector(A, B, 1, 2, 3, 4)
#define FK_SH2_4(A, B) __builtin_shufflevector(A, B, 2, 3, 4, 5)
#define FK_SH1_8(A, B) __builtin_shufflevector(A, B, 1, 2, 3, 4, 5, 6, 7, 8)
#define FK_SH2_8(A, B) __builtin_shufflevector(A, B, 2, 3, 4, 5, 6, 7, 8, 9)
#define FK_PREFIX_4(V, Z)                                                       \
    (V += __builtin_shufflevector(V, Z, 4, 0, 1, 2),                            \
     V += __builtin_shufflevector(V, Z, 4, 4, 0, 1))
#define FK_PREFIX_8(V, Z)                                                       \
    (V += __builtin_shufflevector(V, Z, 8, 0, 1, 2, 3, 4, 5, 6),                \
     V += __builtin_shufflevector(V, Z, 8, 8, 0, 1, 2, 3, 4, 5),                \
     V += __builtin_shufflevector(V, Z, 8, 8, 8, 8, 0, 1, 2, 3))
#define FK_LAST_4(V) __builtin_shufflevector(V, V, 3, 3, 3, 3)
#define FK_LAST_8(V) __builtin_shufflevector(V, V, 7, 7, 7, 7, 7, 7, 7, 7)
#else
#define FK_SH1_4(A, B) __builtin_shuffle(A, B, (fk_v4i){1, 2, 3, 4})
#define FK_SH2_4(A, B) __builtin_shuffle(A, B, (fk_v4i){2, 3, 4, 5})
#define FK_SH1_8(A, B) __builtin_shuffle(A, B, (fk_v8i){1, 2, 3, 4, 5, 6, 7, 8})
#define FK_SH2_8(A, B) __builtin_shuffle(A, B, (fk_v8i){2, 3, 4, 5, 6, 7, 8, 9})
#define FK_PREFIX_4(V, Z)                                                       \
    (V += __builtin_shuffle(V, Z, (fk_v4i){4, 0, 1, 2}),                        \
     V += __builtin_shuffle(V, Z, (fk_v4i){4, 4, 0, 1}))
#define FK_PREFIX_8(V, Z)                                                       \
    (V += __builtin_shuffle(V, Z, (fk_v8i){8, 0, 1, 2, 3, 4, 5, 6}),            \
     V += __builtin_shuffle(V, Z, (fk_v8i){8, 8, 0, 1, 2, 3, 4, 5}),            \
     V += __builtin_shuffle(V, Z, (fk_v8i){8, 8, 8, 8, 0, 1, 2, 3}))
#define FK_LAST_4(V) __builtin_shuffle(V, (fk_v4i){3, 3, 3, 3})
#define FK_LAST_8(V) __builtin_shuffle(V, (fk_v8i){7, 7, 7, 7, 7, 7, 7, 7})
#endif

/* OUT[x] = SCALE * (P[x] + ... + P[x + KW - 1]) for x in [FROM, TO), FROM >= 1,
 * as a running sum along the row: ACC holds the window sum for x = FROM - 1
 * and each step adds P[x + KW - 1] - P[x - 1].  The differences of NV
 * outputs are summed in registers (a prefix of shifted adds), then offset
 * by ACC.  No stored prefix sums, so no second pass over the row; the chain
 * of dependent adds is one per NV outputs, shorter than the rest of the
 * work (unrolling it to one per 4 NV measured 15 % slower).  The order of
 * additions depends on FROM and TO only.  A NaN or an infinity leaving
 * the sum would leave NaN behind: rows with one are summed directly. */
#define FK_BOX_D(P, X, KW, NV)                                                  \
    ({ fk_vdp_##NV d_ = *(const fk_vdp_##NV *)((P) + (X) - 1 + (KW))            \
                        - *(const fk_vdp_##NV *)((P) + (X) - 1);                \
       FK_PREFIX_##NV(d_, zero_);                                               \
       d_; })
#define FK_BOX_DSCAN(OUT, P, FROM, TO, ACC, KW, SCALE, T, NV)                   \
    do {                                                                        \
        typedef T tv_ __attribute__((vector_size(NV * sizeof(T)), aligned(sizeof(T)), may_alias)); \
        const fk_vdp_##NV zero_ = {0};                                          \
        fk_vdp_##NV acc_ = (fk_vdp_##NV){0} + (ACC);                            \
        ptrdiff_t x_ = (FROM);                                                  \
        double last_;                                                           \
        for (; x_ + NV <= (TO); x_ += NV) {                                     \
            const fk_vdp_##NV a_ = FK_BOX_D(P, x_, KW, NV);                     \
            *(tv_ *)((OUT) + x_) = __builtin_convertvector((a_ + acc_) * (SCALE), tv_); \
            acc_ += FK_LAST_##NV(a_);                                           \
        }                                                                       \
        last_ = acc_[0];                                                        \
        for (; x_ < (TO); x_++) {                                               \
            last_ += (P)[x_ - 1 + (KW)] - (P)[x_ - 1];                          \
            (OUT)[x_] = (T)(last_ * (SCALE));                                   \
        }                                                                       \
        (ACC) = last_;                                                          \
    } while (0)

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

#define FK_BOX_PAD_RIGHT()                                                      \
    do {                                                                        \
        ptrdiff_t c_;                                                           \
        for (c_ = W; c_ < padw - pl; c_++) {                                    \
            const ptrdiff_t mi_ = fk_map_index(c_, W, p->mode);                 \
            colsum[c_] = mi_ < 0 ? (double)kh * (double)cval : colsum[mi_];     \
        }                                                                       \
    } while (0)

/* the first output of a row, whose window sum starts the running sum */
#define FK_BOX_FIRST(T)                                                         \
    do {                                                                        \
        double a0_ = 0.0;                                                       \
        ptrdiff_t j_;                                                           \
        for (j_ = 0; j_ < kw; j_++) a0_ += P[j_];                               \
        out[0] = (T)(a0_ * scale);                                              \
        carry = a0_;                                                            \
        done = 1;                                                               \
    } while (0)

/* Three-row windows (kh == 3, kw <= FK_BOX_DIRECT_MAX), the commonest box:
 * two output rows per pass from four source rows, whose column sums share
 * the middle pair, (r1 + r2) + r0 and (r1 + r2) + r3, in float64 and with no
 * running state.  Pairs start at even offsets from y0 (even:
 * fk_box_restart), so every row is summed the same way whatever the split
 * among threads.  For kw == 3 the horizontal sums are taken in registers
 * from the column sums just computed (two shuffles instead of two unaligned
 * loads); the order of additions is that of FK_BOX_HSUM. */
#define FK_DEFINE_BOX3_RUN(NAME, ATTR, T, SUF, LOADER, STORER, OWN_CODE, NV)   \
ATTR static void NAME(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)   \
{                                                                               \
    typedef T tv_ __attribute__((vector_size(NV * sizeof(T)), aligned(sizeof(T)), may_alias)); \
    const ptrdiff_t W = p->W, Wo = p->Wo, kw = p->kw, pl = p->pl;               \
    const ptrdiff_t padw = fk_box_padw(p);                                      \
    const double scale = p->box_weight;                                   \
    const T cval = (T)p->cval;                                                  \
    T *rb = (T *)ws;                                                            \
    double *P0 = (double *)(((size_t)(rb + 4 * (W + FK_SLACK)) + 63) & ~(size_t)63); \
    double *P1 = P0 + padw + FK_SLACK;                                          \
    T *ob0 = (T *)(P1 + padw + FK_SLACK), *ob1 = ob0 + Wo + FK_SLACK;           \
    double *c0 = P0 + pl, *c1 = P1 + pl;                                        \
    const fk_load_##SUF##_t load = LOADER(p->src_code, p->cpu_cap);                         \
    const fk_store_##SUF##_t store = STORER(p->dst_code, p->cpu_cap);                       \
    const int direct_src = p->src_code == OWN_CODE && p->ss1 == (ptrdiff_t)sizeof(T); \
    const int direct_out = p->dst_code == OWN_CODE && p->ds1 == (ptrdiff_t)sizeof(T); \
    ptrdiff_t y, x, a;                                                          \
    for (x = 0; x < 2 * (padw + FK_SLACK); x++) P0[x] = 0.0;                    \
    for (y = y0; y < y1; y += 2) {                                              \
        const int two = y + 1 < y1;                                             \
        const T *r[4];                                                          \
        /* a lone last row is computed as the first of a pair whose second    \
         * row goes to a scratch buffer */                                     \
        T *restrict out0 = direct_out ? (T *)(p->dst + y * p->ds0) : ob0;       \
        T *restrict out1 = direct_out && two ? (T *)(p->dst + (y + 1) * p->ds0) : ob1; \
        ptrdiff_t done = pl;  /* interior outputs [pl, done) are computed */    \
        ptrdiff_t cdone = 0;  /* column sums [0, cdone) are computed */        \
        for (a = 0; a < 4; a++) {                                               \
            const ptrdiff_t s = fk_map_index(y - p->oy + (a < 3 || two ? a : 2), p->H, p->mode); \
            T *buf = rb + a * (W + FK_SLACK);                                   \
            if (s < 0) { for (x = 0; x < W; x++) buf[x] = cval; r[a] = buf; }   \
            else if (direct_src) r[a] = (const T *)(p->src + s * p->ss0);       \
            else { load(p->src + s * p->ss0, p->ss1, W, buf); r[a] = buf; }     \
        }                                                                       \
        if (kw == 3 && W >= 2 * NV) {                                           \
            /* column sums and their row sums in registers */                  \
            const T *restrict a0 = r[0], *restrict a1 = r[1];                   \
            const T *restrict a2 = r[2], *restrict a3 = r[3];                   \
            const ptrdiff_t C = (W - NV) / NV * NV;  /* last vector's column */ \
            fk_vdp_##NV m, v0, v1, n0, n1;                                      \
            ptrdiff_t c;                                                        \
                m = FK_VD_##NV(a1) + FK_VD_##NV(a2);                            \
                v0 = m + FK_VD_##NV(a0);                                        \
                v1 = m + FK_VD_##NV(a3);                                        \
                *(fk_vdp_##NV *)c0 = v0;                                        \
                *(fk_vdp_##NV *)c1 = v1;                                        \
                /* each vector of outputs is stored one step late, after    \
                 * the next step's loads, which would otherwise wait for it   \
                 * when the output row starts 16 bytes after the source row   \
                 * modulo 4 KiB (4K aliasing: the loads overlap the store in \
                 * their low 12 address bits), as for two arrays allocated   \
                 * one after the other on glibc's heap: 12-18 % of a 2048^2   \
                 * float32 call, measured; now as fast as with no offset */  \
                tv_ p0 = {0}, p1 = {0};                                         \
                for (c = 0; c < C; c += NV) {                                   \
                    m = FK_VD_##NV(a1 + c + NV) + FK_VD_##NV(a2 + c + NV);      \
                    n0 = m + FK_VD_##NV(a0 + c + NV);                           \
                    n1 = m + FK_VD_##NV(a3 + c + NV);                           \
                    if (c > 0) {                                                \
                        *(tv_ *)(out0 + c - NV + pl) = p0;                      \
                        *(tv_ *)(out1 + c - NV + pl) = p1;                      \
                    }                                                           \
                    p0 = __builtin_convertvector(                               \
                        (v0 + FK_SH1_##NV(v0, n0) + FK_SH2_##NV(v0, n0)) * scale, tv_); \
                    p1 = __builtin_convertvector(                               \
                        (v1 + FK_SH1_##NV(v1, n1) + FK_SH2_##NV(v1, n1)) * scale, tv_); \
                    v0 = n0;                                                    \
                    v1 = n1;                                                    \
                }                                                               \
                *(tv_ *)(out0 + C - NV + pl) = p0;                              \
                *(tv_ *)(out1 + C - NV + pl) = p1;                              \
                /* the column sums that the border outputs read: the first  \
                 * vector (stored above) and the last */                      \
                *(fk_vdp_##NV *)(c0 + C) = v0;                                  \
                *(fk_vdp_##NV *)(c1 + C) = v1;                                  \
            cdone = C + NV;                                                     \
            done = C + pl;                                                      \
        }                                                                       \
        for (x = cdone; x < W; x += FK_BOX_CHUNK) {                             \
            const ptrdiff_t ce = x + FK_BOX_CHUNK < W ? x + FK_BOX_CHUNK : W;   \
            const T *restrict a0 = r[0], *restrict a1 = r[1];                   \
            const T *restrict a2 = r[2], *restrict a3 = r[3];                   \
            double *restrict s0 = c0, *restrict s1 = c1;                        \
            ptrdiff_t c, end = ce + pl - kw + 1;  /* outputs needing < ce */    \
            for (c = x; c < ce; c++) {                                          \
                const double m = (double)a1[c] + (double)a2[c];                 \
                s0[c] = m + (double)a0[c];                                      \
                s1[c] = m + (double)a3[c];                                      \
            }                                                                   \
            if (end > Wo) end = Wo;                                             \
            if (end > done) {                                                   \
                FK_BOX_HSUM_ANY(out0 + done, P0 + done, end - done, scale, T, kw); \
                FK_BOX_HSUM_ANY(out1 + done, P1 + done, end - done, scale, T, kw); \
                done = end;                                                     \
            }                                                                   \
        }                                                                       \
        /* border columns of the column sums, by the border mode */            \
        for (x = pl > 0 ? -pl : W; x < padw - pl; x = x == -1 ? W : x + 1) {    \
            const ptrdiff_t mi = fk_map_index(x, W, p->mode);                   \
            c0[x] = mi < 0 ? 3.0 * (double)cval : c0[mi];                       \
            c1[x] = mi < 0 ? 3.0 * (double)cval : c1[mi];                       \
        }                                                                       \
        {   /* the border outputs, which read padded columns */                \
            const ptrdiff_t left = pl < Wo ? pl : Wo;                           \
            FK_BOX_HSUM_ANY(out0, P0, left, scale, T, kw);                      \
            FK_BOX_HSUM_ANY(out1, P1, left, scale, T, kw);                      \
            if (done < Wo) {                                                    \
                FK_BOX_HSUM_ANY(out0 + done, P0 + done, Wo - done, scale, T, kw); \
                FK_BOX_HSUM_ANY(out1 + done, P1 + done, Wo - done, scale, T, kw); \
            }                                                                   \
        }                                                                       \
        if (!direct_out) {                                                      \
            store(ob0, Wo, p->dst + y * p->ds0, p->ds1);                        \
            if (two) store(ob1, Wo, p->dst + (y + 1) * p->ds0, p->ds1);         \
        }                                                                       \
    }                                                                           \
}

/* the column sums of columns [X0, X1) for output row y, from the kh source
 * rows (in order, so every way of reaching them rounds the same) */
#define FK_BOX_COLSUMS(X0, X1, T)                                                \
    do {                                                                        \
        const ptrdiff_t x0_ = (X0), x1_ = (X1);                                 \
        ptrdiff_t a_, c_;                                                       \
        for (c_ = x0_; c_ < x1_; c_++) colsum[c_] = 0.0;                        \
        for (a_ = 0; a_ < kh; a_++) {                                           \
            const ptrdiff_t s_ = fk_map_index(y - p->oy + a_, p->H, p->mode);   \
            if (s_ < 0) {                                                       \
                for (c_ = x0_; c_ < x1_; c_++) colsum[c_] += (double)cval;      \
            } else if (direct_src) {                                            \
                const T *restrict r_ = (const T *)(p->src + s_ * p->ss0);       \
                for (c_ = x0_; c_ < x1_; c_++) colsum[c_] += (double)r_[c_];    \
            } else {                                                            \
                load(p->src + s_ * p->ss0 + x0_ * p->ss1, p->ss1, x1_ - x0_, cbuf); \
                for (c_ = x0_; c_ < x1_; c_++) colsum[c_] += (double)cbuf[c_ - x0_]; \
            }                                                                   \
        }                                                                       \
    } while (0)

#define FK_BOX_COLSUMS_ROW(T)                                                   \
    do {                                                                        \
        ptrdiff_t c0_;                                                          \
        for (c0_ = 0; c0_ < W; c0_ += FK_BOX_CHUNK)                             \
            FK_BOX_COLSUMS(c0_, c0_ + FK_BOX_CHUNK < W ? c0_ + FK_BOX_CHUNK : W, T); \
    } while (0)

#define FK_DEFINE_BOX_RUN(NAME, ATTR, T, SUF, LOADER, STORER, OWN_CODE, NV, U8_3) \
FK_DEFINE_BOX3_RUN(NAME##_3, ATTR, T, SUF, LOADER, STORER, OWN_CODE, NV)       \
ATTR static void NAME(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)   \
{                                                                               \
    const ptrdiff_t W = p->W, Wo = p->Wo, kh = p->kh, kw = p->kw, pl = p->pl;   \
    const ptrdiff_t padw = fk_box_padw(p);                                      \
    const double scale = p->box_weight;                                         \
    const T cval = (T)p->cval;                                                  \
    T *rin = (T *)ws;                                                           \
    T *rout = rin + W + FK_SLACK;                                               \
    double *P = (double *)(((size_t)(rout + W + FK_SLACK) + 63) & ~(size_t)63); \
    T *obuf = (T *)(P + padw + FK_SLACK);                                       \
    T *cbuf = obuf + Wo + FK_SLACK;       /* a chunk of a row, converted */     \
    double *colsum = P + pl;              /* column sums of the image columns */ \
    const fk_load_##SUF##_t load = LOADER(p->src_code, p->cpu_cap);                         \
    const fk_store_##SUF##_t store = STORER(p->dst_code, p->cpu_cap);                       \
    const int direct_src = p->src_code == OWN_CODE && p->ss1 == (ptrdiff_t)sizeof(T); \
    const int direct_out = p->dst_code == OWN_CODE && p->ds1 == (ptrdiff_t)sizeof(T); \
    const int narrow = kw <= FK_BOX_DIRECT_MAX;                                 \
    const ptrdiff_t restart = fk_box_restart(p);                                \
    /* narrow windows check the column sums they update for NaN or          \
     * infinity, which only floating-point sources (or cval) hold; wide ones   \
     * check the running sum along the row, which any of them reaches */      \
    const int check_cols = narrow && (p->src_code == FK_F32 || p->src_code == FK_F64 \
                                      || !(p->cval * 0.0 == 0.0));            \
    /* wide windows run along the row chunk by chunk when the left border     \
     * columns are known after the first chunk (not for 'wrap') */            \
    const int early = !narrow && p->mode != FK_WRAP && pl <= FK_BOX_CHUNK;      \
    ptrdiff_t y, x;                                                             \
    const T *row_in = NULL, *row_out = NULL, *row_next = NULL;                  \
    if (U8_3(p, ws, y0, y1)) return;                                            \
    if (kh == 3 && narrow) { NAME##_3(p, ws, y0, y1); return; }                 \
    for (x = 0; x < padw + FK_SLACK; x++) P[x] = 0.0;                           \
    for (y = y0; y < y1; y++) {                                                 \
        T *restrict out = direct_out ? (T *)(p->dst + y * p->ds0) : obuf;       \
        ptrdiff_t done = pl;  /* interior outputs [pl, done) are computed */    \
        double carry = 0.0;   /* the running window sum along the row */  \
        const int fresh = y == y0 || y % restart == 0;                          \
        if (fresh) {                                                            \
            /* column sums from scratch: at the start of a block of rows and  \
             * every fk_box_restart rows, so no rounding error accumulates    \
             * and every row is computed the same way however the rows are    \
             * split among threads (blocks start at multiples of it) */       \
            FK_BOX_COLSUMS_ROW(T);                                              \
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
                /* the row entering next, from memory into the second-level    \
                 * cache (the first level would evict it before its turn) */   \
                if (row_next != NULL)                                           \
                    for (c = x; c < c1; c += 64 / (ptrdiff_t)sizeof(T))         \
                        __builtin_prefetch(row_next + c, 0, 2);                 \
                fk_vi_##NV nfv = {0};  /* lanes that saw a sum not finite */   \
                int nf = 0, l;                                                  \
                for (c = x; c + NV <= c1; c += NV) {                            \
                    const fk_vdp_##NV v_ = *(fk_vdp_##NV *)(cs + c)             \
                        + (FK_VD_##NV(ri + c) - FK_VD_##NV(ro + c));            \
                    *(fk_vdp_##NV *)(cs + c) = v_;                              \
                    if (check_cols) {                                           \
                        /* v - v is +0.0 (all bits clear) unless v is NaN or \
                         * infinite; an OR of bits: no chain of slow adds */   \
                        nfv |= (fk_vi_##NV)(v_ - v_);                           \
                    }                                                           \
                }                                                               \
                for (; c < c1; c++) {                                           \
                    cs[c] += (double)ri[c] - (double)ro[c];                     \
                    nf |= check_cols && !(cs[c] * 0.0 == 0.0);                  \
                }                                                               \
                for (l = 0; l < NV; l++) nf |= nfv[l] != 0;                     \
                /* a sum not finite (0 * it is NaN): a NaN or an infinity      \
                 * entered the window, or left it and left NaN behind (the     \
                 * difference of two infinities); these columns afresh */      \
                if (nf) FK_BOX_COLSUMS(x, c1, T);                               \
            }                                                                   \
            if (narrow) {                                                       \
                ptrdiff_t end = c1 + pl - kw + 1;   /* outputs needing < c1 */  \
                if (end > Wo) end = Wo;                                         \
                if (end > done) {                                               \
                    FK_BOX_HSUM_ANY(out + done, P + done, end - done, scale, T, kw); \
                    done = end;                                                 \
                }                                                               \
            } else if (early) {                                                 \
                ptrdiff_t end = c1 + pl - kw + 1;   /* outputs needing < c1 */  \
                if (end > Wo) end = Wo;                                         \
                if (x == 0) { FK_BOX_PAD_LEFT(); done = 0; }                    \
                if (end > 0 && done == 0) FK_BOX_FIRST(T);                       \
                if (end > done) {                                               \
                    FK_BOX_DSCAN(out, P, done, end, carry, kw, scale, T, NV);   \
                    done = end;                                                 \
                }                                                               \
            }                                                                   \
        }                                                                       \
        /* border columns of the column sums, by the border mode */            \
        FK_BOX_PAD_LEFT();                                                      \
        FK_BOX_PAD_RIGHT();                                                     \
        if (narrow) {                                                           \
            /* the border outputs, which read padded columns */                \
            const ptrdiff_t left = pl < Wo ? pl : Wo;                           \
            FK_BOX_HSUM_ANY(out, P, left, scale, T, kw);                        \
            if (done < Wo) FK_BOX_HSUM_ANY(out + done, P + done, Wo - done, scale, T, kw); \
        } else {                                                                \
            if (!early) done = 0;                                               \
            if (Wo > 0 && done == 0) FK_BOX_FIRST(T);                            \
            if (done < Wo) FK_BOX_DSCAN(out, P, done, Wo, carry, kw, scale, T, NV); \
            /* every column sum entered the running sum: if it ended NaN or    \
             * infinite, one of them is, and may be a stale NaN (or the sum    \
             * may have met an infinity leaving); the column sums afresh and  \
             * the row summed directly (rows with NaN cost kh + kw per output) */ \
            if (!(carry * 0.0 == 0.0)) {                                        \
                FK_BOX_COLSUMS_ROW(T);                                          \
                FK_BOX_PAD_LEFT();                                              \
                FK_BOX_PAD_RIGHT();                                             \
                FK_BOX_HSUM(out, P, Wo, scale, T, kw);                          \
            }                                                                   \
        }                                                                       \
        if (!direct_out) store(obuf, Wo, p->dst + y * p->ds0, p->ds1);          \
    }                                                                           \
}

#define FK_BOX_U8_NONE(P, WS, Y0, Y1) 0

#ifdef FK_X86_DISPATCH
/* The 3 x 3 mean of a uint8 image into uint8 (the commonest blur of 8-bit
 * images) in 16-bit integers, 16 pixels a step: column sums of three rows,
 * their sums s of three columns (at most 2295), then round(s / 9) as
 * (2 s + 9) * 3641 >> 16, which is exact for every s (tested for all of
 * them).  s / 9 is never within 1/18 of a half, so this is what the float
 * path gives (s * (1/9) rounded half to even): the same bits, 2x faster.
 * Taken for uint8 in and out with contiguous rows, the weight 1/9 exactly
 * and an integral cval in [0, 255]; returns 0 otherwise. */
FK_TARGET_AVX2 static int fk_box3_u8_avx2(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const ptrdiff_t W = p->W, Wo = p->Wo, pl = p->pl, padw = fk_box_padw(p);
    uint16_t *V, *Vp;
    uint8_t *crow;
    ptrdiff_t y, c, x;
    int cv;
    if (p->src_code != FK_U8 || p->dst_code != FK_U8 || p->kh != 3 || p->kw != 3
        || p->ss1 != 1 || p->ds1 != 1 || p->box_weight != 1.0 / 9.0 || W < 1
        || (p->mode == FK_CONSTANT
            && !(p->cval >= 0.0 && p->cval <= 255.0 && p->cval == (double)(int)p->cval)))
        return 0;
    cv = p->mode == FK_CONSTANT ? (int)p->cval : 0;
    V = (uint16_t *)(((size_t)ws + 63) & ~(size_t)63);
    Vp = V + pl;                      /* Vp[c]: the column sum of column c */
    crow = (uint8_t *)(V + padw + 32);  /* a row of cval */
    memset(crow, cv, (size_t)W);
    for (y = y0; y < y1; y++) {
        const uint8_t *r[3];
        uint8_t *out = (uint8_t *)(p->dst + y * p->ds0);
        int a;
        for (a = 0; a < 3; a++) {
            const ptrdiff_t s = fk_map_index(y - p->oy + a, p->H, p->mode);
            r[a] = s < 0 ? crow : (const uint8_t *)(p->src + s * p->ss0);
        }
        for (c = 0; c + 16 <= W; c += 16) {
            const __m256i v = _mm256_add_epi16(
                _mm256_add_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r[0] + c))),
                                 _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r[1] + c)))),
                _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(r[2] + c))));
            _mm256_storeu_si256((__m256i *)(Vp + c), v);
        }
        for (; c < W; c++) Vp[c] = (uint16_t)(r[0][c] + r[1][c] + r[2][c]);
        /* border columns of the column sums, by the border mode */
        for (c = -pl; c < padw - pl; c = c == -1 ? W : c + 1) {
            const ptrdiff_t mi = fk_map_index(c, W, p->mode);
            if (c >= 0 && c < W) continue;
            Vp[c] = (uint16_t)(mi < 0 ? 3 * cv : Vp[mi]);
        }
        {
            const __m256i nine = _mm256_set1_epi16(9), magic = _mm256_set1_epi16(3641);
            for (x = 0; x + 16 <= Wo; x += 16) {
                const uint16_t *q = V + x;  /* Vp[x - pl] */
                __m256i s = _mm256_add_epi16(
                    _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)q),
                                     _mm256_loadu_si256((const __m256i *)(q + 1))),
                    _mm256_loadu_si256((const __m256i *)(q + 2)));
                s = _mm256_mulhi_epu16(_mm256_add_epi16(_mm256_add_epi16(s, s), nine), magic);
                s = _mm256_permute4x64_epi64(_mm256_packus_epi16(s, s), 0xD8);
                _mm_storeu_si128((__m128i *)(out + x), _mm256_castsi256_si128(s));
            }
            for (; x < Wo; x++) {
                const unsigned s = (unsigned)V[x] + V[x + 1] + V[x + 2];
                out[x] = (uint8_t)(((2 * s + 9) * 3641) >> 16);
            }
        }
    }
    return 1;
}
#endif

FK_DEFINE_BOX_RUN(fk_box_run_f_base, , float, f, fk_loader_f, fk_storer_f, FK_F32, 4, FK_BOX_U8_NONE)
FK_DEFINE_BOX_RUN(fk_box_run_d_base, , double, d, fk_loader_d, fk_storer_d, FK_F64, 4, FK_BOX_U8_NONE)
#ifdef FK_X86_DISPATCH
FK_DEFINE_BOX_RUN(fk_box_run_f_avx2, FK_TARGET_AVX2, float, f, fk_loader_f, fk_storer_f, FK_F32, 4,
                  fk_box3_u8_avx2)
FK_DEFINE_BOX_RUN(fk_box_run_d_avx2, FK_TARGET_AVX2, double, d, fk_loader_d, fk_storer_d, FK_F64, 4,
                  FK_BOX_U8_NONE)
FK_DEFINE_BOX_RUN(fk_box_run_f_avx512, FK_TARGET_AVX512, float, f, fk_loader_f, fk_storer_f, FK_F32, 8,
                  fk_box3_u8_avx2)
FK_DEFINE_BOX_RUN(fk_box_run_d_avx512, FK_TARGET_AVX512, double, d, fk_loader_d, fk_storer_d, FK_F64, 8,
                  FK_BOX_U8_NONE)
#endif
FK_DEFINE_DISPATCH(fk_box_run_f, fk_run_t, fk_box_run_f)
FK_DEFINE_DISPATCH(fk_box_run_d, fk_run_t, fk_box_run_d)

#endif /* FK_BOX_H */

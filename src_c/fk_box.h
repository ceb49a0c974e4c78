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

/* the prefix sum runs as 8 independent chains over 8 segments of the row */
#define FK_BOX_CHAINS 8

static inline ptrdiff_t fk_box_padw(const fk_plan *p)
{
    return p->Wo + p->kw - 1; /* padded columns [-pl, Wo - pl + kw - 1) */
}

static inline size_t fk_box_workspace_bytes(const fk_plan *p, size_t elem)
{
    const size_t padw = (size_t)fk_box_padw(p);
    const size_t seg = (padw + FK_BOX_CHAINS - 1) / FK_BOX_CHAINS;
    /* two source rows (T), column sums and prefix sums (double), output row */
    return elem * 2 * ((size_t)p->W + FK_SLACK)
           + sizeof(double) * (2 * (FK_BOX_CHAINS * seg + FK_SLACK))
           + elem * ((size_t)p->Wo + FK_SLACK) + 128;
}

/* S[0] = 0, S[j + 1] = P[0] + ... + P[j] for j < n; P is zero beyond n up
 * to FK_BOX_CHAINS * seg.  The order of additions depends on n only. */
static void fk_box_prefix(const double *P, ptrdiff_t n, double *S)
{
    const ptrdiff_t seg = (n + FK_BOX_CHAINS - 1) / FK_BOX_CHAINS;
    double acc[FK_BOX_CHAINS] = {0};
    double off = 0.0;
    ptrdiff_t i, j;
    int c;
    S[0] = 0.0;
    for (i = 0; i < seg; i++)
        for (c = 0; c < FK_BOX_CHAINS; c++) {
            acc[c] += P[c * seg + i];
            S[c * seg + i + 1] = acc[c];
        }
    for (c = 1; c < FK_BOX_CHAINS; c++) {
        off += acc[c - 1];
        for (j = c * seg + 1; j <= (c + 1) * seg; j++) S[j] += off;
    }
}

#define FK_DEFINE_BOX_RUN(NAME, T, SUF, LOADER, STORER, OWN_CODE)               \
static void NAME(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)       \
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
    double *S = P + FK_BOX_CHAINS * seg + FK_SLACK;                             \
    T *obuf = (T *)(S + FK_BOX_CHAINS * seg + FK_SLACK);                        \
    double *colsum = P + pl;              /* column sums of the image columns */ \
    const fk_load_##SUF##_t load = LOADER(p->src_code);                         \
    const fk_store_##SUF##_t store = STORER(p->dst_code);                       \
    const int direct_src = p->src_code == OWN_CODE && p->ss1 == (ptrdiff_t)sizeof(T); \
    const int direct_out = p->dst_code == OWN_CODE && p->ds1 == (ptrdiff_t)sizeof(T); \
    ptrdiff_t y, x, a;                                                          \
    /* a source row as the compute type (or NULL: a row of cval) */            \
    const T *row_in, *row_out;                                                  \
    for (x = 0; x < FK_BOX_CHAINS * seg + FK_SLACK; x++) P[x] = 0.0;            \
    for (a = 0; a < kh; a++) {                                                  \
        const ptrdiff_t s = fk_map_index(y0 - p->oy + a, p->H, p->mode);        \
        if (s < 0) {                                                            \
            for (x = 0; x < W; x++) colsum[x] += (double)cval;                  \
        } else if (direct_src) {                                                \
            const T *r = (const T *)(p->src + s * p->ss0);                      \
            for (x = 0; x < W; x++) colsum[x] += (double)r[x];                  \
        } else {                                                                \
            load(p->src + s * p->ss0, p->ss1, W, rin);                          \
            for (x = 0; x < W; x++) colsum[x] += (double)rin[x];                \
        }                                                                       \
    }                                                                           \
    for (y = y0; y < y1; y++) {                                                 \
        if (y > y0) {                                                           \
            /* the window moves down one row: add the new, drop the old */     \
            const ptrdiff_t sn = fk_map_index(y - p->oy + kh - 1, p->H, p->mode); \
            const ptrdiff_t so = fk_map_index(y - p->oy - 1, p->H, p->mode);    \
            if (sn < 0) { for (x = 0; x < W; x++) rin[x] = cval; row_in = rin; } \
            else if (direct_src) row_in = (const T *)(p->src + sn * p->ss0);    \
            else { load(p->src + sn * p->ss0, p->ss1, W, rin); row_in = rin; }  \
            if (so < 0) { for (x = 0; x < W; x++) rout[x] = cval; row_out = rout; } \
            else if (direct_src) row_out = (const T *)(p->src + so * p->ss0);   \
            else { load(p->src + so * p->ss0, p->ss1, W, rout); row_out = rout; } \
            for (x = 0; x < W; x++)                                             \
                colsum[x] += (double)row_in[x] - (double)row_out[x];            \
        }                                                                       \
        /* border columns of the column sums, by the border mode */            \
        for (x = -pl; x < 0; x++) {                                             \
            const ptrdiff_t m = fk_map_index(x, W, p->mode);                    \
            colsum[x] = m < 0 ? (double)kh * (double)cval : colsum[m];          \
        }                                                                       \
        for (x = W; x < padw - pl; x++) {                                       \
            const ptrdiff_t m = fk_map_index(x, W, p->mode);                    \
            colsum[x] = m < 0 ? (double)kh * (double)cval : colsum[m];          \
        }                                                                       \
        fk_box_prefix(P, padw, S);                                              \
        {                                                                       \
            T *out = direct_out ? (T *)(p->dst + y * p->ds0) : obuf;            \
            for (x = 0; x < Wo; x++) out[x] = (T)((S[x + kw] - S[x]) * scale);  \
            if (!direct_out) store(obuf, Wo, p->dst + y * p->ds0, p->ds1);      \
        }                                                                       \
    }                                                                           \
}

FK_DEFINE_BOX_RUN(fk_box_run_f, float, f, fk_loader_f, fk_storer_f, FK_F32)
FK_DEFINE_BOX_RUN(fk_box_run_d, double, d, fk_loader_d, fk_storer_d, FK_F64)

#endif /* FK_BOX_H */

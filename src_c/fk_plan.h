/*
 * fk_plan.h -- the row-block driver of filterkit's 2-D correlation.
 *
 * A plan describes one 2-D correlation of a strided source of any dtype
 * into a strided destination of any dtype.  fk_run_{f,d} computes the
 * output rows [y0, y1) with a per-thread workspace; the Cython layer
 * splits the rows among OpenMP threads and allocates the workspaces.
 *
 * Borders never need a padded copy of the image: each thread keeps a ring
 * of kh rows of a column strip, converted to the compute type and padded
 * horizontally by the border mode, and loads one new row per output row.
 * Rows and columns outside the image are mapped by the same border rule
 * (or filled with cval).
 */
#ifndef FK_PLAN_H
#define FK_PLAN_H

#include <stdlib.h>
#include "fk_kernels.h"

typedef struct {
    /* source: H x W elements of dtype src_code, byte strides ss0 (rows), ss1 */
    const char *src;
    ptrdiff_t H, W, ss0, ss1;
    int src_code;
    /* destination: Ho x Wo elements of dtype dst_code, byte strides ds0, ds1 */
    char *dst;
    ptrdiff_t Ho, Wo, ds0, ds1;
    int dst_code;
    /* correlation mask kh x kw (C order, compute type), or its two factors */
    int kh, kw;
    const void *k;   /* kh*kw weights, used when col == NULL          */
    const void *col; /* kh weights of the vertical pass (separable)   */
    const void *row; /* kw weights of the horizontal pass (separable) */
    /* geometry: output row y reads virtual source rows y - oy + a (a < kh);
     * padded rows hold pl virtual columns before the image and pr after */
    ptrdiff_t oy, pl, pr;
    int mode;
    double cval;
    int force_portable; /* 1: never use the AVX2 kernels */
} fk_plan;

/* Output columns are processed in strips of sw pixels so that the ring of
 * kh padded rows stays in the first-level cache.  A strip's rows hold the
 * virtual columns [x0 - pl, x1 - pl + kw - 1). */
static inline ptrdiff_t fk_rowlen(const fk_plan *p, ptrdiff_t sw)
{
    return sw + p->kw - 1 + FK_SLACK;
}

/* the row-pointer array at the start of a workspace, rounded to 64 bytes */
static inline size_t fk_rows_bytes(const fk_plan *p)
{
    return ((sizeof(void *) * (size_t)p->kh + 63) / 64) * 64;
}

/* bytes of one thread's workspace: row pointers, ring, separable tmp, obuf,
 * and a row of cval for the strips that read the source in place */
static inline size_t fk_workspace_bytes(const fk_plan *p, ptrdiff_t sw, size_t elem)
{
    size_t rl = (size_t)fk_rowlen(p, sw);
    return fk_rows_bytes(p) + elem * ((size_t)p->kh * rl + rl + (size_t)sw + FK_SLACK
                                      + (size_t)(p->Wo + p->kw + FK_SLACK));
}

/* Strip width: the ring (kh rows) should fit in about FK_RING_BYTES (the
 * second-level cache); strips much narrower than a row defeat the hardware
 * prefetcher on the source rows, so they are rare and never
 * narrower than FK_MIN_STRIP pixels (the halo of kw - 1 columns is loaded
 * once per strip), and a multiple of 64 pixels (whole kernel blocks). */
#define FK_RING_BYTES (256 * 1024)
#define FK_MIN_STRIP 1024
static inline ptrdiff_t fk_strip_width(const fk_plan *p, size_t elem)
{
    ptrdiff_t sw = (ptrdiff_t)(FK_RING_BYTES / (elem * (size_t)p->kh)) - (p->kw - 1);
    if (sw < FK_MIN_STRIP) sw = FK_MIN_STRIP;
    sw = (sw / 64) * 64;
    /* spread the columns evenly over the strips */
    {
        ptrdiff_t nstrips = (p->Wo + sw - 1) / sw;
        sw = (p->Wo + nstrips - 1) / nstrips;
        sw = ((sw + 63) / 64) * 64;
    }
    return sw < p->Wo ? sw : p->Wo;
}

/* Split [a, b) into near-equal strips of at most sw columns. */
static ptrdiff_t fk_split(ptrdiff_t a, ptrdiff_t b, ptrdiff_t sw, ptrdiff_t *bounds,
                          unsigned char *inplace, ptrdiff_t ns)
{
    ptrdiff_t k, m;
    if (b <= a) return ns;
    m = (b - a + sw - 1) / sw;
    for (k = 0; k < m; k++) {
        inplace[ns] = 0;
        bounds[ns++] = a + ((b - a) * k) / m;
    }
    bounds[ns] = b;
    return ns;
}

/* Upper bound of the number of strips fk_plan_strips makes. */
static inline ptrdiff_t fk_max_strips(const fk_plan *p)
{
    return p->Wo / FK_MIN_STRIP + 4;
}

/*
 * The column strips of a plan: strip i covers output columns
 * [bounds[i], bounds[i + 1]).  When the source already has the compute
 * type and contiguous rows, the interior strip reads the source rows in
 * place (inplace[i] = 1): no copy at all, only the border columns go
 * through the ring.  Its width is a multiple of 64 so that the kernel's
 * block reads never leave the row.  *ring_sw gets the widest ring strip.
 */
static ptrdiff_t fk_plan_strips(const fk_plan *p, size_t elem, ptrdiff_t *bounds,
                                unsigned char *inplace, ptrdiff_t *ring_sw)
{
    const int own = elem == sizeof(float) ? FK_F32 : FK_F64;
    const ptrdiff_t sw = fk_strip_width(p, elem);
    ptrdiff_t ns = 0, nmid = 0, xl = p->pl, k, widest = 0;
    if (p->src_code == own && p->ss1 == (ptrdiff_t)elem && p->W >= p->kw)
        nmid = ((p->W - p->kw + 1) / 64) * 64;
    if (nmid > 0) {
        ns = fk_split(0, xl, sw, bounds, inplace, ns);
        inplace[ns] = 1;
        bounds[ns++] = xl;
        bounds[ns] = xl + nmid;
        ns = fk_split(xl + nmid, p->Wo, sw, bounds, inplace, ns);
    } else {
        ns = fk_split(0, p->Wo, sw, bounds, inplace, ns);
    }
    for (k = 0; k < ns; k++)
        if (!inplace[k] && bounds[k + 1] - bounds[k] > widest)
            widest = bounds[k + 1] - bounds[k];
    *ring_sw = widest > 0 ? widest : 1;
    return ns;
}

/* Load virtual row v (virtual columns [c0, c1)) into slot[0 .. c1 - c0). */
#define FK_DEFINE_LOAD_VROW(NAME, T, SUF, LOADER)                               \
static void NAME(const fk_plan *p, ptrdiff_t v, ptrdiff_t c0, ptrdiff_t c1,     \
                 T *slot)                                                       \
{                                                                               \
    const fk_load_##SUF##_t load = LOADER(p->src_code);                         \
    const ptrdiff_t s = fk_map_index(v, p->H, p->mode);                         \
    const T cval = (T)p->cval;                                                  \
    const char *srow;                                                           \
    ptrdiff_t c, in0, in1;                                                      \
    if (s < 0) {                                                                \
        for (c = c0; c < c1; c++) slot[c - c0] = cval;                          \
        return;                                                                 \
    }                                                                           \
    srow = p->src + s * p->ss0;                                                 \
    in0 = c0 > 0 ? c0 : 0;                                                      \
    in1 = c1 < p->W ? c1 : p->W;                                                \
    if (in1 > in0) load(srow + in0 * p->ss1, p->ss1, in1 - in0, slot + (in0 - c0)); \
    for (c = c0; c < c1; c++) {                                                 \
        ptrdiff_t m;                                                            \
        if (c >= in0 && c < in1) { c = in1 - 1; continue; }                     \
        m = fk_map_index(c, p->W, p->mode);                                     \
        if (m < 0) slot[c - c0] = cval;                                         \
        else load(srow + m * p->ss1, p->ss1, 1, slot + (c - c0));               \
    }                                                                           \
}
FK_DEFINE_LOAD_VROW(fk_load_vrow_f, float, f, fk_loader_f)
FK_DEFINE_LOAD_VROW(fk_load_vrow_d, double, d, fk_loader_d)

/* Compute output rows [y0, y1), columns [x0, x1). */
#define FK_DEFINE_RUN(NAME, T, SUF, STORER, LOADROW, CORR, OWN_CODE)            \
static void NAME(const fk_plan *p, void *ws, ptrdiff_t sw, ptrdiff_t y0,        \
                 ptrdiff_t y1, ptrdiff_t x0, ptrdiff_t x1, int inplace)         \
{                                                                               \
    const ptrdiff_t rl = fk_rowlen(p, sw);                                      \
    const ptrdiff_t n = x1 - x0;                                                \
    const ptrdiff_t c0 = x0 - p->pl, c1 = x1 - p->pl + p->kw - 1;               \
    const int kh = p->kh;                                                       \
    const T **rows = (const T **)ws;                                            \
    T *ring = (T *)((char *)ws + fk_rows_bytes(p));                             \
    T *tmp = ring + (ptrdiff_t)kh * rl;                                         \
    T *obuf = tmp + rl;                                                         \
    T *cvrow = obuf + sw + FK_SLACK;                                            \
    const fk_store_##SUF##_t store = STORER(p->dst_code);                       \
    const fk_corr_##SUF##_t corr = CORR(p->force_portable);                     \
    const int direct_out = (p->dst_code == OWN_CODE) &&                         \
                           (p->ds1 == (ptrdiff_t)sizeof(T));                    \
    const T *pf;                                                                \
    ptrdiff_t y, a;                                                             \
    for (y = y0; y < y1; y++) {                                                 \
        const ptrdiff_t vfirst = y - p->oy;                                     \
        char *drow = p->dst + y * p->ds0 + x0 * p->ds1;                         \
        T *out = direct_out ? (T *)drow : obuf;                                 \
        pf = NULL;                                                              \
        if (inplace) {                                                          \
            /* rows straight from the source (mapped by the border mode) */     \
            if (y == y0)                                                        \
                for (a = 0; a < c1 - c0 + FK_SLACK; a++) cvrow[a] = (T)p->cval; \
            for (a = 0; a <= kh; a++) {                                         \
                const ptrdiff_t s = fk_map_index(vfirst + a, p->H, p->mode);    \
                const T *r = s < 0 ? cvrow : (const T *)(p->src + s * p->ss0) + c0; \
                if (a < kh) rows[a] = r;                                        \
                else if (y + 1 < y1 && s >= 0) pf = r;                          \
            }                                                                   \
        } else {                                                                \
            /* load the rows this output row needs and the previous did not */  \
            for (a = (y == y0 ? 0 : kh - 1); a < kh; a++)                       \
                LOADROW(p, vfirst + a, c0, c1, ring + fk_pmod(vfirst + a, kh) * rl); \
            for (a = 0; a < kh; a++)                                            \
                rows[a] = ring + fk_pmod(vfirst + a, kh) * rl;                  \
        }                                                                       \
        if (p->col != NULL) {                                                   \
            const T *tp = tmp;                                                  \
            corr(tmp, rows, (const T *)p->col, kh, 1, c1 - c0, pf);                 \
            corr(out, &tp, (const T *)p->row, 1, p->kw, n, NULL);                 \
        } else {                                                                \
            corr(out, rows, (const T *)p->k, kh, p->kw, n, pf);                 \
        }                                                                       \
        if (!direct_out) store(obuf, n, drow, p->ds1);                          \
    }                                                                           \
}

FK_DEFINE_RUN(fk_run_f, float, f, fk_storer_f, fk_load_vrow_f, fk_corr_f, FK_F32)
FK_DEFINE_RUN(fk_run_d, double, d, fk_storer_d, fk_load_vrow_d, fk_corr_d, FK_F64)

#endif /* FK_PLAN_H */

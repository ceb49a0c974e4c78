/*
 * fk_plan.h -- the row-block driver of filterkit's 2-D correlation.
 *
 * A plan describes one 2-D correlation of a strided source of any dtype
 * into a strided destination of any dtype.  fk_run_{f,d} computes the
 * output rows [y0, y1) with a per-thread workspace; the Cython layer
 * splits the rows among OpenMP threads and allocates the workspaces.
 *
 * Borders never need a padded copy of the image.  Each output row is
 * computed in up to three column strips, left to right:
 *   - when the source already has the compute type and contiguous rows, the
 *     interior strip reads the source rows in place (rows above and below
 *     the image are mapped by the border rule, or point to a row of cval):
 *     no copy at all, and the next source row is prefetched meanwhile;
 *   - the border columns (or the whole row for other sources) go through a
 *     ring of kh rows per strip, converted to the compute type and padded
 *     by the border mode; one new row is loaded per output row.
 * Strips are visited row by row, so the source and the output are streamed
 * once, in order.
 */
#ifndef FK_PLAN_H
#define FK_PLAN_H

#include <stdlib.h>
#include "fk_kernels.h"

#define FK_MAX_STRIPS 3

enum { FK_PLAIN = 0, FK_MAGNITUDE = 1, FK_GRADIENT = 2 };

struct fk_plan_s;
/* a row-range driver: computes output rows [y0, y1) with one workspace */
typedef void (*fk_run_t)(const struct fk_plan_s *p, void *ws, ptrdiff_t y0, ptrdiff_t y1);

typedef struct fk_plan_s {
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
     * output column x reads virtual source columns x - pl + b (b < kw) */
    ptrdiff_t oy, pl;
    int mode;
    double cval;
    int cpu_cap; /* FK_CAP_*: the best kernels allowed (FILTERKIT_CPU) */
    /* the box filter's weight: every output is the window's sum times it
     * (1 / (kh kw) for the mean) */
    double box_weight;
    /* a second kh x kw mask (k2, or col2 and row2 when the first is given
     * as factors), and how the two results a, b are combined: FK_PLAIN (a to
     * dst), FK_MAGNITUDE (sqrt(a^2 + b^2) to dst) or FK_GRADIENT (the
     * magnitude to dst, atan2(b, a) to dst2) */
    const void *k2;
    const void *col2;
    const void *row2;
    int combine;
    char *dst2;
    ptrdiff_t d2s0, d2s1;
    int dst2_code;

    /* derived by fk_plan_init: the column strips [xb[i], xb[i + 1]) */
    int nstrips;
    ptrdiff_t xb[FK_MAX_STRIPS + 1];
    int inplace[FK_MAX_STRIPS];
    size_t ring_off[FK_MAX_STRIPS]; /* element offsets of the rings */
    ptrdiff_t rl[FK_MAX_STRIPS];    /* ring row length (elements)   */
    size_t tmp_off, obuf_off, obuf2_off, cvrow_off, ws_elems;
    size_t elem;
} fk_plan;

/* the row-pointer array at the start of a workspace, rounded to 64 bytes */
static inline size_t fk_rows_bytes(const fk_plan *p)
{
    return ((sizeof(void *) * (size_t)(p->kh + 1) + 63) / 64) * 64;
}

/* bytes of one thread's workspace (after fk_plan_init) */
static inline size_t fk_workspace_bytes(const fk_plan *p)
{
    return fk_rows_bytes(p) + p->elem * p->ws_elems;
}

static void fk_add_strip(fk_plan *p, ptrdiff_t x0, ptrdiff_t x1, int inplace)
{
    if (x1 <= x0) return;
    p->inplace[p->nstrips] = inplace;
    p->xb[p->nstrips] = x0;
    p->xb[++p->nstrips] = x1;
}

/* Split the columns into strips and lay out the workspace. */
static void fk_plan_init(fk_plan *p, size_t elem)
{
    const int own = elem == sizeof(float) ? FK_F32 : FK_F64;
    ptrdiff_t nmid = 0;
    size_t off = 0;
    int i;
    p->elem = elem;
    p->nstrips = 0;
    /* The in-place strip is a multiple of 64 columns wide so that the
     * kernel's block reads (8 vectors past each start) never leave the row. */
    if (p->src_code == own && p->ss1 == (ptrdiff_t)elem && p->W >= p->kw)
        nmid = ((p->W - p->kw + 1) / 64) * 64;
    if (nmid > 0) {
        fk_add_strip(p, 0, p->pl, 0);
        fk_add_strip(p, p->pl, p->pl + nmid, 1);
        fk_add_strip(p, p->pl + nmid, p->Wo, 0);
    } else {
        fk_add_strip(p, 0, p->Wo, 0);
    }
    for (i = 0; i < p->nstrips; i++) {
        p->rl[i] = p->xb[i + 1] - p->xb[i] + p->kw - 1 + FK_SLACK;
        p->ring_off[i] = off;
        if (!p->inplace[i]) off += (size_t)(p->kh + 1) * (size_t)p->rl[i];
    }
    /* two rows of tmp and of obuf: output rows are computed in pairs */
    p->tmp_off = off;
    off += 2 * (size_t)(p->Wo + p->kw - 1 + FK_SLACK);
    p->obuf_off = off;
    off += 2 * (size_t)(p->Wo + FK_SLACK);
    p->obuf2_off = off;
    if (p->combine != FK_PLAIN) off += 2 * (size_t)(p->Wo + FK_SLACK);
    p->cvrow_off = off;
    off += (size_t)(p->Wo + p->kw - 1 + FK_SLACK);
    p->ws_elems = off;
}

/* Load virtual row v (virtual columns [c0, c1)) into slot[0 .. c1 - c0). */
#define FK_DEFINE_LOAD_VROW(NAME, T, SUF, LOADER)                               \
static void NAME(const fk_plan *p, ptrdiff_t v, ptrdiff_t c0, ptrdiff_t c1,     \
                 T *slot)                                                       \
{                                                                               \
    const fk_load_##SUF##_t load = LOADER(p->src_code, p->cpu_cap);                         \
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

/* +1 when k[b] == k[n - 1 - b] for all b, -1 when k[b] == -k[n - 1 - b]
 * (centre 0), 0 otherwise or for n < 3 */
#define FK_DEFINE_SYMMETRY(NAME, T)                                             \
static int NAME(const T *k, int n)                                              \
{                                                                               \
    int b, sym = 1, anti = 1;                                                   \
    if (n < 3) return 0;                                                        \
    for (b = 0; b < n; b++) {                                                   \
        if (k[b] != k[n - 1 - b]) sym = 0;                                      \
        if (k[b] != -k[n - 1 - b]) anti = 0;                                    \
    }                                                                           \
    return sym ? 1 : (anti ? -1 : 0);                                           \
}
FK_DEFINE_SYMMETRY(fk_symmetry_f, float)
FK_DEFINE_SYMMETRY(fk_symmetry_d, double)

/* One separable mask (COL vertical, ROW horizontal) on the R rows of the
 * current step: the vertical pass into tmp, then the horizontal pass into
 * O0 (and O1); (anti)symmetric rows add or subtract mirrored taps first,
 * so an antisymmetric row gives exactly 0 on a flat image. */
#define FK_SEPARABLE_PASS(T, COL, ROW, SYM, O0, O1, PF0, PF1)                  \
    do {                                                                        \
        const T *t0_ = tmp, *t1_ = tmp + tmplen;                                \
        const T *kr_ = (const T *)(ROW);                                        \
        int a_;                                                                 \
        if (R == 2)                                                             \
            corr2(tmp, tmp + tmplen, rows, (const T *)(COL), kh, 1, c1 - c0, PF0, PF1); \
        else                                                                    \
            corr(tmp, rows, (const T *)(COL), kh, 1, c1 - c0, PF0);             \
        for (a_ = 0; a_ < R; a_++) {                                            \
            T *o_ = a_ == 0 ? (O0) : (O1);                                      \
            if ((SYM) != 0) corrsym(o_, a_ == 0 ? t0_ : t1_, kr_, p->kw, SYM, n); \
            else corr(o_, a_ == 0 ? &t0_ : &t1_, kr_, 1, p->kw, n, NULL);       \
        }                                                                       \
    } while (0)

/* The R rows of the current step with mask K (direct): its fixed 3 x 3
 * kernel K33 when it has one, else two rows at once or one row. */
#define FK_DIRECT_ROWS(T, K33, K, O0, O1, PF0, PF1)                              \
    do {                                                                        \
        if ((K33) != NULL) {                                                    \
            (K33)(O0, rows, (const T *)(K), n, PF0);                            \
            if (R == 2) (K33)(O1, rows + 1, (const T *)(K), n, PF1);            \
        } else if (R == 2) {                                                    \
            corr2(O0, O1, rows, (const T *)(K), kh, p->kw, n, PF0, PF1);        \
        } else {                                                                \
            corr(O0, rows, (const T *)(K), kh, p->kw, n, PF0);                  \
        }                                                                       \
    } while (0)

/* The fixed 3 x 3 kernel for mask k, if its non-zero taps are exactly one
 * of the patterns that have one (every tap, or the cross), else NULL (the
 * general kernels, which skip zero weights). */
#define FK_DEFINE_PICK33(NAME, T, SUF)                                          \
static fk_corr33_##SUF##_t NAME(const T *k, int kh, int kw, int cpu_cap)        \
{                                                                               \
    int i, pat = 0;                                                             \
    if (k == NULL || kh != 3 || kw != 3) return NULL;                           \
    for (i = 0; i < 9; i++) if (k[i] != (T)0) pat |= 1 << i;                    \
    if (pat == FK_PAT_FULL) return fk_corr33_##SUF(cpu_cap);                    \
    if (pat == FK_PAT_CROSS) return fk_corrx3_##SUF(cpu_cap);                   \
    return NULL;                                                                \
}
FK_DEFINE_PICK33(fk_pick33_f, float, f)
FK_DEFINE_PICK33(fk_pick33_d, double, d)

/* Compute output rows [y0, y1), all columns, two rows at a time where
 * the mask is taller than one row (each source row is then read once for
 * both); ring strips hold kh + 1 rows. */
#define FK_DEFINE_RUN(NAME, T, SUF, STORER, LOADROW, CORR, CORR2, CORRSYM, COMBINE, OWN_CODE) \
static void NAME(const fk_plan *p, void *ws, ptrdiff_t y0, ptrdiff_t y1)       \
{                                                                               \
    const int kh = p->kh;                                                       \
    const ptrdiff_t nring = kh + 1;                                             \
    const ptrdiff_t tmplen = p->Wo + p->kw - 1 + FK_SLACK;                      \
    const T **rows = (const T **)ws;                                            \
    T *base = (T *)((char *)ws + fk_rows_bytes(p));                             \
    T *tmp = base + p->tmp_off;                                                 \
    T *obuf = base + p->obuf_off;                                               \
    T *obuf2 = base + p->obuf2_off;                                             \
    const ptrdiff_t ol = p->Wo + FK_SLACK;                                      \
    T *cvrow = base + p->cvrow_off;                                             \
    const fk_store_##SUF##_t store = STORER(p->dst_code, p->cpu_cap);                       \
    const fk_corr_##SUF##_t corr = CORR(p->cpu_cap);                     \
    const fk_corr2_##SUF##_t corr2 = CORR2(p->cpu_cap);                  \
    const fk_corr_sym_##SUF##_t corrsym = CORRSYM(p->cpu_cap);           \
    /* fixed 3 x 3 kernels for the masks (NULL: the general ones) */          \
    const fk_corr33_##SUF##_t corr33 = p->col != NULL ? NULL                    \
        : fk_pick33_##SUF((const T *)p->k, kh, p->kw, p->cpu_cap);              \
    const fk_corr33_##SUF##_t corr33b = p->col != NULL ? NULL                   \
        : fk_pick33_##SUF((const T *)p->k2, kh, p->kw, p->cpu_cap);             \
    /* +1 / -1 when the separable row factor is (anti)symmetric, else 0 */     \
    const int rowsym = p->row == NULL ? 0 : fk_symmetry_##SUF((const T *)p->row, p->kw); \
    const int rowsym2 = p->row2 == NULL ? 0 : fk_symmetry_##SUF((const T *)p->row2, p->kw); \
    const fk_combine_##SUF##_t combine = COMBINE(p->cpu_cap);            \
    const int direct_s = (p->dst_code == OWN_CODE) && (p->ds1 == (ptrdiff_t)sizeof(T)); \
    const int direct_d = p->combine == FK_GRADIENT && (p->dst2_code == OWN_CODE) && \
                         (p->d2s1 == (ptrdiff_t)sizeof(T));                     \
    const int direct_out = p->combine == FK_PLAIN && direct_s;                  \
    ptrdiff_t y, a, vnext = y0 - p->oy;                                         \
    int i, R;                                                                   \
    for (a = 0; a < p->Wo + p->kw - 1 + FK_SLACK; a++) cvrow[a] = (T)p->cval;   \
    for (y = y0; y < y1; y += R) {                                              \
        const ptrdiff_t vfirst = y - p->oy;                                     \
        ptrdiff_t vend, vload;                                                  \
        char *drow0 = p->dst + y * p->ds0;                                      \
        char *drow1;                                                            \
        R = (y + 1 < y1 && kh > 1) ? 2 : 1;                                     \
        drow1 = drow0 + p->ds0;                                                 \
        vend = vfirst + kh + R - 1;           /* rows [vfirst, vend) needed */  \
        vload = vend - vnext < nring ? vnext : vend - nring;                    \
        for (i = 0; i < p->nstrips; i++) {                                      \
            const ptrdiff_t x0 = p->xb[i], n = p->xb[i + 1] - x0;               \
            const ptrdiff_t c0 = x0 - p->pl, c1 = c0 + n + p->kw - 1;           \
            T *out0 = direct_out ? (T *)(drow0 + x0 * p->ds1) : obuf + x0;      \
            T *out1 = direct_out ? (T *)(drow1 + x0 * p->ds1) : obuf + ol + x0; \
            const T *pf[2] = {NULL, NULL};                                      \
            if (p->inplace[i]) {                                                \
                /* rows straight from the source, mapped by the border mode */  \
                for (a = 0; a < kh + R - 1 + R; a++) {                          \
                    const ptrdiff_t s = fk_map_index(vfirst + a, p->H, p->mode); \
                    const T *r = s < 0 ? cvrow : (const T *)(p->src + s * p->ss0) + c0; \
                    if (a < kh + R - 1) rows[a] = r;                            \
                    else if (y + R < y1 && s >= 0) pf[a - (kh + R - 1)] = r;    \
                }                                                               \
            } else {                                                            \
                T *ring = base + p->ring_off[i];                                \
                const ptrdiff_t rl = p->rl[i];                                  \
                ptrdiff_t v;                                                    \
                for (v = vload; v < vend; v++)                                  \
                    LOADROW(p, v, c0, c1, ring + fk_pmod(v, nring) * rl);       \
                for (a = 0; a < kh + R - 1; a++)                                \
                    rows[a] = ring + fk_pmod(vfirst + a, nring) * rl;           \
            }                                                                   \
            if (p->col != NULL) {                                               \
                FK_SEPARABLE_PASS(T, p->col, p->row, rowsym, out0, out1, pf[0], pf[1]); \
                if (p->combine != FK_PLAIN)                                     \
                    FK_SEPARABLE_PASS(T, p->col2, p->row2, rowsym2, obuf2 + x0, \
                                      obuf2 + ol + x0, NULL, NULL);             \
            } else {                                                            \
                FK_DIRECT_ROWS(T, corr33, p->k, out0, out1, pf[0], pf[1]);         \
                if (p->combine != FK_PLAIN)                                     \
                    FK_DIRECT_ROWS(T, corr33b, p->k2, obuf2 + x0, obuf2 + ol + x0, NULL, NULL); \
            }                                                                   \
        }                                                                       \
        vnext = vend;                                                           \
        if (!direct_out) {                                                      \
            int q;                                                              \
            for (q = 0; q < R; q++) {                                           \
                T *a_ = obuf + q * ol, *b_ = obuf2 + q * ol;                    \
                char *srow = drow0 + q * p->ds0;                                \
                char *drow = p->dst2 + (y + q) * p->d2s0;                       \
                T *s_ = a_, *d_ = b_;                                           \
                if (p->combine != FK_PLAIN) {                                   \
                    /* combined results go straight to rows of the compute   \
                     * type, else through the row buffers and a conversion */ \
                    if (direct_s) s_ = (T *)srow;                               \
                    if (direct_d) d_ = (T *)drow;                               \
                    combine(a_, b_, p->Wo, p->combine == FK_GRADIENT, s_, d_);  \
                }                                                               \
                if (s_ == a_) store(a_, p->Wo, srow, p->ds1);                   \
                if (p->combine == FK_GRADIENT && d_ == b_)                      \
                    STORER(p->dst2_code, p->cpu_cap)(b_, p->Wo, drow, p->d2s1);             \
            }                                                                   \
        }                                                                       \
    }                                                                           \
}

FK_DEFINE_RUN(fk_run_f, float, f, fk_storer_f, fk_load_vrow_f, fk_corr_f, fk_corr2_f,
              fk_corr_sym_f, fk_combine_f, FK_F32)
FK_DEFINE_RUN(fk_run_d, double, d, fk_storer_d, fk_load_vrow_d, fk_corr_d, fk_corr2_d,
              fk_corr_sym_d, fk_combine_d, FK_F64)

#endif /* FK_PLAN_H */

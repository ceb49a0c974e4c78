/*
 * fk_corr_run.h -- the row driver of correlation and fused Sobel jobs
 * (included by fk_impl.h once per compute type T).
 *
 * Output rows are computed two at a time where the mask is taller than one
 * row (each source row is then read once for both), each in the column
 * strips of fk_strips (fk_core.h): an interior strip that reads the source
 * rows in place, the next source row prefetched meanwhile, and border
 * strips whose rows go through a ring of kh + 1 converted, padded rows (one
 * new row loaded per output row).  Strips are visited row by row, so the
 * source and the output are streamed once, in order.
 */

/* one mask as the driver uses it */
typedef struct {
    const T *k, *col, *row;  /* k, or the factors col (vertical) and row */
    FK_FN(corr33_t) k33;     /* k's fixed 3 x 3 kernel, or NULL */
    int rowsym;              /* +1 / -1 when row is (anti)symmetric, else 0 */
} FK_FN(mask);

/* +1 when k[b] == k[n - 1 - b] for all b, -1 when k[b] == -k[n - 1 - b]
 * (centre 0), 0 otherwise or for n < 3 */
static int FK_FN(symmetry)(const T *k, int n)
{
    int b, sym = 1, anti = 1;
    if (n < 3) return 0;
    for (b = 0; b < n; b++) {
        if (k[b] != k[n - 1 - b]) sym = 0;
        if (k[b] != -k[n - 1 - b]) anti = 0;
    }
    return sym ? 1 : (anti ? -1 : 0);
}

static FK_FN(mask) FK_FN(make_mask)(const T *k, const T *col, const T *row, int kh, int kw)
{
    FK_FN(mask) m;
    m.k = k;
    m.col = col;
    m.row = row;
    m.k33 = col != NULL ? NULL : FK_FN(pick33)(k, kh, kw);
    m.rowsym = row == NULL ? 0 : FK_FN(symmetry)(row, kw);
    return m;
}

/* fk_pad_row's loader for rows of T: ctx is the dtype's FK_FN(load_t) */
static void FK_FN(pad_load)(const void *ctx, const char *src, ptrdiff_t stride, ptrdiff_t n,
                            void *dst)
{
    (*(const FK_FN(load_t) *)ctx)(src, stride, n, (T *)dst);
}

/* One separable mask on the R rows of the current step: the vertical pass
 * over the strip's cn columns into tmp (rows tmplen apart), then the
 * horizontal pass over its n outputs into o0 (and o1); (anti)symmetric rows
 * add or subtract mirrored taps first, so an antisymmetric row gives
 * exactly 0 on a flat image. */
FK_INLINE void FK_FN(separable)(const FK_FN(mask) *m, int R, const T *const *rows, int kh,
                                int kw, int cs, T *tmp, ptrdiff_t tmplen, ptrdiff_t cn, ptrdiff_t n,
                                T *o0, T *o1, const T *pf0, const T *pf1)
{
    const T *t0 = tmp, *t1 = tmp + tmplen;
    int a;
    if (R == 2)
        FK_FN(corr2_vert)(tmp, tmp + tmplen, rows, m->col, kh, cn, pf0, pf1);
    else
        FK_FN(corr_vert)(tmp, rows, m->col, kh, cn, pf0);
    for (a = 0; a < R; a++) {
        T *o = a == 0 ? o0 : o1;
        if (m->rowsym != 0) FK_FN(corr_sym)(o, a == 0 ? t0 : t1, m->row, kw, cs, m->rowsym, n);
        else FK_FN(corr_rows)(o, a == 0 ? &t0 : &t1, m->row, 1, kw, cs, n, NULL);
    }
}

/* The R rows of the current step with the direct mask m: its fixed 3 x 3
 * kernel when it has one, else two rows at once or one row. */
FK_INLINE void FK_FN(direct)(const FK_FN(mask) *m, int R, const T *const *rows, int kh, int kw,
                             int cs, ptrdiff_t n, T *o0, T *o1, const T *pf0, const T *pf1)
{
    if (m->k33 != NULL) {
        m->k33(o0, rows, m->k, cs, n, pf0);
        if (R == 2) m->k33(o1, rows + 1, m->k, cs, n, pf1);
    } else if (R == 2) {
        FK_FN(corr2_rows)(o0, o1, rows, m->k, kh, kw, cs, n, pf0, pf1);
    } else {
        FK_FN(corr_rows)(o0, rows, m->k, kh, kw, cs, n, pf0);
    }
}

/* Store a row of n interleaved elements (pixels of C channels) with
 * `store`: to elements `es` bytes apart, or, when `cs` is not 0, to pixels
 * `es` bytes apart whose channels are `cs` bytes apart (planes), each
 * channel gathered into `tmp` first. */
static void FK_FN(store_row)(FK_FN(store_t) store, const T *src, ptrdiff_t n, int C, char *dst,
                             ptrdiff_t es, ptrdiff_t cs, T *tmp)
{
    ptrdiff_t i;
    int c;
    if (cs == 0) {
        store(src, n, dst, es);
        return;
    }
    for (c = 0; c < C; c++) {
        for (i = 0; i < n / C; i++) tmp[i] = src[i * C + c];
        store(tmp, n / C, dst + c * cs, es);
    }
}

/* Output rows [y0, y1) of the kh x kw mask m1 into g->dst; with a second
 * mask m2 (the Sobel job sj), sqrt(a^2 + b^2) of the two results a, b to
 * g->dst and, if sj->dir is not NULL, atan2(b, a) to sj->dir. */
static void FK_FN(run_rows)(const fk_geom *g, const fk_strips *st, int kh, int kw,
                            const FK_FN(mask) *m1, const FK_FN(mask) *m2, const fk_sobel_job *sj,
                            void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const ptrdiff_t nring = kh + 1;
    const int cs = g->C; /* the column step of the horizontal taps */
    const ptrdiff_t span = (ptrdiff_t)(kw - 1) * cs;
    const ptrdiff_t tmplen = g->Wo + span + FK_SLACK;
    const T **rows = (const T **)ws;
    T *base = (T *)((char *)ws + fk_rows_bytes(kh));
    T *tmp = base + st->tmp_off;
    T *obuf = base + st->obuf_off;
    T *obuf2 = base + st->obuf2_off;
    const ptrdiff_t ol = g->Wo + FK_SLACK;
    T *cvrow = base + st->cvrow_off;
    const FK_FN(load_t) load = FK_FN(loader)(g->src_code);
    const T cval = (T)g->cval;
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const int separable = m1->col != NULL;
    const int direction = sj != NULL && sj->dir != NULL;
    const int direct_s = g->dst_code == FK_OWN && g->ds1 == (ptrdiff_t)sizeof(T) && g->dsc == 0;
    const int direct_d = direction && sj->dir_code == FK_OWN && sj->dir_s1 == (ptrdiff_t)sizeof(T)
                         && sj->dir_sc == 0;
    /* a single mask with a destination of T writes its rows in place */
    const int direct_out = m2 == NULL && direct_s;
    ptrdiff_t y, a, vnext = y0 - g->oy;
    int i, R;
    for (a = 0; a < g->Wo + span + FK_SLACK; a++) cvrow[a] = (T)g->cval;
    for (y = y0; y < y1; y += R) {
        const ptrdiff_t vfirst = y - g->oy;
        ptrdiff_t vend, vload;
        char *drow0 = g->dst + y * g->ds0;
        char *drow1;
        R = (y + 1 < y1 && kh > 1) ? 2 : 1;
        drow1 = drow0 + g->ds0;
        vend = vfirst + kh + R - 1; /* rows [vfirst, vend) needed */
        vload = vend - vnext < nring ? vnext : vend - nring;
        for (i = 0; i < st->nstrips; i++) {
            const ptrdiff_t x0 = st->xb[i], n = st->xb[i + 1] - x0;
            const ptrdiff_t c0 = x0 - g->ox, c1 = c0 + n + span;
            T *out0 = direct_out ? (T *)(drow0 + x0 * g->ds1) : obuf + x0;
            T *out1 = direct_out ? (T *)(drow1 + x0 * g->ds1) : obuf + ol + x0;
            const T *pf[2] = {NULL, NULL};
            if (st->inplace[i]) {
                /* rows straight from the source, mapped by the border mode */
                for (a = 0; a < kh + R - 1 + R; a++) {
                    const ptrdiff_t s = fk_map_index(vfirst + a, g->H, g->mode);
                    const T *r = s < 0 ? cvrow : (const T *)(g->src + s * g->ss0) + c0;
                    if (a < kh + R - 1) rows[a] = r;
                    else if (y + R < y1 && s >= 0) pf[a - (kh + R - 1)] = r;
                }
            } else {
                T *ring = base + st->ring_off[i];
                const ptrdiff_t rl = st->rl[i];
                ptrdiff_t v;
                for (v = vload; v < vend; v++)
                    fk_pad_row(g, v, c0, c1, ring + fk_pmod(v, nring) * rl, sizeof(T),
                               FK_FN(pad_load), &load, &cval);
                for (a = 0; a < kh + R - 1; a++)
                    rows[a] = ring + fk_pmod(vfirst + a, nring) * rl;
            }
            if (separable) {
                FK_FN(separable)(m1, R, rows, kh, kw, cs, tmp, tmplen, c1 - c0, n, out0, out1,
                                 pf[0], pf[1]);
                if (m2 != NULL)
                    FK_FN(separable)(m2, R, rows, kh, kw, cs, tmp, tmplen, c1 - c0, n, obuf2 + x0,
                                     obuf2 + ol + x0, NULL, NULL);
            } else {
                FK_FN(direct)(m1, R, rows, kh, kw, cs, n, out0, out1, pf[0], pf[1]);
                if (m2 != NULL)
                    FK_FN(direct)(m2, R, rows, kh, kw, cs, n, obuf2 + x0, obuf2 + ol + x0, NULL,
                                  NULL);
            }
        }
        vnext = vend;
        if (!direct_out) {
            int q;
            for (q = 0; q < R; q++) {
                T *a_ = obuf + q * ol, *b_ = obuf2 + q * ol;
                char *srow = drow0 + q * g->ds0;
                char *drow = direction ? sj->dir + (y + q) * sj->dir_s0 : NULL;
                T *s_ = a_, *d_ = b_;
                if (m2 != NULL) {
                    /* combined results go straight to rows of the compute
                     * type, else through the row buffers and a conversion */
                    if (direct_s) s_ = (T *)srow;
                    if (direct_d) d_ = (T *)drow;
                    FK_FN(combine)(a_, b_, g->Wo, direction, s_, d_);
                }
                /* (tmp is free once the row's strips are done) */
                if (s_ == a_) FK_FN(store_row)(store, a_, g->Wo, g->C, srow, g->ds1, g->dsc, tmp);
                if (direction && d_ == b_)
                    FK_FN(store_row)(FK_FN(storer)(sj->dir_code), b_, g->Wo, g->C, drow,
                                     sj->dir_s1, sj->dir_sc, tmp);
            }
        }
    }
}

/* output rows [y0, y1) of an fk_corr_job */
static void FK_FN(corr_job)(const void *job_, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_corr_job *job = (const fk_corr_job *)job_;
    const FK_FN(mask) m = FK_FN(make_mask)((const T *)job->k, (const T *)job->col,
                                           (const T *)job->row, job->kh, job->kw);
    FK_FN(run_rows)(&job->g, &job->strips, job->kh, job->kw, &m, NULL, NULL, ws, y0, y1);
}

/* output rows [y0, y1) of an fk_sobel_job: f_x = [1 2 1]^T [-1 0 1],
 * f_y = [-1 0 1]^T [1 2 1] */
static void FK_FN(sobel_job)(const void *job_, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    static const T smooth[3] = {1, 2, 1}, diff[3] = {-1, 0, 1};
    const fk_sobel_job *job = (const fk_sobel_job *)job_;
    const FK_FN(mask) fx = FK_FN(make_mask)(NULL, smooth, diff, 3, 3);
    const FK_FN(mask) fy = FK_FN(make_mask)(NULL, diff, smooth, 3, 3);
    FK_FN(run_rows)(&job->g, &job->strips, 3, 3, &fx, &fy, job, ws, y0, y1);
}

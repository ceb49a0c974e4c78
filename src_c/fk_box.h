/*
 * fk_box.h -- box sums (the mean filter) in O(1) work per pixel (included
 * by fk_impl.h once per compute type T).
 *
 * Running sums: for every output row the column sums of the kh source rows
 * in the window are updated by adding the row that enters and subtracting
 * the row that leaves (float64 accumulators, so integer images sum exactly
 * and float images do not drift); the horizontal window sums are direct
 * sums up to FK_BOX_DIRECT_MAX columns and beyond that a running sum along
 * the row.  Neither step depends on the mask size.  Windows three rows
 * high, the commonest, take their column sums directly, two output rows at
 * a time.  Border rows are mapped by the border mode (or are rows of cval);
 * border columns of the column sums are mapped the same way, by pixel
 * (fk_map_col).  Rows of interleaved pixels (fk_geom.C > 1) need nothing
 * else of the column sums, which are per element; the horizontal windows
 * take every C-th of them.
 *
 * Each thread needs fk_box_workspace_bytes(job) bytes and computes output
 * rows [y0, y1); blocks of rows start at multiples of fk_box_restart(job).
 */

/* out[x] = scale * (P[x] + P[x + C] + ... + P[x + (k - 1) C]) for x < n
 * (C: channels per pixel, the taps of one channel are C apart); with a
 * constant k (box_hsum_any) the compiler vectorises it across the row */
FK_INLINE void FK_FN(box_hsum)(T *out, const double *P, ptrdiff_t n, double scale, int k,
                               ptrdiff_t C)
{
    ptrdiff_t x;
    for (x = 0; x < n; x++) {
        double acc = 0.0;
        int b;
        for (b = 0; b < k; b++) acc += P[x + b * C];
        out[x] = (T)(acc * scale);
    }
}

/* box_hsum for kw = 1 .. FK_BOX_DIRECT_MAX, a constant number of terms
 * (and for grey rows a constant stride) */
static void FK_FN(box_hsum_any)(T *out, const double *P, ptrdiff_t n, double scale, ptrdiff_t kw,
                                ptrdiff_t C)
{
#define FK_BOX_HSUM_CASES(c)                                         \
    switch (kw) {                                                   \
    case 1: FK_FN(box_hsum)(out, P, n, scale, 1, c); break;         \
    case 2: FK_FN(box_hsum)(out, P, n, scale, 2, c); break;         \
    case 3: FK_FN(box_hsum)(out, P, n, scale, 3, c); break;         \
    case 4: FK_FN(box_hsum)(out, P, n, scale, 4, c); break;         \
    case 5: FK_FN(box_hsum)(out, P, n, scale, 5, c); break;         \
    case 6: FK_FN(box_hsum)(out, P, n, scale, 6, c); break;         \
    case 7: FK_FN(box_hsum)(out, P, n, scale, 7, c); break;         \
    case 8: FK_FN(box_hsum)(out, P, n, scale, 8, c); break;         \
    default: FK_FN(box_hsum)(out, P, n, scale, 9, c); break;        \
    }
    if (C == 1) FK_BOX_HSUM_CASES(1)
    else FK_BOX_HSUM_CASES(C)
#undef FK_BOX_HSUM_CASES
}

/* out[x] = scale * (P[x] + ... + P[x + kw - 1]) for x in [from, to),
 * from >= 1, as a running sum along the row: *acc holds the window sum for
 * x = from - 1 and each step adds P[x + kw - 1] - P[x - 1].  The
 * differences of FK_BOX_NV outputs are summed in registers (a prefix of
 * shifted adds), then offset by the running sum.  No stored prefix sums,
 * so no second pass over the row; the chain of dependent adds is one per
 * FK_BOX_NV outputs, shorter than the rest of the work (unrolling it to one
 * per 4 FK_BOX_NV measured 15 % slower).  The order of additions depends
 * on from and to only.  A NaN or an infinity leaving the sum would leave
 * NaN behind: rows with one are summed directly (the caller checks). */
FK_INLINE void FK_FN(box_dscan)(T *out, const double *P, ptrdiff_t from, ptrdiff_t to,
                                double *acc, ptrdiff_t kw, double scale)
{
    fk_vsum run = (fk_vsum){0} + *acc;
    ptrdiff_t x = from;
    double last;
    for (; x + FK_BOX_NV <= to; x += FK_BOX_NV) {
        const fk_vsum d = FK_ISA_FN(prefix)(*(const fk_vsum *)(P + x - 1 + kw)
                                            - *(const fk_vsum *)(P + x - 1));
        *(FK_VSUM_T *)(out + x) = __builtin_convertvector((d + run) * scale, FK_VSUM_T);
        run += FK_ISA_FN(last)(d);
    }
    last = run[0];
    for (; x < to; x++) {
        last += P[x - 1 + kw] - P[x - 1];
        out[x] = (T)(last * scale);
    }
    *acc = last;
}

/* the border columns [from, to) of the column sums, by the border mode
 * (kh cval outside the image) */
static void FK_FN(box_pad)(double *colsum, ptrdiff_t from, ptrdiff_t to, ptrdiff_t W, int C,
                           int mode, double outside)
{
    ptrdiff_t c;
    for (c = from; c < to; c++) {
        const ptrdiff_t mi = fk_map_col(c, W, C, mode);
        colsum[c] = mi < 0 ? outside : colsum[mi];
    }
}

/* Three-row windows (kh == 3, kw <= FK_BOX_DIRECT_MAX), the commonest box:
 * two output rows per pass from four source rows, whose column sums share
 * the middle pair, (r1 + r2) + r0 and (r1 + r2) + r3, in float64 and with no
 * running state.  Pairs start at even offsets from y0 (even:
 * fk_box_restart), so every row is summed the same way whatever the split
 * among threads.  For kw == 3 the horizontal sums are taken in registers
 * from the column sums just computed (two shuffles instead of two unaligned
 * loads); the order of additions is that of box_hsum. */
static void FK_FN(box3_rows)(const fk_box_job *job, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_geom *g = &job->g;
    const ptrdiff_t W = g->W, Wo = g->Wo, kw = job->kw, pl = g->ox, C = g->C;
    const ptrdiff_t padw = Wo + (kw - 1) * C; /* padded columns (elements) */
    const double scale = job->weight;
    const T cval = (T)g->cval;
    T *rb = (T *)ws;
    double *P0 = (double *)(((size_t)(rb + 4 * (W + FK_SLACK)) + 63) & ~(size_t)63);
    double *P1 = P0 + padw + FK_SLACK;
    T *ob0 = (T *)(P1 + padw + FK_SLACK), *ob1 = ob0 + Wo + FK_SLACK;
    double *c0 = P0 + pl, *c1 = P1 + pl;
    const FK_FN(load_t) load = FK_FN(loader)(g->src_code);
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const int direct_src = g->src_code == FK_OWN && g->ss1 == (ptrdiff_t)sizeof(T);
    const int direct_out = g->dst_code == FK_OWN && g->ds1 == (ptrdiff_t)sizeof(T);
    ptrdiff_t y, x, a;
    for (x = 0; x < 2 * (padw + FK_SLACK); x++) P0[x] = 0.0;
    for (y = y0; y < y1; y += 2) {
        const int two = y + 1 < y1;
        const T *r[4];
        /* a lone last row is computed as the first of a pair whose second
         * row goes to a scratch buffer */
        T *restrict out0 = direct_out ? (T *)(g->dst + y * g->ds0) : ob0;
        T *restrict out1 = direct_out && two ? (T *)(g->dst + (y + 1) * g->ds0) : ob1;
        ptrdiff_t done = pl; /* interior outputs [pl, done) are computed */
        ptrdiff_t cdone = 0; /* column sums [0, cdone) are computed */
        for (a = 0; a < 4; a++) {
            const ptrdiff_t s = fk_map_index(y - g->oy + (a < 3 || two ? a : 2), g->H, g->mode);
            T *buf = rb + a * (W + FK_SLACK);
            if (s < 0) { for (x = 0; x < W; x++) buf[x] = cval; r[a] = buf; }
            else if (direct_src) r[a] = (const T *)(g->src + s * g->ss0);
            else { load(g->src + s * g->ss0, g->ss1, W, buf); r[a] = buf; }
        }
        if (kw == 3 && C == 1 && W >= 2 * FK_BOX_NV) {
            /* column sums and their row sums in registers */
            const T *restrict a0 = r[0], *restrict a1 = r[1];
            const T *restrict a2 = r[2], *restrict a3 = r[3];
            const ptrdiff_t C = (W - FK_BOX_NV) / FK_BOX_NV * FK_BOX_NV; /* last vector's column */
            fk_vsum m, v0, v1, n0, n1;
            FK_VSUM_T p0 = {0}, p1 = {0};
            ptrdiff_t c;
            m = FK_VSUM(a1) + FK_VSUM(a2);
            v0 = m + FK_VSUM(a0);
            v1 = m + FK_VSUM(a3);
            *(fk_vsum *)c0 = v0;
            *(fk_vsum *)c1 = v1;
            /* each vector of outputs is stored one step late, after the
             * next step's loads, which would otherwise wait for it when the
             * output row starts 16 bytes after the source row modulo 4 KiB
             * (4K aliasing: the loads overlap the store in their low 12
             * address bits), as for two arrays allocated one after the
             * other on glibc's heap (12-18 % of a 2048^2 float32 call) */
            for (c = 0; c < C; c += FK_BOX_NV) {
                m = FK_VSUM(a1 + c + FK_BOX_NV) + FK_VSUM(a2 + c + FK_BOX_NV);
                n0 = m + FK_VSUM(a0 + c + FK_BOX_NV);
                n1 = m + FK_VSUM(a3 + c + FK_BOX_NV);
                if (c > 0) {
                    *(FK_VSUM_T *)(out0 + c - FK_BOX_NV + pl) = p0;
                    *(FK_VSUM_T *)(out1 + c - FK_BOX_NV + pl) = p1;
                }
                p0 = __builtin_convertvector(
                    (v0 + FK_ISA_FN(sh1)(v0, n0) + FK_ISA_FN(sh2)(v0, n0)) * scale, FK_VSUM_T);
                p1 = __builtin_convertvector(
                    (v1 + FK_ISA_FN(sh1)(v1, n1) + FK_ISA_FN(sh2)(v1, n1)) * scale, FK_VSUM_T);
                v0 = n0;
                v1 = n1;
            }
            *(FK_VSUM_T *)(out0 + C - FK_BOX_NV + pl) = p0;
            *(FK_VSUM_T *)(out1 + C - FK_BOX_NV + pl) = p1;
            /* the column sums that the border outputs read: the first
             * vector (stored above) and the last */
            *(fk_vsum *)(c0 + C) = v0;
            *(fk_vsum *)(c1 + C) = v1;
            cdone = C + FK_BOX_NV;
            done = C + pl;
        }
        for (x = cdone; x < W; x += FK_BOX_CHUNK) {
            const ptrdiff_t ce = x + FK_BOX_CHUNK < W ? x + FK_BOX_CHUNK : W;
            const T *restrict a0 = r[0], *restrict a1 = r[1];
            const T *restrict a2 = r[2], *restrict a3 = r[3];
            double *restrict s0 = c0, *restrict s1 = c1;
            ptrdiff_t c, end = ce + pl - (kw - 1) * C; /* outputs needing < ce */
            for (c = x; c < ce; c++) {
                const double m = (double)a1[c] + (double)a2[c];
                s0[c] = m + (double)a0[c];
                s1[c] = m + (double)a3[c];
            }
            if (end > Wo) end = Wo;
            if (end > done) {
                FK_FN(box_hsum_any)(out0 + done, P0 + done, end - done, scale, kw, C);
                FK_FN(box_hsum_any)(out1 + done, P1 + done, end - done, scale, kw, C);
                done = end;
            }
        }
        /* border columns of the column sums, by the border mode */
        for (x = pl > 0 ? -pl : W; x < padw - pl; x = x == -1 ? W : x + 1) {
            const ptrdiff_t mi = fk_map_col(x, W, (int)C, g->mode);
            c0[x] = mi < 0 ? 3.0 * (double)cval : c0[mi];
            c1[x] = mi < 0 ? 3.0 * (double)cval : c1[mi];
        }
        {   /* the border outputs, which read padded columns */
            const ptrdiff_t left = pl < Wo ? pl : Wo;
            FK_FN(box_hsum_any)(out0, P0, left, scale, kw, C);
            FK_FN(box_hsum_any)(out1, P1, left, scale, kw, C);
            if (done < Wo) {
                FK_FN(box_hsum_any)(out0 + done, P0 + done, Wo - done, scale, kw, C);
                FK_FN(box_hsum_any)(out1 + done, P1 + done, Wo - done, scale, kw, C);
            }
        }
        if (!direct_out) {
            store(ob0, Wo, g->dst + y * g->ds0, g->ds1);
            if (two) store(ob1, Wo, g->dst + (y + 1) * g->ds0, g->ds1);
        }
    }
}

/* the column sums colsum[x0 .. x1) for output row y, from the kh source
 * rows (in order, so every way of reaching them rounds the same); rows not
 * of T with unit stride are converted through cbuf */
static void FK_FN(box_colsums)(const fk_box_job *job, double *colsum, ptrdiff_t y, ptrdiff_t x0,
                               ptrdiff_t x1, int direct_src, FK_FN(load_t) load, T *cbuf)
{
    const fk_geom *g = &job->g;
    const T cval = (T)g->cval;
    ptrdiff_t a, c;
    for (c = x0; c < x1; c++) colsum[c] = 0.0;
    for (a = 0; a < job->kh; a++) {
        const ptrdiff_t s = fk_map_index(y - g->oy + a, g->H, g->mode);
        if (s < 0) {
            for (c = x0; c < x1; c++) colsum[c] += (double)cval;
        } else if (direct_src) {
            const T *restrict r = (const T *)(g->src + s * g->ss0);
            for (c = x0; c < x1; c++) colsum[c] += (double)r[c];
        } else {
            load(g->src + s * g->ss0 + x0 * g->ss1, g->ss1, x1 - x0, cbuf);
            for (c = x0; c < x1; c++) colsum[c] += (double)cbuf[c - x0];
        }
    }
}

/* box_colsums for all W columns, chunk by chunk */
static void FK_FN(box_colsums_row)(const fk_box_job *job, double *colsum, ptrdiff_t y,
                                   int direct_src, FK_FN(load_t) load, T *cbuf)
{
    const ptrdiff_t W = job->g.W;
    ptrdiff_t x;
    for (x = 0; x < W; x += FK_BOX_CHUNK)
        FK_FN(box_colsums)(job, colsum, y, x, x + FK_BOX_CHUNK < W ? x + FK_BOX_CHUNK : W,
                           direct_src, load, cbuf);
}

/* the first output of a row, whose window sum starts the running sum */
FK_INLINE double FK_FN(box_first)(T *out, const double *P, ptrdiff_t kw, double scale)
{
    double a0 = 0.0;
    ptrdiff_t j;
    for (j = 0; j < kw; j++) a0 += P[j];
    out[0] = (T)(a0 * scale);
    return a0;
}

/* out[x] = scale * (P[x] + P[x + C] + ... + P[x + (kw - 1) C]) for x < n
 * with interleaved channels (C > 1): a running sum per channel, in scalar
 * steps (the vectors' in-register prefix of box_dscan is for C = 1).
 * Returns the sum of the running sums, which is finite unless one of them
 * met a NaN or an infinity (the caller then sums the row directly). */
static double FK_FN(box_scan_lanes)(T *out, const double *P, ptrdiff_t n, ptrdiff_t kw,
                                    ptrdiff_t C, double scale)
{
    double all = 0.0;
    ptrdiff_t c, x, b;
    for (c = 0; c < C && c < n; c++) {
        double acc = 0.0;
        for (b = 0; b < kw; b++) acc += P[c + b * C];
        out[c] = (T)(acc * scale);
        for (x = c + C; x < n; x += C) {
            acc += P[x + (kw - 1) * C] - P[x - C];
            out[x] = (T)(acc * scale);
        }
        all += acc * 0.0;
    }
    return all;
}

#if FK_X86_AVX2 && FK_IS_FLOAT
/* The 3 x 3 mean of a uint8 image into uint8 (the commonest blur of 8-bit
 * images) in 16-bit integers, 16 pixels a step: column sums of three rows,
 * their sums s of three columns (at most 2295), then round(s / 9) as
 * (2 s + 9) * 3641 >> 16, which is exact for every s (tested for all of
 * them).  s / 9 is never within 1/18 of a half, so this is what the float
 * path gives (s * (1/9) rounded half to even): the same bits, 2x faster.
 * Taken for uint8 in and out with contiguous rows, the weight 1/9 exactly
 * and an integral cval in [0, 255]; returns 0 otherwise. */
static int FK_ISA_FN(box3_u8)(const fk_box_job *job, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_geom *g = &job->g;
    const ptrdiff_t W = g->W, Wo = g->Wo, pl = g->ox, padw = Wo + job->kw - 1; /* C == 1 */
    uint16_t *V, *Vp;
    uint8_t *crow;
    ptrdiff_t y, c, x;
    int cv;
    if (g->src_code != FK_U8 || g->dst_code != FK_U8 || job->kh != 3 || job->kw != 3 || g->C != 1
        || g->ss1 != 1 || g->ds1 != 1 || job->weight != 1.0 / 9.0 || W < 1
        || (g->mode == FK_CONSTANT
            && !(g->cval >= 0.0 && g->cval <= 255.0 && g->cval == (double)(int)g->cval)))
        return 0;
    cv = g->mode == FK_CONSTANT ? (int)g->cval : 0;
    V = (uint16_t *)(((size_t)ws + 63) & ~(size_t)63);
    Vp = V + pl;                       /* Vp[c]: the column sum of column c */
    crow = (uint8_t *)(V + padw + 32); /* a row of cval */
    memset(crow, cv, (size_t)W);
    for (y = y0; y < y1; y++) {
        const uint8_t *r[3];
        uint8_t *out = (uint8_t *)(g->dst + y * g->ds0);
        int a;
        for (a = 0; a < 3; a++) {
            const ptrdiff_t s = fk_map_index(y - g->oy + a, g->H, g->mode);
            r[a] = s < 0 ? crow : (const uint8_t *)(g->src + s * g->ss0);
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
            const ptrdiff_t mi = fk_map_index(c, W, g->mode);
            if (c >= 0 && c < W) continue;
            Vp[c] = (uint16_t)(mi < 0 ? 3 * cv : Vp[mi]);
        }
        {
            const __m256i nine = _mm256_set1_epi16(9), magic = _mm256_set1_epi16(3641);
            for (x = 0; x + 16 <= Wo; x += 16) {
                const uint16_t *q = V + x; /* Vp[x - pl] */
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


/* output rows [y0, y1) of an fk_box_job */
static void FK_FN(box_job)(const void *job_, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_box_job *job = (const fk_box_job *)job_;
    const fk_geom *g = &job->g;
    const ptrdiff_t W = g->W, Wo = g->Wo, kh = job->kh, kw = job->kw, pl = g->ox, C = g->C;
    const ptrdiff_t padw = Wo + (kw - 1) * C; /* padded columns (elements) */
    const double scale = job->weight;
    const T cval = (T)g->cval;
    const double outside = (double)kh * (double)cval; /* a column sum outside the image */
    T *rin = (T *)ws;
    T *rout = rin + W + FK_SLACK;
    double *P = (double *)(((size_t)(rout + W + FK_SLACK) + 63) & ~(size_t)63);
    T *obuf = (T *)(P + padw + FK_SLACK);
    T *cbuf = obuf + Wo + FK_SLACK;  /* a chunk of a row, converted */
    double *colsum = P + pl;         /* column sums of the image columns */
    const FK_FN(load_t) load = FK_FN(loader)(g->src_code);
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const int direct_src = g->src_code == FK_OWN && g->ss1 == (ptrdiff_t)sizeof(T);
    const int direct_out = g->dst_code == FK_OWN && g->ds1 == (ptrdiff_t)sizeof(T);
    const int narrow = kw <= FK_BOX_DIRECT_MAX;
    const ptrdiff_t restart = fk_box_restart(job);
    /* narrow windows check the column sums they update for NaN or
     * infinity, which only floating-point sources (or cval) hold; wide ones
     * check the running sum along the row, which any of them reaches */
    const int check_cols = narrow && (g->src_code == FK_F32 || g->src_code == FK_F64
                                      || !(g->cval * 0.0 == 0.0));
    /* wide windows run along the row chunk by chunk when the left border
     * columns are known after the first chunk (not for 'wrap') */
    const int early = !narrow && C == 1 && g->mode != FK_WRAP && pl <= FK_BOX_CHUNK;
    ptrdiff_t y, x;
    const T *row_in = NULL, *row_out = NULL, *row_next = NULL;
#if FK_X86_AVX2 && FK_IS_FLOAT
    if (FK_ISA_FN(box3_u8)(job, ws, y0, y1)) return;
#endif
    if (kh == 3 && narrow) {
        FK_FN(box3_rows)(job, ws, y0, y1);
        return;
    }
    for (x = 0; x < padw + FK_SLACK; x++) P[x] = 0.0;
    for (y = y0; y < y1; y++) {
        T *restrict out = direct_out ? (T *)(g->dst + y * g->ds0) : obuf;
        ptrdiff_t done = pl; /* interior outputs [pl, done) are computed */
        double carry = 0.0;  /* the running window sum along the row */
        const int fresh = y == y0 || y % restart == 0;
        if (fresh) {
            /* column sums from scratch: at the start of a block of rows and
             * every fk_box_restart rows, so no rounding error accumulates
             * and every row is computed the same way however the rows are
             * split among threads (blocks start at multiples of it) */
            FK_FN(box_colsums_row)(job, colsum, y, direct_src, load, cbuf);
            row_next = NULL;
        } else {
            /* the window moves down one row: add the new, drop the old */
            const ptrdiff_t sn = fk_map_index(y - g->oy + kh - 1, g->H, g->mode);
            const ptrdiff_t so = fk_map_index(y - g->oy - 1, g->H, g->mode);
            if (sn < 0) { for (x = 0; x < W; x++) rin[x] = cval; row_in = rin; }
            else if (direct_src) row_in = (const T *)(g->src + sn * g->ss0);
            else { load(g->src + sn * g->ss0, g->ss1, W, rin); row_in = rin; }
            if (so < 0) { for (x = 0; x < W; x++) rout[x] = cval; row_out = rout; }
            else if (direct_src) row_out = (const T *)(g->src + so * g->ss0);
            else { load(g->src + so * g->ss0, g->ss1, W, rout); row_out = rout; }
            if (direct_src && y + 1 < y1) {
                const ptrdiff_t sx = fk_map_index(y - g->oy + kh, g->H, g->mode);
                row_next = sx < 0 ? NULL : (const T *)(g->src + sx * g->ss0);
            }
        }
        /* update the column sums chunk by chunk; for narrow windows the
         * interior outputs whose columns are all updated follow at once,
         * while the chunk is still in the first-level cache */
        for (x = 0; x < W; x += FK_BOX_CHUNK) {
            const ptrdiff_t c1 = x + FK_BOX_CHUNK < W ? x + FK_BOX_CHUNK : W;
            if (!fresh) {
                double *restrict cs = colsum;
                const T *restrict ri = row_in, *restrict ro = row_out;
                ptrdiff_t c;
                fk_vsumi nfv = {0}; /* lanes that saw a sum not finite */
                int nf = 0, l;
                /* the row entering next, from memory into the second-level
                 * cache (the first level would evict it before its turn) */
                if (row_next != NULL)
                    for (c = x; c < c1; c += 64 / (ptrdiff_t)sizeof(T))
                        __builtin_prefetch(row_next + c, 0, 2);
                for (c = x; c + FK_BOX_NV <= c1; c += FK_BOX_NV) {
                    const fk_vsum v = *(fk_vsum *)(cs + c) + (FK_VSUM(ri + c) - FK_VSUM(ro + c));
                    *(fk_vsum *)(cs + c) = v;
                    /* v - v is +0.0 (all bits clear) unless v is NaN or
                     * infinite; an OR of bits: no chain of slow adds */
                    if (check_cols) nfv |= (fk_vsumi)(v - v);
                }
                for (; c < c1; c++) {
                    cs[c] += (double)ri[c] - (double)ro[c];
                    nf |= check_cols && !(cs[c] * 0.0 == 0.0);
                }
                for (l = 0; l < FK_BOX_NV; l++) nf |= nfv[l] != 0;
                /* a sum not finite (0 * it is NaN): a NaN or an infinity
                 * entered the window, or left it and left NaN behind (the
                 * difference of two infinities); these columns afresh */
                if (nf) FK_FN(box_colsums)(job, colsum, y, x, c1, direct_src, load, cbuf);
            }
            if (narrow) {
                ptrdiff_t end = c1 + pl - (kw - 1) * C; /* outputs needing < c1 */
                if (end > Wo) end = Wo;
                if (end > done) {
                    FK_FN(box_hsum_any)(out + done, P + done, end - done, scale, kw, C);
                    done = end;
                }
            } else if (early) {
                ptrdiff_t end = c1 + pl - (kw - 1) * C; /* outputs needing < c1 */
                if (end > Wo) end = Wo;
                if (x == 0) {
                    FK_FN(box_pad)(colsum, -pl, 0, W, g->C, g->mode, outside);
                    done = 0;
                }
                if (end > 0 && done == 0) {
                    carry = FK_FN(box_first)(out, P, kw, scale);
                    done = 1;
                }
                if (end > done) {
                    FK_FN(box_dscan)(out, P, done, end, &carry, kw, scale);
                    done = end;
                }
            }
        }
        /* border columns of the column sums, by the border mode */
        FK_FN(box_pad)(colsum, -pl, 0, W, g->C, g->mode, outside);
        FK_FN(box_pad)(colsum, W, padw - pl, W, g->C, g->mode, outside);
        if (narrow) {
            /* the border outputs, which read padded columns */
            const ptrdiff_t left = pl < Wo ? pl : Wo;
            FK_FN(box_hsum_any)(out, P, left, scale, kw, C);
            if (done < Wo) FK_FN(box_hsum_any)(out + done, P + done, Wo - done, scale, kw, C);
        } else {
            if (C > 1) {
                carry = FK_FN(box_scan_lanes)(out, P, Wo, kw, C, scale);
            } else {
                if (!early) done = 0;
                if (Wo > 0 && done == 0) {
                    carry = FK_FN(box_first)(out, P, kw, scale);
                    done = 1;
                }
                if (done < Wo) FK_FN(box_dscan)(out, P, done, Wo, &carry, kw, scale);
            }
            /* every column sum entered the running sum: if it ended NaN or
             * infinite, one of them is, and may be a stale NaN (or the sum
             * may have met an infinity leaving); the column sums afresh and
             * the row summed directly (rows with NaN cost kh + kw per output) */
            if (!(carry * 0.0 == 0.0)) {
                FK_FN(box_colsums_row)(job, colsum, y, direct_src, load, cbuf);
                FK_FN(box_pad)(colsum, -pl, 0, W, g->C, g->mode, outside);
                FK_FN(box_pad)(colsum, W, padw - pl, W, g->C, g->mode, outside);
                FK_FN(box_hsum)(out, P, Wo, scale, (int)kw, C);
            }
        }
        if (!direct_out) store(obuf, Wo, g->dst + y * g->ds0, g->ds1);
    }
}

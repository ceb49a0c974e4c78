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
 * uint8 and uint16 images with contiguous rows are summed in integers
 * instead (box_int, below), with the same bits as the float64 sums.
 * The file includes itself once per variant of those (FK_BOX_VARIANT).
 *
 * Each thread needs fk_box_workspace_bytes(job) bytes and computes output
 * rows [y0, y1); blocks of rows start at multiples of fk_box_restart(job).
 */
#ifndef FK_BOX_VARIANT

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


/* ---- integer box sums of 8- and 16-bit images ----------------------------
 * uint8 and uint16 sources with contiguous rows (and an integral cval in
 * range for 'constant') are summed in integers: column sums in uint16
 * lanes where kh times the largest value fits (uint8, kh <= 257), else
 * uint32, and window sums likewise (uint8, kh kw <= 257), so the data stay
 * 8 or 16 bits wide in memory and the vectors hold 2 to 4 times the lanes
 * of float64.  The sums S are exact, as the float path's are (it sums the
 * same integers in float64), so every variant gives the same S whatever
 * the table or the split of the rows.  The outputs then follow from S by
 * one of (fk_box_iplan.kind):
 *
 *   EXACT  (T)((double)S * weight), the float path's very expression, so
 *          the same bits for any weight and any output (then the storers;
 *          for the mean into uint8 or uint16 rows, with AVX2, the same
 *          conversions in registers: boxi_dstore);
 *   FLOAT  for the mean (weight == 1 / n, n = kh kw odd) into an integer
 *          output with max * n <= 2^21 (max: 255 or 65535): (float)S *
 *          (float)weight, rounded by the storers (or boxi_fstore);
 *   MULHI  the same where the window sums are 16-bit (uint8, 511 n <=
 *          65535): floor((2 S + n) M / 2^(16 + shift)) in 16-bit lanes.
 *
 * Why FLOAT and MULHI give the float path's integers.  Let q = S / n, S in
 * [0, max n].  As n is odd, 2 S - (2 j + 1) n is a nonzero integer, so q
 * is at least 1 / (2 n) from every half-integer j + 1/2.  The float path's
 * value v = fl_T(fl64(S fl64(1/n))) has |v - q| <= q (2^-24 + 3 2^-53)
 * < max 2^-23.9, and FLOAT's f = fl32(S fl32(fl64(1/n))) (S < 2^24 is
 * exact in float32) has |f - q| < q (2 2^-24 + 2^-53 + ...) < max 2^-22.99.
 * With max n <= 2^21 both errors are below 2^21 / n 2^-22.99 < 1 / (2 n):
 * neither value crosses the half-integer nearest q, so rounding either (to
 * nearest, any tie rule) gives round(q), with no tie.  MULHI computes
 * floor((2 S + n) / (2 n)) = floor(q + 1/2) = round(q): with d = 2 n, k =
 * 16 + shift, M = ceil(2^k / d) and e = M d - 2^k, a M / 2^k = a / d +
 * a e / (d 2^k), and a e < 2^k (checked for the largest a) keeps the extra
 * term below 1 / d, too little to reach the next multiple of 1 / d; so
 * floor(a M / 2^k) = floor(a / d).  tests/test_box_integer.py checks both
 * against the float path's expression for every reachable S of the sizes
 * it runs.  Other weights, even n (ties, which the float path settles by
 * the roundings of 1/n) and float outputs take EXACT. */

#ifndef FK_BOX_IPLAN_DEFINED
#define FK_BOX_IPLAN_DEFINED
enum { FK_BOXI_EXACT = 0, FK_BOXI_FLOAT = 1, FK_BOXI_MULHI = 2 };
/* how a job's integer sums become outputs (box_int) */
typedef struct {
    int kind;          /* FK_BOXI_* */
    int mean;          /* weight == 1 / (kh kw) */
    uint32_t cval;     /* the source value outside the image ('constant') */
    float wf;          /* FLOAT: (float)weight */
    uint32_t mul, bias; /* MULHI: M and n */
    int shift;
} fk_box_iplan;

/* 32 bytes of 16- or 32-bit window sums (unaligned, may alias the
 * buffers) and the masks of their shuffles */
typedef uint16_t fk_boxi_v16 __attribute__((vector_size(32), aligned(2), may_alias));
typedef uint32_t fk_boxi_v32 __attribute__((vector_size(32), aligned(4), may_alias));
typedef short fk_boxi_m16 __attribute__((vector_size(32)));
typedef int fk_boxi_m32 __attribute__((vector_size(32)));

#if FK_X86_AVX2
/* 16 rounded means (int32, in [0, 65535]) to a uint16 row (out16) or a
 * uint8 row: the packs' unsigned saturation is the storers' clamp (a
 * uint16 image's means saturate at 255 with a min first, as packus_epi16
 * reads its 16-bit lanes as signed) */
FK_INLINE void FK_ISA_FN(boxi_pack)(__m256i qa, __m256i qb, char *dst, int out16)
{
    const __m256i q = _mm256_permute4x64_epi64(_mm256_packus_epi32(qa, qb), 0xD8);
    if (out16) {
        _mm256_storeu_si256((__m256i *)dst, q);
    } else {
        const __m256i q255 = _mm256_min_epu16(q, _mm256_set1_epi16(255));
        const __m256i q8 = _mm256_permute4x64_epi64(_mm256_packus_epi16(q255, q255), 0xD8);
        _mm_storeu_si128((__m128i *)dst, _mm256_castsi256_si128(q8));
    }
}

/* (float)((double)s * w) for 4 int32 sums: the EXACT expression (no FMA:
 * a product, then one rounding to float32, half to even as in C) */
FK_INLINE __m128 FK_ISA_FN(boxi_exact4)(__m128i s, __m256d w)
{
    return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtepi32_pd(s), w));
}
#endif

/* p rounded up to 64 bytes */
static inline void *fk_box_align(const void *p)
{
    return (void *)(((size_t)p + 63) & ~(size_t)63);
}
#endif

#define FK_BOX_VARIANT box_i8_16_16
#define FK_BOXI_NV 16
#define ST uint8_t
#define CS uint16_t
#define SS uint16_t
#include "fk_box.h"

#define FK_BOX_VARIANT box_i8_16_32
#define FK_BOXI_NV 8
#define ST uint8_t
#define CS uint16_t
#define SS uint32_t
#include "fk_box.h"

#define FK_BOX_VARIANT box_i8_32_32
#define FK_BOXI_NV 8
#define ST uint8_t
#define CS uint32_t
#define SS uint32_t
#include "fk_box.h"

#define FK_BOX_VARIANT box_i16_32_32
#define FK_BOXI_NV 8
#define ST uint16_t
#define CS uint32_t
#define SS uint32_t
#include "fk_box.h"

/* Output rows [y0, y1) of a box job in integers (see above), or 0 when the
 * job is not one for them: another source dtype, strided source rows, a
 * cval that is not an integer of the source's range, or sums that could
 * pass 2^32. */
static int FK_FN(box_int)(const fk_box_job *job, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_geom *g = &job->g;
    const int u8 = g->src_code == FK_U8;
    const double maxv = u8 ? 255.0 : 65535.0;
    const double n = (double)job->kh * (double)job->kw;
    const int cs16 = u8 && 255.0 * job->kh <= 65535.0;
    const int ss16 = cs16 && 255.0 * n <= 65535.0;
    fk_box_iplan ip;
    if (!(u8 || g->src_code == FK_U16) || g->ss1 != (u8 ? 1 : 2) || g->W < 1 || g->Wo < 1
        || job->kh < 1 || job->kw < 1 || maxv * n > 4294967295.0)
        return 0;
    ip.cval = 0;
    if (g->mode == FK_CONSTANT) {
        if (!(g->cval >= 0.0 && g->cval <= maxv && g->cval == (double)(uint32_t)g->cval))
            return 0;
        ip.cval = (uint32_t)g->cval;
    }
    ip.kind = FK_BOXI_EXACT;
    ip.mean = job->weight == 1.0 / n;
    ip.wf = (float)job->weight;
    ip.mul = ip.bias = 0;
    ip.shift = 0;
    if (ip.mean && ((uint32_t)n & 1) && g->dst_code <= FK_I64) {
        if (ss16 && 2.0 * maxv * n + n <= 65535.0) {
            /* the smallest shift whose M fits 16 bits and is exact up to
             * the largest a = 2 S + n */
            const uint64_t d = 2 * (uint64_t)n, amax = 2 * 255 * (uint64_t)n + (uint64_t)n;
            int sh;
            for (sh = 0; sh < 16; sh++) {
                const uint64_t two_k = (uint64_t)1 << (16 + sh), M = (two_k + d - 1) / d;
                if (M > 65535) break;
                if (amax * (M * d - two_k) < two_k) {
                    ip.kind = FK_BOXI_MULHI;
                    ip.mul = (uint32_t)M;
                    ip.bias = (uint32_t)n;
                    ip.shift = sh;
                    break;
                }
            }
        }
        if (ip.kind == FK_BOXI_EXACT && maxv * n <= 2097152.0) ip.kind = FK_BOXI_FLOAT;
    }
    if (!u8) FK_FN(box_i16_32_32)(job, &ip, ws, y0, y1);
    else if (ss16) FK_FN(box_i8_16_16)(job, &ip, ws, y0, y1);
    else if (cs16) FK_FN(box_i8_16_32)(job, &ip, ws, y0, y1);
    else FK_FN(box_i8_32_32)(job, &ip, ws, y0, y1);
    return 1;
}

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
    if (FK_FN(box_int)(job, ws, y0, y1)) return;
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
                if (C == 1) FK_FN(box_hsum)(out, P, Wo, scale, (int)kw, 1);
                else FK_FN(box_hsum)(out, P, Wo, scale, (int)kw, C);
            }
        }
        if (!direct_out) store(obuf, Wo, g->dst + y * g->ds0, g->ds1);
    }
}

#else /* FK_BOX_VARIANT */
/* this variant's helpers, named after it */
#define FK_BOXI_PASTE_(a, b) a##_##b
#define FK_BOXI_PASTE(a, b) FK_BOXI_PASTE_(a, b)
#define FK_BOXI_HSUMK FK_BOXI_PASTE(hsumk, FK_BOX_VARIANT)
#define FK_BOXI_HSUM FK_BOXI_PASTE(hsum, FK_BOX_VARIANT)
#define FK_BOXI_SCAN FK_BOXI_PASTE(scan, FK_BOX_VARIANT)
#define FK_BOXI_FSTORE FK_BOXI_PASTE(fstore, FK_BOX_VARIANT)
#define FK_BOXI_DSTORE FK_BOXI_PASTE(dstore, FK_BOX_VARIANT)
/* ---- one variant of the integer box sums ---------------------------------
 * Included by the main part of this file once per variant, with ST the
 * source type (uint8_t or uint16_t), CS the column sums' type and SS the
 * window sums' type (uint16_t where they cannot exceed 65535, else
 * uint32_t), FK_BOXI_NV the lanes of 32 bytes of SS; FK_BOX_VARIANT names
 * the row function, FK_BOXI_HSUM, FK_BOXI_HSUMK, FK_BOXI_SCAN,
 * FK_BOXI_FSTORE and FK_BOXI_DSTORE its helpers.  The sums are exact: where an
 * update takes a column sum below zero on the way (in + sum - out), the
 * unsigned wrap-around comes back, as the true result is in range. */

/* 32 bytes of window sums (fk_boxi_v), FK_BOXI_NV values of CS as one,
 * and the shifts of the in-register prefix:
 * lanes moved up by 1, 2, 4 (8) places, zeros shifted in; the last lane
 * everywhere */
#if FK_BOXI_NV == 16
#define fk_boxi_v fk_boxi_v16
#define fk_boxi_m fk_boxi_m16
#define FK_BOXI_SHIFT1(v, z) FK_BOXI_SHUF(v, z, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
#define FK_BOXI_SHIFT2(v, z) FK_BOXI_SHUF(v, z, 16, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
#define FK_BOXI_SHIFT4(v, z) FK_BOXI_SHUF(v, z, 16, 16, 16, 16, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
#define FK_BOXI_SHIFT8(v, z) FK_BOXI_SHUF(v, z, 16, 16, 16, 16, 16, 16, 16, 16, 0, 1, 2, 3, 4, 5, 6, 7)
#define FK_BOXI_LAST(v) FK_BOXI_SHUF(v, v, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15)
#define FK_BOXI_LOAD(p) ((fk_boxi_v){(p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7], \
                                     (p)[8], (p)[9], (p)[10], (p)[11], (p)[12], (p)[13], (p)[14], (p)[15]})
#else
#define fk_boxi_v fk_boxi_v32
#define fk_boxi_m fk_boxi_m32
#define FK_BOXI_SHIFT1(v, z) FK_BOXI_SHUF(v, z, 8, 0, 1, 2, 3, 4, 5, 6)
#define FK_BOXI_SHIFT2(v, z) FK_BOXI_SHUF(v, z, 8, 8, 0, 1, 2, 3, 4, 5)
#define FK_BOXI_SHIFT4(v, z) FK_BOXI_SHUF(v, z, 8, 8, 8, 8, 0, 1, 2, 3)
#define FK_BOXI_LAST(v) FK_BOXI_SHUF(v, v, 7, 7, 7, 7, 7, 7, 7, 7)
#define FK_BOXI_LOAD(p) ((fk_boxi_v){(p)[0], (p)[1], (p)[2], (p)[3], (p)[4], (p)[5], (p)[6], (p)[7]})
#endif
#if defined(__clang__)
#define FK_BOXI_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define FK_BOXI_SHUF(a, b, ...) __builtin_shuffle(a, b, (fk_boxi_m){__VA_ARGS__})
#endif

/* out[x] = P[x] + P[x + C] + ... + P[x + (k - 1) C] for x < n; with a
 * constant k the compiler vectorises it across the row */
FK_INLINE void FK_FN(FK_BOXI_HSUMK)(SS *restrict out, const CS *restrict P, ptrdiff_t n, int k,
                                    ptrdiff_t C)
{
    ptrdiff_t x;
    for (x = 0; x < n; x++) {
        SS s = 0;
        int b;
        for (b = 0; b < k; b++) s = (SS)(s + P[x + b * C]);
        out[x] = s;
    }
}

/* FK_BOXI_HSUMK for kw = 1 .. FK_BOX_DIRECT_MAX (grey rows: a constant
 * stride too) */
static void FK_FN(FK_BOXI_HSUM)(SS *out, const CS *P, ptrdiff_t n, ptrdiff_t kw, ptrdiff_t C)
{
#define FK_BOXI_CASES(c)                                             \
    switch (kw) {                                                   \
    case 1: FK_FN(FK_BOXI_HSUMK)(out, P, n, 1, c); break;           \
    case 2: FK_FN(FK_BOXI_HSUMK)(out, P, n, 2, c); break;           \
    case 3: FK_FN(FK_BOXI_HSUMK)(out, P, n, 3, c); break;           \
    case 4: FK_FN(FK_BOXI_HSUMK)(out, P, n, 4, c); break;           \
    case 5: FK_FN(FK_BOXI_HSUMK)(out, P, n, 5, c); break;           \
    case 6: FK_FN(FK_BOXI_HSUMK)(out, P, n, 6, c); break;           \
    case 7: FK_FN(FK_BOXI_HSUMK)(out, P, n, 7, c); break;           \
    case 8: FK_FN(FK_BOXI_HSUMK)(out, P, n, 8, c); break;           \
    default: FK_FN(FK_BOXI_HSUMK)(out, P, n, 9, c); break;          \
    }
    if (C == 1) FK_BOXI_CASES(1)
    else FK_BOXI_CASES(C)
#undef FK_BOXI_CASES
}

/* the window sums of wider windows as a running sum per channel: the
 * first C directly, then out[x] = out[x - C] + P[x + (kw - 1) C] - P[x - C] */
static void FK_FN(FK_BOXI_SCAN)(SS *restrict out, const CS *restrict P, ptrdiff_t n, ptrdiff_t kw,
                                ptrdiff_t C)
{
    const ptrdiff_t span = (kw - 1) * C;
    ptrdiff_t c, x, b;
    if (C == 1 && n > FK_BOXI_NV) {
        /* grey rows: FK_BOXI_NV outputs a step, the differences summed in
         * registers (an in-register prefix of shifted adds) and offset by
         * the running sum, as box_dscan does in float64 */
        const fk_boxi_v z = {0};
        fk_boxi_v run;
        SS s = 0;
        for (b = 0; b < kw; b++) s = (SS)(s + P[b]);
        out[0] = s;
        run = z + s;
        for (x = 1; x + FK_BOXI_NV <= n; x += FK_BOXI_NV) {
            fk_boxi_v d = FK_BOXI_LOAD(P + x + span) - FK_BOXI_LOAD(P + x - 1);
            d += FK_BOXI_SHIFT1(d, z);
            d += FK_BOXI_SHIFT2(d, z);
            d += FK_BOXI_SHIFT4(d, z);
#if FK_BOXI_NV == 16
            d += FK_BOXI_SHIFT8(d, z);
#endif
            d += run;
            *(fk_boxi_v *)(out + x) = d;
            run = FK_BOXI_LAST(d);
        }
        s = out[x - 1];
        for (; x < n; x++) {
            s = (SS)(s + P[x + span] - P[x - 1]);
            out[x] = s;
        }
        return;
    }
    /* one channel at a time, its sum in a register (a chain through
     * memory, out[x - C], costs a store-to-load forwarding per output) */
    for (c = 0; c < C && c < n; c++) {
        SS s = 0;
        for (b = 0; b < kw; b++) s = (SS)(s + P[c + b * C]);
        out[c] = s;
        for (x = c + C; x < n; x += C) {
            s = (SS)(s + P[x + span] - P[x - C]);
            out[x] = s;
        }
    }
}

#if FK_X86_AVX2 && FK_BOXI_NV == 16
/* MULHI straight into a uint8 row, 16 outputs a step, for windows of k
 * (a constant) columns: the window sums of the column sums in 16-bit
 * lanes, then floor((2 S + n) M / 2^(16 + shift)) by mulhi, packed to
 * bytes; no buffer of sums in between.  Returns the outputs done (the
 * caller does the rest as the portable code does). */
FK_INLINE ptrdiff_t FK_FN(boxi_mulhi8_k)(uint8_t *d, const uint16_t *P, ptrdiff_t n, int k,
                                         ptrdiff_t C, const fk_box_iplan *ip)
{
    const __m256i mM = _mm256_set1_epi16((short)ip->mul), mb = _mm256_set1_epi16((short)ip->bias);
    const __m128i sh = _mm_cvtsi32_si128(ip->shift);
    ptrdiff_t i;
    int b;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(P + i));
        for (b = 1; b < k; b++)
            v = _mm256_add_epi16(v, _mm256_loadu_si256((const __m256i *)(P + i + b * C)));
        v = _mm256_add_epi16(_mm256_add_epi16(v, v), mb);
        v = _mm256_srl_epi16(_mm256_mulhi_epu16(v, mM), sh);
        v = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0xD8);
        _mm_storeu_si128((__m128i *)(d + i), _mm256_castsi256_si128(v));
    }
    return i;
}

static ptrdiff_t FK_FN(boxi_mulhi8)(uint8_t *d, const uint16_t *P, ptrdiff_t n, ptrdiff_t kw,
                                    ptrdiff_t C, const fk_box_iplan *ip)
{
    switch (kw) {
    case 1: return FK_FN(boxi_mulhi8_k)(d, P, n, 1, C, ip);
    case 2: return FK_FN(boxi_mulhi8_k)(d, P, n, 2, C, ip);
    case 3: return FK_FN(boxi_mulhi8_k)(d, P, n, 3, C, ip);
    case 4: return FK_FN(boxi_mulhi8_k)(d, P, n, 4, C, ip);
    case 5: return FK_FN(boxi_mulhi8_k)(d, P, n, 5, C, ip);
    case 6: return FK_FN(boxi_mulhi8_k)(d, P, n, 6, C, ip);
    case 7: return FK_FN(boxi_mulhi8_k)(d, P, n, 7, C, ip);
    case 8: return FK_FN(boxi_mulhi8_k)(d, P, n, 8, C, ip);
    case 9: return FK_FN(boxi_mulhi8_k)(d, P, n, 9, C, ip);
    default: return 0;
    }
}
#endif

#if FK_X86_AVX2
/* 8 window sums from S as int32 */
#if FK_BOXI_NV == 16
#define FK_BOXI_LOAD8(S) _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(S)))
#else
#define FK_BOXI_LOAD8(S) _mm256_loadu_si256((const __m256i *)(S))
#endif

/* FLOAT into a uint8 (out16 0) or uint16 row: (float)S * wf rounded by
 * cvtps2dq (half to even in the default mode, as the storers' AVX2 body),
 * 16 outputs a step; round(S / n) is in [0, 65535].  Returns the outputs
 * done. */
static ptrdiff_t FK_FN(FK_BOXI_FSTORE)(const SS *S, ptrdiff_t n, char *dst, int out16, float wf_)
{
    const __m256 wf = _mm256_set1_ps(wf_);
    const ptrdiff_t es = out16 ? 2 : 1;
    ptrdiff_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m256 a = _mm256_cvtepi32_ps(FK_BOXI_LOAD8(S + i));
        const __m256 b = _mm256_cvtepi32_ps(FK_BOXI_LOAD8(S + i + 8));
        FK_ISA_FN(boxi_pack)(_mm256_cvtps_epi32(_mm256_mul_ps(a, wf)),
                             _mm256_cvtps_epi32(_mm256_mul_ps(b, wf)), dst + es * i, out16);
    }
    return i;
}

/* EXACT for the mean into a uint8 or uint16 row: (float)((double)S * w),
 * then rounded by cvtps2dq as the storers round it; the value is at most
 * the image's largest (S <= max n, and S fl64(1 / n) rounds to at most
 * max in float32), so no clamp is needed beyond the packs'.  Returns the
 * outputs done. */
static ptrdiff_t FK_FN(FK_BOXI_DSTORE)(const SS *S, ptrdiff_t n, char *dst, int out16, double w_)
{
    const __m256d w = _mm256_set1_pd(w_);
    const ptrdiff_t es = out16 ? 2 : 1;
    ptrdiff_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m256i a = FK_BOXI_LOAD8(S + i), b = FK_BOXI_LOAD8(S + i + 8);
        const __m256 fa = _mm256_set_m128(FK_ISA_FN(boxi_exact4)(_mm256_extracti128_si256(a, 1), w),
                                          FK_ISA_FN(boxi_exact4)(_mm256_castsi256_si128(a), w));
        const __m256 fb = _mm256_set_m128(FK_ISA_FN(boxi_exact4)(_mm256_extracti128_si256(b, 1), w),
                                          FK_ISA_FN(boxi_exact4)(_mm256_castsi256_si128(b), w));
        FK_ISA_FN(boxi_pack)(_mm256_cvtps_epi32(fa), _mm256_cvtps_epi32(fb), dst + es * i, out16);
    }
    return i;
}
#undef FK_BOXI_LOAD8
#endif

/* output rows [y0, y1) of a box job on a source of ST (see box_int) */
static void FK_FN(FK_BOX_VARIANT)(const fk_box_job *job, const fk_box_iplan *ip, void *ws,
                                  ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_geom *g = &job->g;
    const ptrdiff_t W = g->W, Wo = g->Wo, kh = job->kh, kw = job->kw, C = g->C, pl = g->ox;
    const ptrdiff_t padw = Wo + (kw - 1) * C;
    CS *const P = (CS *)fk_box_align(ws);  /* padded column sums: P[i] is column i - pl */
    CS *const cs = P + pl;                  /* cs[c]: column c */
    SS *const S = (SS *)fk_box_align(P + padw + FK_SLACK);
    T *const obuf = (T *)fk_box_align(S + FK_BOX_ICHUNK + FK_SLACK);
    ST *const crow = (ST *)fk_box_align(obuf + FK_BOX_ICHUNK + FK_SLACK); /* a row of cval */
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const CS outside = (CS)((uint32_t)kh * ip->cval); /* a column sum outside the image */
    const int narrow = kw <= FK_BOX_DIRECT_MAX;
    const int out8 = g->dst_code == FK_U8 && g->ds1 == 1;
#if FK_X86_AVX2
    const int out16 = g->dst_code == FK_U16 && g->ds1 == 2;
#endif
    ptrdiff_t y, x;
    for (x = 0; x < W; x++) crow[x] = (ST)ip->cval;
    for (y = y0; y < y1; y++) {
        if (y == y0) {
            /* the column sums from scratch (the sums are exact: no drift,
             * so no restarts, and any split of the rows gives the same) */
            ptrdiff_t a;
            for (a = 0; a < kh; a++) {
                const ptrdiff_t s = fk_map_index(y - g->oy + a, g->H, g->mode);
                const ST *restrict r = s < 0 ? crow : (const ST *)(g->src + s * g->ss0);
                CS *restrict c = cs;
                if (a == 0) for (x = 0; x < W; x++) c[x] = r[x];
                else for (x = 0; x < W; x++) c[x] = (CS)(c[x] + r[x]);
            }
        } else {
            /* the window moves down one row: add the new, drop the old */
            const ptrdiff_t sn = fk_map_index(y - g->oy + kh - 1, g->H, g->mode);
            const ptrdiff_t so = fk_map_index(y - g->oy - 1, g->H, g->mode);
            const ST *restrict ri = sn < 0 ? crow : (const ST *)(g->src + sn * g->ss0);
            const ST *restrict ro = so < 0 ? crow : (const ST *)(g->src + so * g->ss0);
            CS *restrict c = cs;
            for (x = 0; x < W; x++) c[x] = (CS)(c[x] + ri[x] - ro[x]);
        }
        /* border columns of the column sums, by the border mode */
        for (x = pl > 0 ? -pl : W; x < padw - pl; x = x == -1 ? W : x + 1) {
            const ptrdiff_t mi = fk_map_col(x, W, (int)C, g->mode);
            cs[x] = mi < 0 ? outside : cs[mi];
        }
        /* the window sums and the outputs, a chunk at a time */
        for (x = 0; x < Wo; x += FK_BOX_ICHUNK) {
            ptrdiff_t n = Wo - x < FK_BOX_ICHUNK ? Wo - x : FK_BOX_ICHUNK, xs = x, i;
            char *dst = g->dst + y * g->ds0 + x * g->ds1;
#if FK_X86_AVX2 && FK_BOXI_NV == 16
            if (ip->kind == FK_BOXI_MULHI && out8 && narrow) {
                /* the bulk in registers; the last few outputs below */
                const ptrdiff_t done = FK_FN(boxi_mulhi8)((uint8_t *)dst, P + x, n, kw, C, ip);
                if (done == n) continue;
                xs += done;
                n -= done;
                dst += done;
            }
#endif
            if (narrow) FK_FN(FK_BOXI_HSUM)(S, P + xs, n, kw, C);
            else FK_FN(FK_BOXI_SCAN)(S, P + xs, n, kw, C);
            if (ip->kind == FK_BOXI_MULHI) {
                /* round(S / n) as floor((2 S + n) M / 2^(16 + shift)) in 16 bits */
                const uint16_t M = (uint16_t)ip->mul, bias = (uint16_t)ip->bias;
                const int sh = ip->shift;
                if (out8) {
                    uint8_t *restrict d = (uint8_t *)dst;
                    for (i = 0; i < n; i++) {
                        const uint16_t a = (uint16_t)(2 * S[i] + bias);
                        d[i] = (uint8_t)((uint16_t)(((uint32_t)a * M) >> 16) >> sh);
                    }
                    continue;
                }
                for (i = 0; i < n; i++) {
                    const uint16_t a = (uint16_t)(2 * S[i] + bias);
                    obuf[i] = (T)((uint16_t)(((uint32_t)a * M) >> 16) >> sh);
                }
            } else if (ip->kind == FK_BOXI_FLOAT) {
                const float wf = ip->wf;
                const SS *Sx = S;
#if FK_X86_AVX2
                if (out8 || out16) {
                    /* the bulk straight to the output; the rest below */
                    const ptrdiff_t done = FK_FN(FK_BOXI_FSTORE)(S, n, dst, out16, wf);
                    if (done == n) continue;
                    Sx += done;
                    n -= done;
                    dst += done * g->ds1;
                }
#endif
                for (i = 0; i < n; i++) obuf[i] = (T)((float)Sx[i] * wf);
            } else {
                /* what the float path computes from the same exact sum */
                const double w = job->weight;
                const SS *Sx = S;
#if FK_X86_AVX2
                if (ip->mean && (out8 || out16)) {
                    const ptrdiff_t done = FK_FN(FK_BOXI_DSTORE)(S, n, dst, out16, w);
                    if (done == n) continue;
                    Sx += done;
                    n -= done;
                    dst += done * g->ds1;
                }
#endif
                for (i = 0; i < n; i++) obuf[i] = (T)((double)Sx[i] * w);
            }
            store(obuf, n, dst, g->ds1);
        }
    }
}
#undef FK_BOXI_SHIFT1
#undef FK_BOXI_SHIFT2
#undef FK_BOXI_SHIFT4
#undef FK_BOXI_SHIFT8
#undef FK_BOXI_LAST
#undef FK_BOXI_LOAD
#undef FK_BOXI_SHUF
#undef fk_boxi_v
#undef fk_boxi_m
/* the variant's parameters end with it */
#undef FK_BOXI_PASTE_
#undef FK_BOXI_PASTE
#undef FK_BOXI_HSUMK
#undef FK_BOXI_HSUM
#undef FK_BOXI_SCAN
#undef FK_BOXI_FSTORE
#undef FK_BOXI_DSTORE
#undef FK_BOX_VARIANT
#undef FK_BOXI_NV
#undef ST
#undef CS
#undef SS
#endif /* FK_BOX_VARIANT */

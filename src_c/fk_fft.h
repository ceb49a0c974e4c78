/*
 * fk_fft.h -- correlation by FFT in blocks (overlap-save), transforms
 * included (fk_impl.h includes this once per compute type T).
 *
 * A job's output rows are cut into bands of th = bh - kh + 1 rows and each
 * band into blocks of tw = bw - kw + 1 columns; a block reads bh x bw
 * pixels of the image extended by the border rule (fk_pad_row), and after
 * a circular convolution with the mask its rows kh - 1 ... and columns
 * kw - 1 ... are the block's outputs.  bh and bw are powers of two of
 * at least 16 (the caller's guarantee).
 *
 * The image and the mask are real, so two neighbouring blocks A and B go
 * through one complex transform as A + iB: the product with the mask's
 * spectrum G and the inverse give A*g + i B*g, real part and imaginary part
 * apart, with no unpacking of a real transform.  Complex values are kept as
 * two planes (re, im) with rows `stride` elements apart.
 *
 * A 2-D transform is a transform along the rows index of each column
 * (all columns at once: every butterfly is a vector operation across
 * columns with one twiddle), a transpose, and the same along the other
 * axis.  Forward transforms are decimation in frequency (natural order
 * in, bit-reversed out), inverse ones decimation in time (bit-reversed
 * in, natural out), so the spectra are never reordered: G is stored in the
 * same bit-reversed, transposed order, computed by the same code
 * (FK_FN(fft_plan)).  Butterflies are radix 4 (two radix-2 stages per pass
 * over the data) with a radix-2 pass where log2 n is odd, recursive so that
 * sub-transforms of strips of FK_FFT_STRIP columns stay in the first-level
 * cache.  Row strides are padded by FK_FFT_PAD elements: power-of-two
 * strides make the rows of a butterfly collide in the caches' sets.
 */

/* the vectors of the transforms (FV, FL lanes: set by fk_impl.h) */
#define FK_FLD(p) (*(const FV *)(p))
#define FK_FST(p, v) (*(FV *)(p) = (v))
/* (outr, outi) = (dr + i di) (cr + i ci) */
#define FK_CMUL(dr, di, cr, ci, outr, outi)                                                     \
    do {                                                                                       \
        const FV dr_ = (dr), di_ = (di);                                                       \
        outr = dr_ * (cr) - di_ * (ci);                                                        \
        outi = dr_ * (ci) + di_ * (cr);                                                        \
    } while (0)

/* a radix-2 butterfly on rows a and b (n == 2): no twiddle */
FK_INLINE void FK_FN(fft_pair)(T *re, T *im, int xs, ptrdiff_t st)
{
    int x;
    for (x = 0; x < xs; x += FL) {
        const FV ar = FK_FLD(re + x), ai = FK_FLD(im + x);
        const FV br = FK_FLD(re + st + x), bi = FK_FLD(im + st + x);
        FK_FST(re + x, ar + br);
        FK_FST(im + x, ai + bi);
        FK_FST(re + st + x, ar - br);
        FK_FST(im + st + x, ai - bi);
    }
}

/* The radix-4 butterflies of rows p, p + q st, p + 2q st, p + 3q st over
 * xs columns: the stages of span 2q (twiddles (w1r, w1i) and (w2r, w2i))
 * and q ((w3r, w3i)), in that order forward (decimation in frequency) and
 * in the reverse order with conjugate twiddles for the inverse (decimation
 * in time). */
FK_INLINE void FK_FN(fft_quad)(T *re, T *im, ptrdiff_t qs, int xs, const T *w, int inverse)
{
    const T w1r = w[0], w1i = w[1], w2r = w[2], w2i = w[3], w3r = w[4], w3i = w[5];
    T *p0r = re, *p0i = im, *p1r = re + qs, *p1i = im + qs;
    T *p2r = p1r + qs, *p2i = p1i + qs, *p3r = p2r + qs, *p3i = p2i + qs;
    int x;
    if (!inverse) {
        for (x = 0; x < xs; x += FL) {
            const FV a0r = FK_FLD(p0r + x), a0i = FK_FLD(p0i + x);
            const FV a1r = FK_FLD(p1r + x), a1i = FK_FLD(p1i + x);
            const FV a2r = FK_FLD(p2r + x), a2i = FK_FLD(p2i + x);
            const FV a3r = FK_FLD(p3r + x), a3i = FK_FLD(p3i + x);
            const FV b0r = a0r + a2r, b0i = a0i + a2i, b1r = a1r + a3r, b1i = a1i + a3i;
            FV b2r, b2i, b3r, b3i, o1r, o1i, o3r, o3i;
            FK_CMUL(a0r - a2r, a0i - a2i, w1r, w1i, b2r, b2i);
            FK_CMUL(a1r - a3r, a1i - a3i, w2r, w2i, b3r, b3i);
            FK_CMUL(b0r - b1r, b0i - b1i, w3r, w3i, o1r, o1i);
            FK_CMUL(b2r - b3r, b2i - b3i, w3r, w3i, o3r, o3i);
            FK_FST(p0r + x, b0r + b1r);
            FK_FST(p0i + x, b0i + b1i);
            FK_FST(p1r + x, o1r);
            FK_FST(p1i + x, o1i);
            FK_FST(p2r + x, b2r + b3r);
            FK_FST(p2i + x, b2i + b3i);
            FK_FST(p3r + x, o3r);
            FK_FST(p3i + x, o3i);
        }
        return;
    }
    for (x = 0; x < xs; x += FL) {
        const FV a0r = FK_FLD(p0r + x), a0i = FK_FLD(p0i + x);
        const FV a2r = FK_FLD(p2r + x), a2i = FK_FLD(p2i + x);
        FV a1r, a1i, a3r, a3i, b0r, b0i, b1r, b1i, b2r, b2i, b3r, b3i, c2r, c2i, c3r, c3i;
        FK_CMUL(FK_FLD(p1r + x), FK_FLD(p1i + x), w3r, w3i, a1r, a1i);
        FK_CMUL(FK_FLD(p3r + x), FK_FLD(p3i + x), w3r, w3i, a3r, a3i);
        b0r = a0r + a1r, b0i = a0i + a1i, b1r = a0r - a1r, b1i = a0i - a1i;
        b2r = a2r + a3r, b2i = a2i + a3i, b3r = a2r - a3r, b3i = a2i - a3i;
        FK_CMUL(b2r, b2i, w1r, w1i, c2r, c2i);
        FK_CMUL(b3r, b3i, w2r, w2i, c3r, c3i);
        FK_FST(p0r + x, b0r + c2r);
        FK_FST(p0i + x, b0i + c2i);
        FK_FST(p2r + x, b0r - c2r);
        FK_FST(p2i + x, b0i - c2i);
        FK_FST(p1r + x, b1r + c3r);
        FK_FST(p1i + x, b1i + c3i);
        FK_FST(p3r + x, b1r - c3r);
        FK_FST(p3i + x, b1i - c3i);
    }
}

/* The transform of length n along the rows (st apart) of xs columns:
 * forward (exponent -1, natural order in, bit-reversed out) or, with
 * `inverse`, the inverse (exponent +1, unscaled, bit-reversed in, natural
 * out).  Twiddles w_N^j = (wr[j], wi[j]) for j < N / 2, and w_n^j =
 * w_N^(j step). */
static void FK_FN(fft_rows)(T *re, T *im, int n, int xs, ptrdiff_t st, const T *wr,
                            const T *wi, int step, int inverse)
{
    const int q = n / 4;
    const T sign = inverse ? (T)-1 : (T)1;
    int r, j;
    if (n < 2) return;
    if (n == 2) {
        FK_FN(fft_pair)(re, im, xs, st);
        return;
    }
    if (inverse)
        for (j = 0; j < 4; j++)
            FK_FN(fft_rows)(re + j * q * st, im + j * q * st, q, xs, st, wr, wi, step * 4, 1);
    for (r = 0; r < q; r++) {
        /* w_n^r, w_n^(r+q), w_n^(2r) (conjugate for the inverse) */
        const T w[6] = {wr[r * step], sign * wi[r * step], wr[(r + q) * step],
                        sign * wi[(r + q) * step], wr[2 * r * step], sign * wi[2 * r * step]};
        FK_FN(fft_quad)(re + r * st, im + r * st, q * st, xs, w, inverse);
    }
    if (!inverse)
        for (j = 0; j < 4; j++)
            FK_FN(fft_rows)(re + j * q * st, im + j * q * st, q, xs, st, wr, wi, step * 4, 0);
}

/* b (cols x rows, rows bs apart) = the transpose of a (rows x cols, rows
 * as apart); rows and cols are multiples of 8 */
static void FK_FN(fft_transpose)(const T *a, ptrdiff_t as, T *b, ptrdiff_t bs, int rows,
                                 int cols)
{
    int r0, c0, r, c;
    for (r0 = 0; r0 < rows; r0 += 32)
        for (c0 = 0; c0 < cols; c0 += 32)
            for (r = r0; r < r0 + 32 && r < rows; r += 8)
                for (c = c0; c < c0 + 32 && c < cols; c += 8) {
                    const T *s = a + r * as + c;
                    T *d = b + c * bs + r;
#if FK_X86_AVX2 && FK_IS_FLOAT
                    /* 8 x 8 in registers */
                    const __m256 r0_ = _mm256_loadu_ps(s), r1_ = _mm256_loadu_ps(s + as);
                    const __m256 r2_ = _mm256_loadu_ps(s + 2 * as), r3_ = _mm256_loadu_ps(s + 3 * as);
                    const __m256 r4_ = _mm256_loadu_ps(s + 4 * as), r5_ = _mm256_loadu_ps(s + 5 * as);
                    const __m256 r6_ = _mm256_loadu_ps(s + 6 * as), r7_ = _mm256_loadu_ps(s + 7 * as);
                    const __m256 t0 = _mm256_unpacklo_ps(r0_, r1_), t1 = _mm256_unpackhi_ps(r0_, r1_);
                    const __m256 t2 = _mm256_unpacklo_ps(r2_, r3_), t3 = _mm256_unpackhi_ps(r2_, r3_);
                    const __m256 t4 = _mm256_unpacklo_ps(r4_, r5_), t5 = _mm256_unpackhi_ps(r4_, r5_);
                    const __m256 t6 = _mm256_unpacklo_ps(r6_, r7_), t7 = _mm256_unpackhi_ps(r6_, r7_);
                    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
                    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
                    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
                    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
                    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
                    _mm256_storeu_ps(d + bs, _mm256_permute2f128_ps(u1, u5, 0x20));
                    _mm256_storeu_ps(d + 2 * bs, _mm256_permute2f128_ps(u2, u6, 0x20));
                    _mm256_storeu_ps(d + 3 * bs, _mm256_permute2f128_ps(u3, u7, 0x20));
                    _mm256_storeu_ps(d + 4 * bs, _mm256_permute2f128_ps(u0, u4, 0x31));
                    _mm256_storeu_ps(d + 5 * bs, _mm256_permute2f128_ps(u1, u5, 0x31));
                    _mm256_storeu_ps(d + 6 * bs, _mm256_permute2f128_ps(u2, u6, 0x31));
                    _mm256_storeu_ps(d + 7 * bs, _mm256_permute2f128_ps(u3, u7, 0x31));
#elif FK_X86_AVX2
                    /* two 4 x 4 quarters at a time in registers */
                    int h, v;
                    for (h = 0; h < 8; h += 4)
                        for (v = 0; v < 8; v += 4) {
                            const double *s4 = s + h * as + v;
                            double *d4 = d + v * bs + h;
                            const __m256d q0 = _mm256_loadu_pd(s4), q1 = _mm256_loadu_pd(s4 + as);
                            const __m256d q2 = _mm256_loadu_pd(s4 + 2 * as);
                            const __m256d q3 = _mm256_loadu_pd(s4 + 3 * as);
                            const __m256d t0 = _mm256_unpacklo_pd(q0, q1), t1 = _mm256_unpackhi_pd(q0, q1);
                            const __m256d t2 = _mm256_unpacklo_pd(q2, q3), t3 = _mm256_unpackhi_pd(q2, q3);
                            _mm256_storeu_pd(d4, _mm256_permute2f128_pd(t0, t2, 0x20));
                            _mm256_storeu_pd(d4 + bs, _mm256_permute2f128_pd(t1, t3, 0x20));
                            _mm256_storeu_pd(d4 + 2 * bs, _mm256_permute2f128_pd(t0, t2, 0x31));
                            _mm256_storeu_pd(d4 + 3 * bs, _mm256_permute2f128_pd(t1, t3, 0x31));
                        }
#else
                    int i, k;
                    for (i = 0; i < 8; i++)
                        for (k = 0; k < 8; k++) d[k * bs + i] = s[i * as + k];
#endif
                }
}

/* columns per strip of a transform across `cols` columns */
FK_INLINE int FK_FN(fft_strip)(int cols)
{
    const int strip = FK_FFT_STRIP / (int)sizeof(T);
    return cols < strip ? cols : strip;
}

/* Where a job's plan keeps what (fk_fft_plan_elems elements of T): the
 * twiddles of length bh (real parts, then imaginary parts) and of length
 * bw, then the mask's spectrum as two planes of bw rows of bh + FK_FFT_PAD. */
typedef struct {
    const T *wyr, *wyi, *wxr, *wxi, *sr, *si;
} FK_FN(fft_layout);

FK_INLINE FK_FN(fft_layout) FK_FN(fft_layout_of)(const fk_fft_job *job, const T *plan)
{
    FK_FN(fft_layout) l;
    l.wyr = plan;
    l.wyi = plan + job->bh / 2;
    l.wxr = plan + job->bh;
    l.wxi = l.wxr + job->bw / 2;
    l.sr = plan + job->bh + job->bw;
    l.si = l.sr + (ptrdiff_t)job->bw * (job->bh + FK_FFT_PAD);
    return l;
}

/* The 2-D transform between the bh x bw planes (re, im) (rows bw +
 * FK_FFT_PAD apart) and their transposed spectrum (tre, tim), bw x bh
 * (rows bh + FK_FFT_PAD apart): forward from (re, im) into (tre, tim), or
 * with `inverse` back from (tre, tim) into (re, im), each pass in the
 * reverse order. */
static void FK_FN(fft_2d)(const fk_fft_job *job, const FK_FN(fft_layout) *l, T *re, T *im,
                          T *tre, T *tim, int inverse)
{
    const int bh = job->bh, bw = job->bw;
    const int sx = FK_FN(fft_strip)(bw), sy = FK_FN(fft_strip)(bh);
    const ptrdiff_t s1 = bw + FK_FFT_PAD, s2 = bh + FK_FFT_PAD;
    int x;
    if (!inverse) {
        for (x = 0; x < bw; x += sx)
            FK_FN(fft_rows)(re + x, im + x, bh, sx, s1, l->wyr, l->wyi, 1, 0);
        FK_FN(fft_transpose)(re, s1, tre, s2, bh, bw);
        FK_FN(fft_transpose)(im, s1, tim, s2, bh, bw);
        for (x = 0; x < bh; x += sy)
            FK_FN(fft_rows)(tre + x, tim + x, bw, sy, s2, l->wxr, l->wxi, 1, 0);
        return;
    }
    for (x = 0; x < bh; x += sy)
        FK_FN(fft_rows)(tre + x, tim + x, bw, sy, s2, l->wxr, l->wxi, 1, 1);
    FK_FN(fft_transpose)(tre, s2, re, s1, bw, bh);
    FK_FN(fft_transpose)(tim, s2, im, s1, bw, bh);
    for (x = 0; x < bw; x += sx)
        FK_FN(fft_rows)(re + x, im + x, bh, sx, s1, l->wyr, l->wyi, 1, 1);
}

/* The plan of a job: twiddles and the mask's spectrum (fk_fft_plan_elems
 * elements of T), from the kh x kw correlation weights k (C order).  The
 * spectrum is that of the mirrored mask (a correlation is a convolution
 * with it), scaled by 1 / (bh bw) for the unscaled inverse. */
static void FK_FN(fft_plan)(const fk_fft_job *job, const void *k_, void *plan_, void *ws)
{
    const T *k = (const T *)k_;
    T *plan = (T *)plan_;
    const int bh = job->bh, bw = job->bw, kh = job->kh, kw = job->kw;
    const ptrdiff_t s1 = bw + FK_FFT_PAD, s2 = bh + FK_FFT_PAD;
    const FK_FN(fft_layout) l = FK_FN(fft_layout_of)(job, plan);
    T *re = (T *)ws, *im = re + bh * s1;
    T *sr = (T *)l.sr, *si = (T *)l.si; /* (the plan is this function's to fill) */
    const T scale = (T)(1.0 / ((double)bh * bw));
    ptrdiff_t i;
    int y, x;
    for (i = 0; i < bh / 2; i++) {
        plan[i] = (T)cos(-2.0 * FK_PI * (double)i / bh);
        plan[bh / 2 + i] = (T)sin(-2.0 * FK_PI * (double)i / bh);
    }
    for (i = 0; i < bw / 2; i++) {
        plan[bh + i] = (T)cos(-2.0 * FK_PI * (double)i / bw);
        plan[bh + bw / 2 + i] = (T)sin(-2.0 * FK_PI * (double)i / bw);
    }
    memset(re, 0, sizeof(T) * 2 * bh * s1);
    for (y = 0; y < kh; y++)
        for (x = 0; x < kw; x++) re[y * s1 + x] = k[(kh - 1 - y) * kw + (kw - 1 - x)];
    FK_FN(fft_2d)(job, &l, re, im, sr, si, 0);
    for (i = 0; i < bw * s2; i++) {
        sr[i] *= scale;
        si[i] *= scale;
    }
}

/* output rows [y0, y1) of an fk_fft_job (single-channel rows), in bands
 * of bh - kh + 1 rows from y0 */
static void FK_FN(fft_job)(const void *job_, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    const fk_fft_job *job = (const fk_fft_job *)job_;
    const fk_geom *g = &job->g;
    const int bh = job->bh, bw = job->bw, kh = job->kh, kw = job->kw;
    const ptrdiff_t th = bh - kh + 1, tw = bw - kw + 1, nx = (g->Wo + tw - 1) / tw;
    const ptrdiff_t s1 = bw + FK_FFT_PAD, s2 = bh + FK_FFT_PAD;
    const FK_FN(fft_layout) l = FK_FN(fft_layout_of)(job, (const T *)job->plan);
    T *re = (T *)ws, *im = re + bh * s1, *tre = im + bh * s1, *tim = tre + bw * s2;
    const FK_FN(load_t) load = FK_FN(loader)(g->src_code);
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const T cval = (T)g->cval;
    ptrdiff_t y, bx, i;
    int r, x;
    for (y = y0; y < y1; y += th) {
        const ptrdiff_t n = y1 - y < th ? y1 - y : th;
        for (bx = 0; bx < nx; bx += 2) {
            const int two = bx + 1 < nx;
            int j;
            if (job->nonfinite != NULL && *(volatile int *)job->nonfinite) return;
            for (r = 0; r < bh; r++) {
                const ptrdiff_t v = y - g->oy + r, c0 = bx * tw - g->ox;
                fk_pad_row(g, v, c0, c0 + bw, re + r * s1, sizeof(T), FK_FN(pad_load), &load,
                           &cval);
                if (two)
                    fk_pad_row(g, v, c0 + tw, c0 + tw + bw, im + r * s1, sizeof(T),
                               FK_FN(pad_load), &load, &cval);
                else
                    memset(im + r * s1, 0, sizeof(T) * bw);
            }
            FK_FN(fft_2d)(job, &l, re, im, tre, tim, 0);
            /* the blocks' sums: a NaN or inf anywhere in either block
             * reaches them (transforms add and multiply by finite twiddles) */
            if (job->nonfinite != NULL && !(isfinite(tre[0]) && isfinite(tim[0]))) {
                *(volatile int *)job->nonfinite = 1;
                return;
            }
            for (x = 0; x < bw; x++) {
                T *pr = tre + x * s2, *pi = tim + x * s2;
                const T *gr = l.sr + x * s2, *gi = l.si + x * s2;
                for (i = 0; i < bh; i += FL) {
                    FV orr, oi;
                    FK_CMUL(FK_FLD(pr + i), FK_FLD(pi + i), FK_FLD(gr + i), FK_FLD(gi + i), orr, oi);
                    FK_FST(pr + i, orr);
                    FK_FST(pi + i, oi);
                }
            }
            FK_FN(fft_2d)(job, &l, re, im, tre, tim, 1);
            for (j = 0; j <= two; j++) {
                const ptrdiff_t x0 = (bx + j) * tw, cw = g->Wo - x0 < tw ? g->Wo - x0 : tw;
                const T *res = j ? im : re;
                for (r = 0; r < n; r++)
                    store(res + (kh - 1 + r) * s1 + (kw - 1), cw,
                          g->dst + (y + r) * g->ds0 + x0 * g->ds1, g->ds1);
            }
        }
    }
}

#undef FK_FLD
#undef FK_FST
#undef FK_CMUL

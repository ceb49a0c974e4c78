/*
 * fk_int.h -- exact integer correlation of 8- and 16-bit images (included
 * by fk_impl.h once per compute type T; the integer kernels, which no T
 * changes, are compiled in the first copy only).
 *
 * For a mask of weights n 2^-e (integer numerators n: Sobel, Laplace,
 * binomial masks, any integer mask) and an image of small integers, the sum
 * S = sum n f is computed exactly in 16-bit lanes (int16 or uint16, modulo
 * 2^16: the caller has shown that every final S lies in the lanes' range)
 * or int32 lanes, then S 2^-e is converted to T in registers, exactly (the
 * caller takes this path only where |S| fits T's mantissa), and stored as
 * the float path stores its results: into a row of T, or through the
 * storers (rounded half to even, saturated); a uint8 output may instead be
 * rounded half to even and saturated in the 16-bit lanes (the caller says
 * when the rounding cannot overflow them).  So the results are
 * bit-identical to the float path's, which is exact for these masks too,
 * in every table and for every split of the rows.
 *
 * The rows go through a ring of kh + 1 rows widened to the lanes' type and
 * padded by the border mode (one new row per output row), as the float
 * path's ring does; each non-zero tap is then an add, a subtract (weight
 * +1 or -1) or a multiply-add of whole vectors.  A separable mask runs the
 * vertical pass into a row, then the horizontal one; the fused Sobel job
 * runs both masks on the same rows.
 */

#ifndef FK_INT_KERNELS
#define FK_INT_KERNELS 1

/* bytes of the integer vectors: those of the float vectors */
#define FK_IVB (4 * FK_LANES_F)
typedef int16_t fk_vi16 __attribute__((vector_size(FK_IVB), aligned(2), may_alias));
typedef int32_t fk_vi32 __attribute__((vector_size(FK_IVB), aligned(4), may_alias));
/* half vectors: int16 or uint16 sums to widen, int32 sums to convert to double */
typedef int16_t fk_vi16h __attribute__((vector_size(FK_IVB / 2)));
typedef uint16_t fk_vu16h __attribute__((vector_size(FK_IVB / 2)));
/* the low and the high half of a vector */
#if FK_IVB == 32
#define FK_IK_LO16(v) __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7)
#define FK_IK_HI16(v) __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
#define FK_IK_LO32(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define FK_IK_HI32(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#else
#define FK_IK_LO16(v) __builtin_shufflevector(v, v, 0, 1, 2, 3)
#define FK_IK_HI16(v) __builtin_shufflevector(v, v, 4, 5, 6, 7)
#define FK_IK_LO32(v) __builtin_shufflevector(v, v, 0, 1)
#define FK_IK_HI32(v) __builtin_shufflevector(v, v, 2, 3)
#endif

/* one non-zero tap of a mask: weight w on row `row` at element offset off */
typedef struct {
    int32_t w, row;
    ptrdiff_t off;
} fk_itap;

/* The non-zero taps of the kh x kw numerators k (columns cs elements
 * apart) into taps; returns how many. */
static int FK_ISA_FN(ik_taps)(const int32_t *k, int kh, int kw, int cs, fk_itap *taps)
{
    int a, b, nt = 0;
    for (a = 0; a < kh; a++)
        for (b = 0; b < kw; b++)
            if (k[(ptrdiff_t)a * kw + b] != 0) {
                taps[nt].w = k[(ptrdiff_t)a * kw + b];
                taps[nt].row = a;
                taps[nt].off = (ptrdiff_t)b * cs;
                nt++;
            }
    return nt;
}

/*
 * c[j] = sum_t taps[t].w rows[taps[t].row][x + taps[t].off + j NA ...],
 * j < nv, in vectors VA of NA lanes of A: a weight of +1 or -1 is an add
 * or a subtract, others a multiply and an add (int16 lanes compute modulo
 * 2^16: the caller knows the range the exact sum lies in).  Rows are read
 * up to one vector past the last output (the workspace rows have FK_SLACK
 * elements beyond their end).  The kernels below take eight vectors per
 * block (one vector at a time at the end of a row): the per-tap
 * bookkeeping (row pointer, offset, weight, its kind) is then shared by
 * more pixels.
 */
#define FK_IK_ACC(AN, A, VA)                                                                       \
    FK_INLINE void FK_CAT3(ik_acc, AN, FK_ISA)(const A *const *rows, const fk_itap *taps, int nt,  \
                                                ptrdiff_t x, int nv, VA *c)                        \
    {                                                                                              \
        enum { NA = FK_IVB / sizeof(A) };                                                          \
        int t, j;                                                                                  \
        for (j = 0; j < nv; j++) c[j] = (VA){0};                                                   \
        for (t = 0; t < nt; t++) {                                                                 \
            const A *p = rows[taps[t].row] + x + taps[t].off;                                      \
            const int32_t w = taps[t].w;                                                           \
            if (w == 1) {                                                                          \
                for (j = 0; j < nv; j++) c[j] += *(const VA *)(p + j * NA);                        \
            } else if (w == -1) {                                                                  \
                for (j = 0; j < nv; j++) c[j] -= *(const VA *)(p + j * NA);                        \
            } else {                                                                               \
                const VA wv = (VA){0} + (A)w;                                                      \
                for (j = 0; j < nv; j++) c[j] += wv * *(const VA *)(p + j * NA);                   \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    /* out[x] for 0 <= x < n, as integers (the vertical pass) */                                   \
    static void FK_CAT3(ik_rows, AN, FK_ISA)(A *restrict out, const A *const *rows,               \
                                              const fk_itap *taps, int nt, ptrdiff_t n)            \
    {                                                                                              \
        enum { NA = FK_IVB / sizeof(A) };                                                          \
        ptrdiff_t x;                                                                               \
        for (x = 0; x + 8 * NA <= n; x += 8 * NA) {                                                \
            VA c[8];                                                                               \
            FK_CAT3(ik_acc, AN, FK_ISA)(rows, taps, nt, x, 8, c);                                  \
            *(VA *)(out + x) = c[0];                                                               \
            *(VA *)(out + x + NA) = c[1];                                                          \
            *(VA *)(out + x + 2 * NA) = c[2];                                                      \
            *(VA *)(out + x + 3 * NA) = c[3];                                                      \
            *(VA *)(out + x + 4 * NA) = c[4];                                                      \
            *(VA *)(out + x + 5 * NA) = c[5];                                                      \
            *(VA *)(out + x + 6 * NA) = c[6];                                                      \
            *(VA *)(out + x + 7 * NA) = c[7];                                                      \
        }                                                                                          \
        for (; x < n; x += NA) {                                                                   \
            VA c[1];                                                                               \
            FK_CAT3(ik_acc, AN, FK_ISA)(rows, taps, nt, x, 1, c);                                  \
            if (x + NA <= n) *(VA *)(out + x) = c[0];                                              \
            else memcpy(out + x, c, (size_t)(n - x) * sizeof(A));                                  \
        }                                                                                          \
    }

FK_IK_ACC(i16, int16_t, fk_vi16)
FK_IK_ACC(i32, int32_t, fk_vi32)
#undef FK_IK_ACC

/* dst[i] = src[i * stride] widened to A, 0 <= i < n, for a source of dtype
 * code (8- and 16-bit integers) */
#define FK_IK_WIDEN(A)                                                                             \
    static void FK_CAT3(ik_widen, A, FK_ISA)(const char *src, ptrdiff_t stride, int code,         \
                                             ptrdiff_t n, A *restrict dst)                         \
    {                                                                                              \
        ptrdiff_t i;                                                                               \
        switch (code) {                                                                            \
        case FK_U8:                                                                                \
            if (stride == 1) for (i = 0; i < n; i++) dst[i] = (A)((const uint8_t *)src)[i];        \
            else for (i = 0; i < n; i++) dst[i] = (A)*(const uint8_t *)(src + i * stride);         \
            break;                                                                                 \
        case FK_I8:                                                                                \
            if (stride == 1) for (i = 0; i < n; i++) dst[i] = (A)((const int8_t *)src)[i];         \
            else for (i = 0; i < n; i++) dst[i] = (A)*(const int8_t *)(src + i * stride);          \
            break;                                                                                 \
        case FK_U16:                                                                               \
            if (stride == 2) for (i = 0; i < n; i++) dst[i] = (A)((const uint16_t *)src)[i];       \
            else for (i = 0; i < n; i++) dst[i] = (A)*(const uint16_t *)(src + i * stride);        \
            break;                                                                                 \
        default: /* FK_I16 */                                                                      \
            if (stride == 2) for (i = 0; i < n; i++) dst[i] = (A)((const int16_t *)src)[i];        \
            else for (i = 0; i < n; i++) dst[i] = (A)*(const int16_t *)(src + i * stride);         \
            break;                                                                                 \
        }                                                                                          \
    }

FK_IK_WIDEN(int16_t)
FK_IK_WIDEN(int32_t)
#undef FK_IK_WIDEN

/* fk_pad_row's loaders for rows of int16 and int32 lanes: ctx is the
 * source's dtype code */
static void FK_ISA_FN(ik_pad16)(const void *ctx, const char *src, ptrdiff_t stride, ptrdiff_t n,
                                void *dst)
{
    FK_CAT3(ik_widen, int16_t, FK_ISA)(src, stride, *(const int *)ctx, n, (int16_t *)dst);
}

static void FK_ISA_FN(ik_pad32)(const void *ctx, const char *src, ptrdiff_t stride, ptrdiff_t n,
                                void *dst)
{
    FK_CAT3(ik_widen, int32_t, FK_ISA)(src, stride, *(const int *)ctx, n, (int32_t *)dst);
}

/* virtual row v's columns [c0, c1) into slot, widened to the job's lanes */
static void FK_ISA_FN(ik_load_vrow)(const fk_icorr_job *job, ptrdiff_t v, ptrdiff_t c0,
                                    ptrdiff_t c1, void *slot)
{
    const int32_t c32 = job->cval;
    const int16_t c16 = (int16_t)job->cval;
    if (job->lanes == 1)
        fk_pad_row(&job->g, v, c0, c1, slot, sizeof(int32_t), FK_ISA_FN(ik_pad32),
                   &job->g.src_code, &c32);
    else
        fk_pad_row(&job->g, v, c0, c1, slot, sizeof(int16_t), FK_ISA_FN(ik_pad16),
                   &job->g.src_code, &c16);
}

/*
 * uint8 outputs from 16-bit sums, in the lanes: out[x] = S[x] 2^-shift
 * rounded half to even ((S + 2^(shift-1) - 1 + q_0) >> shift, q_0 the low
 * bit of S >> shift: the float path's rounding, exactly), then saturated
 * to [0, 255].  `uns`: the lanes hold uint16 values.  The caller checked
 * that S + 2^(shift-1) stays in the lanes' range.
 */
typedef uint8_t fk_vu8h __attribute__((vector_size(FK_IVB / 2), aligned(1), may_alias));
typedef uint16_t fk_vu16 __attribute__((vector_size(FK_IVB)));

FK_INLINE fk_vu8h FK_ISA_FN(ik_round8)(fk_vi16 c, int shift, const int uns)
{
    const fk_vi16 lim = (fk_vi16){0} + 255;
    fk_vi16 m;
    if (uns) {
        fk_vu16 u = (fk_vu16)c;
        if (shift > 0)
            u = (u + (uint16_t)((1 << (shift - 1)) - 1) + ((u >> shift) & 1)) >> shift;
        m = (fk_vi16)(u > (uint16_t)255);
        c = (fk_vi16)u;
    } else {
        if (shift > 0)
            c = (c + (int16_t)((1 << (shift - 1)) - 1) + ((c >> shift) & 1)) >> shift;
        c &= ~(fk_vi16)(c < 0);
        m = (fk_vi16)(c > 255);
    }
    c = (c & ~m) | (lim & m);
    return __builtin_convertvector(c, fk_vu8h);
}

static void FK_ISA_FN(ik_out8)(uint8_t *restrict out, const int16_t *const *rows,
                               const fk_itap *taps, int nt, ptrdiff_t n, int shift, const int uns)
{
    enum { NA = FK_IVB / 2 };
    ptrdiff_t x;
    for (x = 0; x + 8 * NA <= n; x += 8 * NA) {
        fk_vi16 c[8];
        FK_CAT3(ik_acc, i16, FK_ISA)(rows, taps, nt, x, 8, c);
        *(fk_vu8h *)(out + x) = FK_ISA_FN(ik_round8)(c[0], shift, uns);
        *(fk_vu8h *)(out + x + NA) = FK_ISA_FN(ik_round8)(c[1], shift, uns);
        *(fk_vu8h *)(out + x + 2 * NA) = FK_ISA_FN(ik_round8)(c[2], shift, uns);
        *(fk_vu8h *)(out + x + 3 * NA) = FK_ISA_FN(ik_round8)(c[3], shift, uns);
        *(fk_vu8h *)(out + x + 4 * NA) = FK_ISA_FN(ik_round8)(c[4], shift, uns);
        *(fk_vu8h *)(out + x + 5 * NA) = FK_ISA_FN(ik_round8)(c[5], shift, uns);
        *(fk_vu8h *)(out + x + 6 * NA) = FK_ISA_FN(ik_round8)(c[6], shift, uns);
        *(fk_vu8h *)(out + x + 7 * NA) = FK_ISA_FN(ik_round8)(c[7], shift, uns);
    }
    for (; x < n; x += NA) {
        fk_vi16 c[1];
        fk_vu8h r;
        FK_CAT3(ik_acc, i16, FK_ISA)(rows, taps, nt, x, 1, c);
        r = FK_ISA_FN(ik_round8)(c[0], shift, uns);
        if (x + NA <= n) *(fk_vu8h *)(out + x) = r;
        else memcpy(out + x, &r, (size_t)(n - x));
    }
}

/* the rows of a uint8 output (16-bit lanes: lanes 0 or 2) */
static void FK_ISA_FN(ik_mask8)(int lanes, const fk_itap *vt, int nv, const fk_itap *taps, int nt,
                                const void *const *rows, ptrdiff_t cn, void *tmp, ptrdiff_t n,
                                int shift, uint8_t *out)
{
    const void *t[1];
    if (vt != NULL) {
        FK_CAT3(ik_rows, i16, FK_ISA)((int16_t *)tmp, (const int16_t *const *)rows, vt, nv, cn);
        t[0] = tmp;
        rows = t;
    }
    if (lanes == 2)
        FK_ISA_FN(ik_out8)(out, (const int16_t *const *)rows, taps, nt, n, shift, 1);
    else
        FK_ISA_FN(ik_out8)(out, (const int16_t *const *)rows, taps, nt, n, shift, 0);
}

#endif /* FK_INT_KERNELS */

/* ---- the row driver, per compute type T -------------------------------- */

/* out[0 .. NA32) = (T)v 2^-shift, v a vector of int32 sums (exact: the
 * caller checked that they fit T's mantissa); in registers, vectors of
 * the table's width */
FK_INLINE void FK_FN(ik_st32)(T *out, fk_vi32 v, T scale)
{
#if FK_IS_FLOAT
    *(VT *)out = __builtin_convertvector(v, VT) * scale;
#else
    *(VT *)out = __builtin_convertvector(FK_IK_LO32(v), VT) * scale;
    *(VT *)(out + L) = __builtin_convertvector(FK_IK_HI32(v), VT) * scale;
#endif
}

/* the same for a vector of int16 sums, read as signed or (uns) unsigned */
FK_INLINE void FK_FN(ik_st16)(T *out, fk_vi16 v, T scale, const int uns)
{
    enum { NA32 = FK_IVB / 4 };
    const fk_vi16h lo = FK_IK_LO16(v), hi = FK_IK_HI16(v);
    FK_FN(ik_st32)(out, uns ? __builtin_convertvector((fk_vu16h)lo, fk_vi32)
                            : __builtin_convertvector(lo, fk_vi32), scale);
    FK_FN(ik_st32)(out + NA32, uns ? __builtin_convertvector((fk_vu16h)hi, fk_vi32)
                                   : __builtin_convertvector(hi, fk_vi32), scale);
}

/* out[x] = (T)S[x] 2^-shift, 0 <= x < n, the sums S of the taps in lanes of
 * A (ST: ik_st16 or ik_st32 with its arguments after the scale) */
#define FK_IK_OUT(NAME, AN, A, VA, ST, ...)                                                        \
    static void FK_CAT4(ik_out, NAME, FK_TS, FK_ISA)(T *restrict out, const A *const *rows,       \
                                                      const fk_itap *taps, int nt, ptrdiff_t n,    \
                                                      T scale)                                     \
    {                                                                                              \
        enum { NA = FK_IVB / sizeof(A) };                                                          \
        T last[NA];                                                                                \
        ptrdiff_t x;                                                                               \
        for (x = 0; x + 8 * NA <= n; x += 8 * NA) {                                                \
            VA c[8];                                                                               \
            FK_CAT3(ik_acc, AN, FK_ISA)(rows, taps, nt, x, 8, c);                                  \
            ST(out + x, c[0], scale __VA_ARGS__);                                                  \
            ST(out + x + NA, c[1], scale __VA_ARGS__);                                             \
            ST(out + x + 2 * NA, c[2], scale __VA_ARGS__);                                         \
            ST(out + x + 3 * NA, c[3], scale __VA_ARGS__);                                         \
            ST(out + x + 4 * NA, c[4], scale __VA_ARGS__);                                         \
            ST(out + x + 5 * NA, c[5], scale __VA_ARGS__);                                         \
            ST(out + x + 6 * NA, c[6], scale __VA_ARGS__);                                         \
            ST(out + x + 7 * NA, c[7], scale __VA_ARGS__);                                         \
        }                                                                                          \
        for (; x < n; x += NA) {                                                                   \
            VA c[1];                                                                               \
            FK_CAT3(ik_acc, AN, FK_ISA)(rows, taps, nt, x, 1, c);                                  \
            if (x + NA <= n) {                                                                     \
                ST(out + x, c[0], scale __VA_ARGS__);                                              \
            } else {                                                                               \
                ST(last, c[0], scale __VA_ARGS__);                                                 \
                memcpy(out + x, last, (size_t)(n - x) * sizeof(T));                                \
            }                                                                                      \
        }                                                                                          \
    }
FK_IK_OUT(i16, i16, int16_t, fk_vi16, FK_FN(ik_st16), , 0)
FK_IK_OUT(u16, i16, int16_t, fk_vi16, FK_FN(ik_st16), , 1)
FK_IK_OUT(i32, i32, int32_t, fk_vi32, FK_FN(ik_st32))
#undef FK_IK_OUT

/* One mask on `rows` into out as T: its taps, after (for a separable
 * mask) the vertical pass's taps vt (nv of them, NULL for a direct mask)
 * into tmp over cn columns; lanes as in fk_icorr_job */
static void FK_FN(ik_mask)(int lanes, const fk_itap *vt, int nv, const fk_itap *taps, int nt,
                           const void *const *rows, ptrdiff_t cn, void *tmp, ptrdiff_t n,
                           T scale, T *out)
{
    const void *t[1];
    if (vt != NULL) {
        if (lanes == 1)
            FK_CAT3(ik_rows, i32, FK_ISA)((int32_t *)tmp, (const int32_t *const *)rows, vt, nv,
                                          cn);
        else
            FK_CAT3(ik_rows, i16, FK_ISA)((int16_t *)tmp, (const int16_t *const *)rows, vt, nv,
                                          cn);
        t[0] = tmp;
        rows = t;
    }
    if (lanes == 1)
        FK_CAT4(ik_out, i32, FK_TS, FK_ISA)(out, (const int32_t *const *)rows, taps, nt, n, scale);
    else if (lanes == 2)
        FK_CAT4(ik_out, u16, FK_TS, FK_ISA)(out, (const int16_t *const *)rows, taps, nt, n, scale);
    else
        FK_CAT4(ik_out, i16, FK_TS, FK_ISA)(out, (const int16_t *const *)rows, taps, nt, n, scale);
}

/* output rows [y0, y1) of an fk_icorr_job */
static void FK_FN(icorr_job)(const void *job_, void *ws, ptrdiff_t y0, ptrdiff_t y1)
{
    static const int32_t smooth[3] = {1, 2, 1}, diff[3] = {-1, 0, 1};
    const fk_icorr_job *job = (const fk_icorr_job *)job_;
    const fk_geom *g = &job->g;
    const int sobel = job->sobel;
    const int kh = sobel ? 3 : job->kh, kw = sobel ? 3 : job->kw;
    const int cs = g->C, lanes = job->lanes;
    const size_t asz = lanes == 1 ? sizeof(int32_t) : sizeof(int16_t);
    const ptrdiff_t nring = kh + 1, rl = job->rl, n = g->Wo;
    const ptrdiff_t span = (ptrdiff_t)(kw - 1) * cs, c0 = -g->ox, c1 = c0 + n + span;
    const void **rows = (const void **)ws;
    char *base = (char *)ws;
    char *ring = base + job->ring_off;
    void *tmp = base + job->tmp_off;
    fk_itap *taps = (fk_itap *)(base + job->taps_off);
    T *t1 = (T *)(base + job->t_off[0]), *t2 = (T *)(base + job->t_off[1]);
    T *t3 = (T *)(base + job->t_off[2]);
    const FK_FN(store_t) store = FK_FN(storer)(g->dst_code);
    const int direction = sobel && job->dir != NULL;
    const int direct_s = g->dst_code == FK_OWN && g->ds1 == (ptrdiff_t)sizeof(T) && g->dsc == 0;
    const int direct_d = direction && job->dir_code == FK_OWN
                         && job->dir_s1 == (ptrdiff_t)sizeof(T) && job->dir_sc == 0;
    const T scale = (T)ldexp(1.0, -job->shift);
    /* uint8 rows rounded in the lanes, where the caller allows it */
    const int narrow = job->narrow && !sobel && lanes != 1 && g->dst_code == FK_U8
                       && g->ds1 == 1 && g->dsc == 0;
    /* the taps: of k (direct), or of col (vertical) and row; for Sobel, of
     * f_x's and f_y's factors */
    fk_itap *vt1 = NULL, *ht1 = taps, *vt2 = NULL, *ht2 = NULL;
    int nv1 = 0, nh1, nv2 = 0, nh2 = 0;
    ptrdiff_t y, vnext = y0 - g->oy;
    int a;
    if (sobel) {
        vt1 = taps;
        nv1 = FK_ISA_FN(ik_taps)(smooth, 3, 1, 1, vt1);
        ht1 = vt1 + nv1;
        nh1 = FK_ISA_FN(ik_taps)(diff, 1, 3, cs, ht1);
        vt2 = ht1 + nh1;
        nv2 = FK_ISA_FN(ik_taps)(diff, 3, 1, 1, vt2);
        ht2 = vt2 + nv2;
        nh2 = FK_ISA_FN(ik_taps)(smooth, 1, 3, cs, ht2);
    } else if (job->col != NULL) {
        vt1 = taps;
        nv1 = FK_ISA_FN(ik_taps)(job->col, kh, 1, 1, vt1);
        ht1 = vt1 + nv1;
        nh1 = FK_ISA_FN(ik_taps)(job->row, 1, kw, cs, ht1);
    } else {
        nh1 = FK_ISA_FN(ik_taps)(job->k, kh, kw, cs, ht1);
    }
    for (y = y0; y < y1; y++) {
        const ptrdiff_t vfirst = y - g->oy, vend = vfirst + kh;
        const ptrdiff_t vload = vend - vnext < nring ? vnext : vend - nring;
        char *srow = g->dst + y * g->ds0;
        ptrdiff_t v;
        for (v = vload; v < vend; v++)
            FK_ISA_FN(ik_load_vrow)(job, v, c0, c1, ring + (size_t)fk_pmod(v, nring) * rl * asz);
        for (a = 0; a < kh; a++)
            rows[a] = ring + (size_t)fk_pmod(vfirst + a, nring) * rl * asz;
        vnext = vend;
        if (narrow) {
            FK_ISA_FN(ik_mask8)(lanes, vt1, nv1, ht1, nh1, rows, n + span, tmp, n, job->shift,
                                (uint8_t *)srow);
        } else if (!sobel) {
            T *o = direct_s ? (T *)srow : t1;
            FK_FN(ik_mask)(lanes, vt1, nv1, ht1, nh1, rows, n + span, tmp, n, scale, o);
            if (o == t1) FK_FN(store_row)(store, t1, n, cs, srow, g->ds1, g->dsc, t3);
        } else {
            char *drow = direction ? job->dir + y * job->dir_s0 : NULL;
            T *s_ = direct_s ? (T *)srow : t1, *d_ = direct_d ? (T *)drow : t2;
            FK_FN(ik_mask)(lanes, vt1, nv1, ht1, nh1, rows, n + span, tmp, n, (T)1, t1);
            FK_FN(ik_mask)(lanes, vt2, nv2, ht2, nh2, rows, n + span, tmp, n, (T)1, t2);
            FK_FN(combine)(t1, t2, n, direction, s_, d_);
            if (s_ == t1) FK_FN(store_row)(store, t1, n, cs, srow, g->ds1, g->dsc, t3);
            if (direction && d_ == t2)
                FK_FN(store_row)(FK_FN(storer)(job->dir_code), t2, n, cs, drow, job->dir_s1,
                                 job->dir_sc, t3);
        }
    }
}

/*
 * fk_color.h -- sRGB, CIE XYZ, CIELAB, CIELUV and luma, pixel by pixel
 * (included by fk_impl.h once per compute type T).
 *
 * The definitions (IEC 61966-2-1 sRGB, D65, the exact CIE constants
 * epsilon = 216/24389 and kappa = 24389/27) live in filterkit/color.py,
 * which derives the matrices in float64 and hands them in; this file only
 * computes.  Pixels are processed in blocks of FK_COLOR_BLOCK: the
 * channels of a block are gathered into planar buffers of the compute type
 * (any input dtype, any strides, through the loaders of fk_convert.h), the
 * arithmetic runs across the block (loops the compiler vectorises), and the
 * results are scattered to the output by the storers.
 *
 * float: the powers (gamma 2.4 and 1/2.4) are exp2(p log2 x) with degree-7
 * polynomials for log2 of the mantissa and for exp2, branch-free, about
 * 2 ulp in float32; the cube root is a division-free Newton iteration;
 * divisions by constants are multiplications (exact where it matters:
 * 1 decodes to 1);
 * x^(1/3) and x^2.4 of 1 are exactly 1, so white maps to L = 100 exactly.
 * double: the C library's pow and cbrt (not vectorised).
 * uint8 sRGB input is decoded through a 256-entry table.
 */

#ifndef FK_COLOR_BLOCK
#define FK_COLOR_BLOCK 256
#define FK_EPS_D (216.0 / 24389.0)
#define FK_KAPPA_D (24389.0 / 27.0)
#endif

#if FK_IS_FLOAT
/* ---- float: exp2(p log2 x), branch-free ---------------------------- */
static inline float FK_ISA_FN(bits_to_f)(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t FK_ISA_FN(f_to_bits)(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* log2(x) for normal x > 0: exponent plus log2 of the mantissa m in
 * [sqrt(1/2), sqrt(2)), as u P(u), u = m - 1, P of degree 7 fitted on
 * Chebyshev nodes (9e-8 absolute; no division, which costs more than the
 * whole polynomial in wide vectors) */
static inline float FK_ISA_FN(log2f)(float x)
{
    const int32_t i = FK_ISA_FN(f_to_bits)(x);
    float m = FK_ISA_FN(bits_to_f)((i & 0x007fffff) | 0x3f800000);
    float e = (float)((i >> 23) - 127);
    const int big = m > 1.41421356237f;
    float u, p;
    m = big ? 0.5f * m : m;
    e = big ? e + 1.0f : e;
    u = m - 1.0f;
    p = -0.14620353f;
    p = p * u + 0.23420985f;
    p = p * u - 0.24882181f;
    p = p * u + 0.2870756f;
    p = p * u - 0.36024198f;
    p = p * u + 0.48092404f;
    p = p * u - 0.72135276f;
    p = p * u + 1.4426949f;
    return e + u * p;
}

/* 2^y for y in [-126, 126] (clamped): 2^n times a degree-7 Taylor
 * polynomial of 2^f, f = y - n in [-0.5, 0.5] (error 5e-9) */
static inline float FK_ISA_FN(exp2f)(float y)
{
    float f, r;
    int32_t n;
    y = y < -126.0f ? -126.0f : (y > 126.0f ? 126.0f : y);
    n = (int32_t)(y + 127.5f) - 127; /* round half up, truncation of a positive */
    f = y - (float)n;
    r = 1.5252734e-05f;
    r = r * f + 1.5403530e-04f;
    r = r * f + 1.3333558e-03f;
    r = r * f + 9.6181291e-03f;
    r = r * f + 5.5504109e-02f;
    r = r * f + 2.4022651e-01f;
    r = r * f + 6.9314718e-01f;
    r = r * f + 1.0f;
    return FK_ISA_FN(bits_to_f)((int32_t)((uint32_t)FK_ISA_FN(f_to_bits)(r) + ((uint32_t)n << 23)));
}

/* x^p for x > 0 (other x: the caller selects another branch); +inf and
 * NaN come back as they are */
static inline float FK_FN(pow)(float x, float p)
{
    const float r = FK_ISA_FN(exp2f)(p * FK_ISA_FN(log2f)(x));
    return x > 3.4028235e38f || x != x ? x : r;
}

/* t^(1/3) for normal t > 0 (other t: the caller selects another branch),
 * without a division: r = t^(-1/3) from the exponent bits divided by three
 * (within 4 %), three Newton steps r += r (1 - t r^3) / 3 (quadratic:
 * 2e-3, 6e-6, float rounding), then t r^2.  1 gives exactly 1. */
static inline float FK_FN(cbrt)(float t)
{
    const int32_t i = FK_ISA_FN(f_to_bits)(t);
    float r = FK_ISA_FN(bits_to_f)(0x54a21d2a - (int32_t)((float)i * (1.0f / 3.0f)));
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = t * (r * r);
    return t == 1.0f ? 1.0f : r;
}
#else
static inline double FK_FN(pow)(double x, double p) { return pow(x, p); }
static inline double FK_FN(cbrt)(double t) { return cbrt(t); }
#endif

/* ---- the sRGB transfer function, CIE f and its inverse ------------- */
/* decode: c <= 0.04045 -> c / 12.92, else ((c + 0.055) / 1.055)^2.4 */
static inline T FK_FN(decode)(T c)
{
    const T hi = FK_FN(pow)((c + (T)0.055) * (T)(1.0 / 1.055), (T)2.4);
    return c <= (T)0.04045 ? c * (T)(1.0 / 12.92) : (c == (T)1.0 ? (T)1.0 : hi);
}

/* encode: c <= 0.0031308 -> 12.92 c, else 1.055 c^(1/2.4) - 0.055, written
 * 1.055 (c^(1/2.4) - 1) + 1 so that 1 maps to exactly 1 */
static inline T FK_FN(encode)(T c)
{
    const T hi = (T)1.055 * (FK_FN(pow)(c, (T)(1.0 / 2.4)) - (T)1.0) + (T)1.0;
    return c <= (T)0.0031308 ? (T)12.92 * c : hi;
}

/* CIE f(t) = t^(1/3) for t > epsilon, else (kappa t + 16) / 116 */
static inline T FK_FN(labf)(T t)
{
    const T hi = FK_FN(cbrt)(t);
    return t > (T)FK_EPS_D ? hi : ((T)FK_KAPPA_D * t + (T)16.0) * (T)(1.0 / 116.0);
}

/* its inverse: f^3 for f > 6/29, else (116 f - 16) / kappa */
static inline T FK_FN(labfinv)(T f)
{
    return f > (T)(6.0 / 29.0) ? f * f * f : ((T)116.0 * f - (T)16.0) * (T)(1.0 / FK_KAPPA_D);
}

#if FK_X86_AVX2 && FK_IS_FLOAT
/* ---- AVX2: packed uint8 RGB pixels to planes, 8 pixels a step ------ */
/* (Packed float pixels need no help: the compiler vectorises their
 * stride-3 loops as well as hand-written blends and permutations did.)
 * Returns how many leading pixels it did (a multiple of 8). */
/* packed uint8 RGB s of n pixels through the 256-entry table lut to
 * planes: each channel's eight bytes picked by two byte shuffles (of the
 * step's first 16 and last 8 bytes: no read past the 24), widened, and
 * looked up by a gather */
static ptrdiff_t FK_ISA_FN(split_rgb8)(const unsigned char *s, const float *lut, float *r,
                                       float *g, float *b, ptrdiff_t n)
{
    /* byte 3 k + c of the step is pixel k's channel c; -128: zero */
    const __m128i lo_r = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -128, -128, -128, -128, -128, -128,
                                       -128, -128, -128, -128);
    const __m128i hi_r = _mm_setr_epi8(-128, -128, -128, -128, -128, -128, 2, 5, -128, -128,
                                       -128, -128, -128, -128, -128, -128);
    const __m128i lo_g = _mm_setr_epi8(1, 4, 7, 10, 13, -128, -128, -128, -128, -128, -128,
                                       -128, -128, -128, -128, -128);
    const __m128i hi_g = _mm_setr_epi8(-128, -128, -128, -128, -128, 0, 3, 6, -128, -128, -128,
                                       -128, -128, -128, -128, -128);
    const __m128i lo_b = _mm_setr_epi8(2, 5, 8, 11, 14, -128, -128, -128, -128, -128, -128,
                                       -128, -128, -128, -128, -128);
    const __m128i hi_b = _mm_setr_epi8(-128, -128, -128, -128, -128, 1, 4, 7, -128, -128, -128,
                                       -128, -128, -128, -128, -128);
    ptrdiff_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        const __m128i lo = _mm_loadu_si128((const __m128i *)(s + 3 * i));
        const __m128i hi = _mm_loadl_epi64((const __m128i *)(s + 3 * i + 16));
        const __m128i xr = _mm_or_si128(_mm_shuffle_epi8(lo, lo_r), _mm_shuffle_epi8(hi, hi_r));
        const __m128i xg = _mm_or_si128(_mm_shuffle_epi8(lo, lo_g), _mm_shuffle_epi8(hi, hi_g));
        const __m128i xb = _mm_or_si128(_mm_shuffle_epi8(lo, lo_b), _mm_shuffle_epi8(hi, hi_b));
        _mm256_storeu_ps(r + i, _mm256_i32gather_ps(lut, _mm256_cvtepu8_epi32(xr), 4));
        _mm256_storeu_ps(g + i, _mm256_i32gather_ps(lut, _mm256_cvtepu8_epi32(xg), 4));
        _mm256_storeu_ps(b + i, _mm256_i32gather_ps(lut, _mm256_cvtepu8_epi32(xb), 4));
    }
    return i;
}
#endif

/* ---- one run of pixels ---------------------------------------------- */
/* o = M a (3x3, row-major) across the first n pixels of the block */
FK_INLINE void FK_FN(matvec)(T o[3][FK_COLOR_BLOCK], const T *m, T a[3][FK_COLOR_BLOCK],
                             ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        const T r = a[0][i], g = a[1][i], b = a[2][i];
        o[0][i] = m[0] * r + m[1] * g + m[2] * b;
        o[1][i] = m[3] * r + m[4] * g + m[5] * b;
        o[2][i] = m[6] * r + m[7] * g + m[8] * b;
    }
}

/* u' and v' of the CIELUV chromaticity from white-relative x, y, z (the
 * white's own come from x = y = z = 1 through the same expression, so
 * white gives u = v = 0); black (denominator 0) gives the white's un, vn */
FK_INLINE void FK_FN(uv)(T x, T y, T z, T wx, T wz, T un, T vn, T *u, T *v)
{
    const T den = (wx * x + (T)15.0 * y) + (T)3.0 * (wz * z);
    const int ok = den != (T)0.0;
    const T dd = ok ? den : (T)1.0;
    *u = ok ? (T)4.0 * (wx * x) / dd : un;
    *v = ok ? (T)9.0 * y / dd : vn;
}

/* pixels [x0, x1) of row y of a colour job */
static void FK_FN(colour)(const fk_colour_job *p, ptrdiff_t y, ptrdiff_t x0, ptrdiff_t x1)
{
    T a[3][FK_COLOR_BLOCK], o[3][FK_COLOR_BLOCK];
    T m[9];
    const T wx = (T)p->wx, wz = (T)p->wz, one = (T)1.0;
    T un, vn;
    const FK_FN(load_t) load = FK_FN(loader)(p->src_code);
    const FK_FN(store_t) store = FK_FN(storer)(p->dst_code);
    const int nout = p->op == FK_RGB2GRAY ? 1 : 3;
    const int decode = p->op == FK_RGB2XYZ || p->op == FK_RGB2LAB || p->op == FK_RGB2LUV;
    const int lut = decode && p->lut8 != NULL && FK_IS_FLOAT;
    const int own_in = p->src_code == FK_OWN;
    const int packed_in = !p->alpha && p->ssc == (lut ? 1 : (ptrdiff_t)sizeof(T))
                          && p->ss1 == 3 * p->ssc;
    const int packed_out = p->dst_code == FK_OWN && p->dsc == (ptrdiff_t)sizeof(T)
                           && p->ds1 == 3 * p->dsc;
    ptrdiff_t x, i;
    int c, k;
    for (k = 0; k < 9; k++) m[k] = (T)p->m[k];
    FK_FN(uv)(one, one, one, wx, wz, (T)0.0, (T)0.0, &un, &vn);
    for (x = x0; x < x1; x += FK_COLOR_BLOCK) {
        const ptrdiff_t n = x1 - x < FK_COLOR_BLOCK ? x1 - x : FK_COLOR_BLOCK;
        /* the arithmetic runs over a multiple of 16 pixels (padding of 0.5):
         * every pixel goes through the same vectorised code, none through
         * a scalar remainder that the compiler contracts (a b + c into an
         * FMA) differently, so a pixel's last bit never depends on where it
         * lies in the row, in a Dask chunk or in a tile */
        const ptrdiff_t nv = (n + 15) & ~(ptrdiff_t)15;
        const char *s = p->src + y * p->ss0 + x * p->ss1;
        char *d = p->dst + y * p->ds0 + x * p->ds1;
        for (c = 0; c < 3; c++)
            for (i = n; i < nv; i++) a[c][i] = (T)0.5;
        /* gather the three channels, as values in [0, 1] for integers;
         * packed pixels of the compute type, and packed uint8 through the
         * table, without the general strided loaders */
        if (packed_in && lut) {
            const unsigned char *su = (const unsigned char *)s;
#if FK_X86_AVX2 && FK_IS_FLOAT
            i = FK_ISA_FN(split_rgb8)(su, p->lut8, a[0], a[1], a[2], n);
#else
            i = 0;
#endif
            for (; i < n; i++) {
                a[0][i] = (T)p->lut8[su[3 * i]];
                a[1][i] = (T)p->lut8[su[3 * i + 1]];
                a[2][i] = (T)p->lut8[su[3 * i + 2]];
            }
        } else if (packed_in && own_in) {
            const T *st = (const T *)s;
            for (i = 0; i < n; i++) {
                a[0][i] = st[3 * i];
                a[1][i] = st[3 * i + 1];
                a[2][i] = st[3 * i + 2];
            }
            if (decode)
                for (c = 0; c < 3; c++)
                    for (i = 0; i < nv; i++) a[c][i] = FK_FN(decode)(a[c][i]);
        } else for (c = 0; c < 3; c++) {
            if (lut) {
                const unsigned char *sc = (const unsigned char *)(s + c * p->ssc);
                for (i = 0; i < n; i++) a[c][i] = (T)p->lut8[sc[i * p->ss1]];
                continue;
            }
            load(s + c * p->ssc, p->ss1, n, a[c]);
            if (p->in_max > 0.0) {
                const T mx = (T)p->in_max;
                for (i = 0; i < n; i++) a[c][i] = a[c][i] / mx;
            }
            if (decode)
                for (i = 0; i < nv; i++) a[c][i] = FK_FN(decode)(a[c][i]);
        }
        switch (p->op) {
        case FK_RGB2XYZ:
        case FK_XYZ2RGB:
            FK_FN(matvec)(o, m, a, nv);
            if (p->op == FK_XYZ2RGB)
                for (c = 0; c < 3; c++)
                    for (i = 0; i < nv; i++) o[c][i] = FK_FN(encode)(o[c][i]);
            break;
        case FK_RGB2LAB:
            FK_FN(matvec)(o, m, a, nv);
            for (i = 0; i < nv; i++) {
                const T fx = FK_FN(labf)(o[0][i]);
                const T fy = FK_FN(labf)(o[1][i]);
                const T fz = FK_FN(labf)(o[2][i]);
                /* L = 116 f(Y) - 16, which is kappa Y on the linear branch:
                 * black gives exactly 0 */
                o[0][i] = o[1][i] > (T)FK_EPS_D ? (T)116.0 * fy - (T)16.0
                                                : (T)FK_KAPPA_D * o[1][i];
                o[1][i] = (T)500.0 * (fx - fy);
                o[2][i] = (T)200.0 * (fy - fz);
            }
            break;
        case FK_RGB2LUV:
            FK_FN(matvec)(o, m, a, nv);
            for (i = 0; i < nv; i++) {
                const T X = o[0][i], Y = o[1][i], Z = o[2][i];
                const T lum = Y > (T)FK_EPS_D ? (T)116.0 * FK_FN(labf)(Y) - (T)16.0
                                              : (T)FK_KAPPA_D * Y;
                T u, v;
                FK_FN(uv)(X, Y, Z, wx, wz, un, vn, &u, &v);
                o[0][i] = lum;
                o[1][i] = (T)13.0 * lum * (u - un);
                o[2][i] = (T)13.0 * lum * (v - vn);
            }
            break;
        case FK_LAB2RGB:
            for (i = 0; i < nv; i++) {
                const T fy = (a[0][i] + (T)16.0) * (T)(1.0 / 116.0);
                const T fx = fy + a[1][i] * (T)0.002;
                const T fz = fy - a[2][i] * (T)0.005;
                a[0][i] = FK_FN(labfinv)(fx);
                a[1][i] = FK_FN(labfinv)(fy);
                a[2][i] = FK_FN(labfinv)(fz);
            }
            FK_FN(matvec)(o, m, a, nv);
            for (c = 0; c < 3; c++)
                for (i = 0; i < nv; i++) o[c][i] = FK_FN(encode)(o[c][i]);
            break;
        case FK_LUV2RGB:
            for (i = 0; i < nv; i++) {
                const T lum = a[0][i];
                const int black = lum == (T)0.0;
                const T L13 = (T)13.0 * (black ? one : lum);
                const T Y = FK_FN(labfinv)((lum + (T)16.0) / (T)116.0);
                const T u = a[1][i] / L13 + un, v = a[2][i] / L13 + vn;
                const T v4 = (T)4.0 * (v != (T)0.0 ? v : one);
                /* white-relative x = X / Xn and z = Z / Zn */
                a[0][i] = black ? (T)0.0 : Y * (T)9.0 * u / v4 / wx;
                a[1][i] = black ? (T)0.0 : Y;
                a[2][i] = black ? (T)0.0 : Y * ((T)12.0 - (T)3.0 * u - (T)20.0 * v) / v4 / wz;
            }
            FK_FN(matvec)(o, m, a, nv);
            for (c = 0; c < 3; c++)
                for (i = 0; i < nv; i++) o[c][i] = FK_FN(encode)(o[c][i]);
            break;
        default: /* FK_RGB2GRAY: luma of the encoded values */
            for (i = 0; i < nv; i++)
                o[0][i] = m[0] * a[0][i] + m[1] * a[1][i] + m[2] * a[2][i];
            break;
        }
        if (packed_out && nout == 3) {
            T *dt = (T *)d;
            for (i = 0; i < n; i++) {
                dt[3 * i] = o[0][i];
                dt[3 * i + 1] = o[1][i];
                dt[3 * i + 2] = o[2][i];
            }
        } else {
            for (c = 0; c < nout; c++) store(o[c], n, d + c * p->dsc, p->ds1);
        }
        if (p->alpha) {
            load(s + 3 * p->ssc, p->ss1, n, a[0]);
            if (p->in_max > 0.0) {
                const T mx = (T)p->in_max;
                for (i = 0; i < n; i++) a[0][i] = a[0][i] / mx;
            }
            store(a[0], n, d + 3 * p->dsc, p->ds1);
        }
    }
}

/*
 * fk_color.h -- sRGB, CIE XYZ, CIELAB, CIELUV and luma, pixel by pixel.
 *
 * The definitions (IEC 61966-2-1 sRGB, D65, the exact CIE constants
 * epsilon = 216/24389 and kappa = 24389/27) live in filterkit/color.py,
 * which derives the matrices in float64 and hands them in; this file only
 * computes.  Pixels are processed in blocks of FK_COLOR_BLOCK: the
 * channels of a block are gathered into planar buffers of the compute type
 * (any input dtype, any strides, through the loaders of fk_kernels.h), the
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
#ifndef FK_COLOR_H
#define FK_COLOR_H

#include "fk_kernels.h"


enum {
    FK_RGB2XYZ = 0,
    FK_XYZ2RGB = 1,
    FK_RGB2LAB = 2,
    FK_LAB2RGB = 3,
    FK_RGB2LUV = 4,
    FK_LUV2RGB = 5,
    FK_RGB2GRAY = 6
};

typedef struct {
    const char *src;
    ptrdiff_t ss0, ss1, ssc; /* bytes between rows, pixels, channels */
    int src_code;
    char *dst;
    ptrdiff_t ds0, ds1, dsc;
    int dst_code;
    int op;        /* FK_RGB2XYZ ... */
    int alpha;     /* 1: channel 3 passes through (scaled like the colours) */
    double m[9];   /* the op's 3x3 matrix, row-major (see color.py) */
    double wx, wz; /* X and Z of the white (Y = 1), for CIELUV */
    double in_max; /* integer input: divide by this; 0 for float input */
    const float *lut8; /* uint8 sRGB decode table, or NULL */
} fk_color_plan;

#define FK_COLOR_BLOCK 256

#define FK_EPS_D (216.0 / 24389.0)
#define FK_KAPPA_D (24389.0 / 27.0)

/* ---- float: exp2(p log2 x), branch-free ---------------------------- */
static inline float fk_bits_to_f(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

static inline int32_t fk_f_to_bits(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i;
}

/* log2(x) for normal x > 0: exponent plus log2 of the mantissa m in
 * [sqrt(1/2), sqrt(2)), as u P(u), u = m - 1, P of degree 7 fitted on
 * Chebyshev nodes (9e-8 absolute; no division, which costs more than the
 * whole polynomial in wide vectors) */
static inline float fk_log2_f(float x)
{
    const int32_t i = fk_f_to_bits(x);
    float m = fk_bits_to_f((i & 0x007fffff) | 0x3f800000);
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
static inline float fk_exp2_f(float y)
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
    return fk_bits_to_f((int32_t)((uint32_t)fk_f_to_bits(r) + ((uint32_t)n << 23)));
}

/* x^p for x > 0 (other x: the caller selects another branch); +inf and
 * NaN come back as they are */
static inline float fk_pow_f(float x, float p)
{
    const float r = fk_exp2_f(p * fk_log2_f(x));
    return x > 3.4028235e38f || x != x ? x : r;
}

static inline double fk_pow_d(double x, double p) { return pow(x, p); }

/* ---- the sRGB transfer function, CIE f and its inverse ------------- */
/* decode: c <= 0.04045 -> c / 12.92, else ((c + 0.055) / 1.055)^2.4 */
#define FK_DEFINE_TRANSFER(SUF, T, POW, CBRT)                                   \
static inline T fk_decode_##SUF(T c)                                            \
{                                                                               \
    const T hi = POW((c + (T)0.055) * (T)(1.0 / 1.055), (T)2.4);                \
    return c <= (T)0.04045 ? c * (T)(1.0 / 12.92) : (c == (T)1.0 ? (T)1.0 : hi); \
}                                                                               \
/* encode: c <= 0.0031308 -> 12.92 c, else 1.055 c^(1/2.4) - 0.055, written  \
 * 1.055 (c^(1/2.4) - 1) + 1 so that 1 maps to exactly 1 */                    \
static inline T fk_encode_##SUF(T c)                                            \
{                                                                               \
    const T hi = (T)1.055 * (POW(c, (T)(1.0 / 2.4)) - (T)1.0) + (T)1.0;         \
    return c <= (T)0.0031308 ? (T)12.92 * c : hi;                               \
}                                                                               \
/* CIE f(t) = t^(1/3) for t > epsilon, else (kappa t + 16) / 116 */             \
static inline T fk_labf_##SUF(T t)                                              \
{                                                                               \
    const T hi = CBRT(t);                                                       \
    return t > (T)FK_EPS_D ? hi : ((T)FK_KAPPA_D * t + (T)16.0) * (T)(1.0 / 116.0); \
}                                                                               \
/* its inverse: f^3 for f > 6/29, else (116 f - 16) / kappa */                  \
static inline T fk_labfinv_##SUF(T f)                                           \
{                                                                               \
    return f > (T)(6.0 / 29.0) ? f * f * f                                      \
                               : ((T)116.0 * f - (T)16.0) * (T)(1.0 / FK_KAPPA_D); \
}

/* t^(1/3) for normal t > 0 (other t: the caller selects another branch),
 * without a division: r = t^(-1/3) from the exponent bits divided by three
 * (within 4 %), three Newton steps r += r (1 - t r^3) / 3 (quadratic:
 * 2e-3, 6e-6, float rounding), then t r^2.  1 gives exactly 1. */
static inline float fk_cbrt_f(float t)
{
    const int32_t i = fk_f_to_bits(t);
    float r = fk_bits_to_f(0x54a21d2a - (int32_t)((float)i * (1.0f / 3.0f)));
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = r + r * (1.0f - t * (r * r * r)) * (1.0f / 3.0f);
    r = t * (r * r);
    return t == 1.0f ? 1.0f : r;
}
FK_DEFINE_TRANSFER(f, float, fk_pow_f, fk_cbrt_f)
FK_DEFINE_TRANSFER(d, double, fk_pow_d, cbrt)

/* ---- one run of pixels ---------------------------------------------- */
/* o = M a (3x3, row-major) across the block */
#define FK_MATVEC(O, M, A, N, T)                                                   \
    for (i = 0; i < (N); i++) {                                                 \
        const T r_ = (A)[0][i], g_ = (A)[1][i], b_ = (A)[2][i];                 \
        (O)[0][i] = (M)[0] * r_ + (M)[1] * g_ + (M)[2] * b_;                    \
        (O)[1][i] = (M)[3] * r_ + (M)[4] * g_ + (M)[5] * b_;                    \
        (O)[2][i] = (M)[6] * r_ + (M)[7] * g_ + (M)[8] * b_;                    \
    }

/* u' and v' of the CIELUV chromaticity from white-relative x, y, z (the
 * white's own come from x = y = z = 1 through the same expression, so
 * white gives u = v = 0); black (denominator 0) gives the white's */
#define FK_UV(X, Y, Z, WX, WZ, U, V, UN, VN, T)                                    \
    do {                                                                        \
        const T den_ = ((WX) * (X) + (T)15.0 * (Y)) + (T)3.0 * ((WZ) * (Z));    \
        const int ok_ = den_ != (T)0.0;                                         \
        const T dd_ = ok_ ? den_ : (T)1.0;                                      \
        (U) = ok_ ? (T)4.0 * ((WX) * (X)) / dd_ : (UN);                         \
        (V) = ok_ ? (T)9.0 * (Y) / dd_ : (VN);                                  \
    } while (0)

#define FK_DEFINE_COLOR(NAME, ATTR, T, SUF, LV)                                 \
ATTR static void NAME(const fk_color_plan *p, ptrdiff_t y, ptrdiff_t x0, ptrdiff_t x1) \
{                                                                               \
    T a[3][FK_COLOR_BLOCK], o[3][FK_COLOR_BLOCK];                               \
    T m[9];                                                                     \
    const T wx = (T)p->wx, wz = (T)p->wz, one = (T)1.0;                         \
    T un, vn;                                                                   \
    const fk_load_##SUF##_t load = fk_loader_##SUF##_##LV(p->src_code);         \
    const fk_store_##SUF##_t store = fk_storer_##SUF##_##LV(p->dst_code);       \
    const int nout = p->op == FK_RGB2GRAY ? 1 : 3;                              \
    const int decode = p->op == FK_RGB2XYZ || p->op == FK_RGB2LAB || p->op == FK_RGB2LUV; \
    const int lut = decode && p->lut8 != NULL && sizeof(T) == sizeof(float);    \
    const int own_in = p->src_code == (sizeof(T) == 4 ? FK_F32 : FK_F64);       \
    const int packed_in = !p->alpha && p->ssc == (lut ? 1 : (ptrdiff_t)sizeof(T)) \
                          && p->ss1 == 3 * p->ssc;                              \
    const int packed_out = p->dst_code == (sizeof(T) == 4 ? FK_F32 : FK_F64)    \
                           && p->dsc == (ptrdiff_t)sizeof(T) && p->ds1 == 3 * p->dsc; \
    ptrdiff_t x, i;                                                             \
    int c, k;                                                                   \
    for (k = 0; k < 9; k++) m[k] = (T)p->m[k];                                  \
    {                                                                           \
        T un_, vn_;                                                             \
        FK_UV(one, one, one, wx, wz, un_, vn_, (T)0.0, (T)0.0, T);                 \
        un = un_;                                                               \
        vn = vn_;                                                               \
    }                                                                           \
    for (x = x0; x < x1; x += FK_COLOR_BLOCK) {                                 \
        const ptrdiff_t n = x1 - x < FK_COLOR_BLOCK ? x1 - x : FK_COLOR_BLOCK;  \
        /* the arithmetic runs over a multiple of 16 pixels (padding of 0.5): \
         * every pixel goes through the same vectorised code, none through  \
         * a scalar remainder that the compiler contracts (a b + c into an   \
         * FMA) differently, so a pixel's last bit never depends on where it \
         * lies in the row, in a Dask chunk or in a tile */                 \
        const ptrdiff_t nv = (n + 15) & ~(ptrdiff_t)15;                        \
        const char *s = p->src + y * p->ss0 + x * p->ss1;                       \
        char *d = p->dst + y * p->ds0 + x * p->ds1;                             \
        for (c = 0; c < 3; c++)                                                 \
            for (i = n; i < nv; i++) a[c][i] = (T)0.5;                          \
        /* gather the three channels, as values in [0, 1] for integers;       \
         * packed pixels of the compute type, and packed uint8 through the    \
         * table, without the general strided loaders */                      \
        if (packed_in && lut) {                                                 \
            const unsigned char *su = (const unsigned char *)s;                 \
            for (i = 0; i < n; i++) {                                           \
                a[0][i] = (T)p->lut8[su[3 * i]];                                \
                a[1][i] = (T)p->lut8[su[3 * i + 1]];                            \
                a[2][i] = (T)p->lut8[su[3 * i + 2]];                            \
            }                                                                   \
        } else if (packed_in && own_in) {                                       \
            const T *st = (const T *)s;                                         \
            for (i = 0; i < n; i++) {                                           \
                a[0][i] = st[3 * i];                                            \
                a[1][i] = st[3 * i + 1];                                        \
                a[2][i] = st[3 * i + 2];                                        \
            }                                                                   \
            if (decode)                                                         \
                for (c = 0; c < 3; c++)                                         \
                    for (i = 0; i < nv; i++) a[c][i] = fk_decode_##SUF(a[c][i]); \
        } else for (c = 0; c < 3; c++) {                                        \
            if (lut) {                                                          \
                const unsigned char *sc = (const unsigned char *)(s + c * p->ssc); \
                for (i = 0; i < n; i++) a[c][i] = (T)p->lut8[sc[i * p->ss1]];   \
                continue;                                                       \
            }                                                                   \
            load(s + c * p->ssc, p->ss1, n, a[c]);                              \
            if (p->in_max > 0.0) {                                              \
                const T mx = (T)p->in_max;                                      \
                for (i = 0; i < n; i++) a[c][i] = a[c][i] / mx;                 \
            }                                                                   \
            if (decode)                                                         \
                for (i = 0; i < nv; i++) a[c][i] = fk_decode_##SUF(a[c][i]);     \
        }                                                                       \
        switch (p->op) {                                                        \
        case FK_RGB2XYZ:                                                        \
        case FK_XYZ2RGB:                                                        \
            FK_MATVEC(o, m, a, nv, T)                                               \
            if (p->op == FK_XYZ2RGB)                                            \
                for (c = 0; c < 3; c++)                                         \
                    for (i = 0; i < nv; i++) o[c][i] = fk_encode_##SUF(o[c][i]); \
            break;                                                              \
        case FK_RGB2LAB:                                                        \
            FK_MATVEC(o, m, a, nv, T)                                               \
            for (i = 0; i < nv; i++) {                                           \
                const T fx = fk_labf_##SUF(o[0][i]);                            \
                const T fy = fk_labf_##SUF(o[1][i]);                            \
                const T fz = fk_labf_##SUF(o[2][i]);                            \
                /* L = 116 f(Y) - 16, which is kappa Y on the linear branch:  \
                 * black gives exactly 0 */                                    \
                o[0][i] = o[1][i] > (T)FK_EPS_D ? (T)116.0 * fy - (T)16.0       \
                                                : (T)FK_KAPPA_D * o[1][i];      \
                o[1][i] = (T)500.0 * (fx - fy);                                 \
                o[2][i] = (T)200.0 * (fy - fz);                                 \
            }                                                                   \
            break;                                                              \
        case FK_RGB2LUV:                                                        \
            FK_MATVEC(o, m, a, nv, T)                                               \
            for (i = 0; i < nv; i++) {                                           \
                const T X = o[0][i], Y = o[1][i], Z = o[2][i];                  \
                const T L = Y > (T)FK_EPS_D ? (T)116.0 * fk_labf_##SUF(Y) - (T)16.0 \
                                            : (T)FK_KAPPA_D * Y;                \
                T u, v;                                                         \
                FK_UV(X, Y, Z, wx, wz, u, v, un, vn, T);                           \
                o[0][i] = L;                                                    \
                o[1][i] = (T)13.0 * L * (u - un);                               \
                o[2][i] = (T)13.0 * L * (v - vn);                               \
            }                                                                   \
            break;                                                              \
        case FK_LAB2RGB:                                                        \
            for (i = 0; i < nv; i++) {                                           \
                const T fy = (a[0][i] + (T)16.0) * (T)(1.0 / 116.0);            \
                const T fx = fy + a[1][i] * (T)0.002;                           \
                const T fz = fy - a[2][i] * (T)0.005;                           \
                a[0][i] = fk_labfinv_##SUF(fx);                                 \
                a[1][i] = fk_labfinv_##SUF(fy);                                 \
                a[2][i] = fk_labfinv_##SUF(fz);                                 \
            }                                                                   \
            FK_MATVEC(o, m, a, nv, T)                                               \
            for (c = 0; c < 3; c++)                                             \
                for (i = 0; i < nv; i++) o[c][i] = fk_encode_##SUF(o[c][i]);     \
            break;                                                              \
        case FK_LUV2RGB:                                                        \
            for (i = 0; i < nv; i++) {                                           \
                const T L = a[0][i];                                            \
                const int black = L == (T)0.0;                                  \
                const T L13 = (T)13.0 * (black ? one : L);                      \
                const T Y = fk_labfinv_##SUF((L + (T)16.0) / (T)116.0);         \
                const T u = a[1][i] / L13 + un, v = a[2][i] / L13 + vn;         \
                const T v4 = (T)4.0 * (v != (T)0.0 ? v : one);                  \
                /* white-relative x = X / Xn and z = Z / Zn */                 \
                a[0][i] = black ? (T)0.0 : Y * (T)9.0 * u / v4 / wx;            \
                a[1][i] = black ? (T)0.0 : Y;                                   \
                a[2][i] = black ? (T)0.0 : Y * ((T)12.0 - (T)3.0 * u - (T)20.0 * v) / v4 / wz; \
            }                                                                   \
            FK_MATVEC(o, m, a, nv, T)                                               \
            for (c = 0; c < 3; c++)                                             \
                for (i = 0; i < nv; i++) o[c][i] = fk_encode_##SUF(o[c][i]);     \
            break;                                                              \
        default: /* FK_RGB2GRAY: luma of the encoded values */                 \
            for (i = 0; i < nv; i++)                                             \
                o[0][i] = m[0] * a[0][i] + m[1] * a[1][i] + m[2] * a[2][i];     \
            break;                                                              \
        }                                                                       \
        if (packed_out && nout == 3) {                                          \
            T *dt = (T *)d;                                                     \
            for (i = 0; i < n; i++) {                                           \
                dt[3 * i] = o[0][i];                                            \
                dt[3 * i + 1] = o[1][i];                                        \
                dt[3 * i + 2] = o[2][i];                                        \
            }                                                                   \
        } else                                                                  \
            for (c = 0; c < nout; c++) store(o[c], n, d + c * p->dsc, p->ds1);  \
        if (p->alpha) {                                                         \
            load(s + 3 * p->ssc, p->ss1, n, a[0]);                              \
            if (p->in_max > 0.0) {                                              \
                const T mx = (T)p->in_max;                                      \
                for (i = 0; i < n; i++) a[0][i] = a[0][i] / mx;                 \
            }                                                                   \
            store(a[0], n, d + 3 * p->dsc, p->ds1);                             \
        }                                                                       \
    }                                                                           \
}

typedef void (*fk_color_t)(const fk_color_plan *p, ptrdiff_t y, ptrdiff_t x0, ptrdiff_t x1);

FK_DEFINE_COLOR(fk_color_f_base, , float, f, base)
FK_DEFINE_COLOR(fk_color_d_base, , double, d, base)
#ifdef FK_X86_DISPATCH
FK_DEFINE_COLOR(fk_color_f_avx2, FK_TARGET_AVX2, float, f, avx2)
FK_DEFINE_COLOR(fk_color_d_avx2, FK_TARGET_AVX2, double, d, avx2)
FK_DEFINE_COLOR(fk_color_f_avx512, FK_TARGET_AVX512, float, f, avx512)
FK_DEFINE_COLOR(fk_color_d_avx512, FK_TARGET_AVX512, double, d, avx512)
#endif
FK_DEFINE_DISPATCH(fk_color_f, fk_color_t, fk_color_f)
FK_DEFINE_DISPATCH(fk_color_d, fk_color_t, fk_color_d)


/* ---- the colour gradient (Di Zenzo) --------------------------------- */
/*
 * From the f_x and f_y of C channels (planes `plane` elements apart), per
 * pixel the structure tensor G = sum_c (f_x, f_y)_c (f_x, f_y)_c^T:
 * strength = sqrt(lambda_max(G) / C), the root mean square over the
 * channels of the gradient along the best direction, so C equal channels
 * give the grey strength; direction = the angle of lambda_max's
 * eigenvector, its sign chosen to agree with sum_c grad f_c (so equal
 * channels give the grey direction), in (-pi, pi] through the combine
 * kernel's atan2.  Values are scaled by the pixel's largest |f| first: no
 * overflow or underflow of the squares; a zero gradient gives exactly 0.
 */
#define FK_TENSOR_BLOCK 512
/* rows of C channels: channel c of the row starts at fx + c * plane; the
 * loops run across the block with the channel loop outside, so the
 * compiler vectorises them */
#define FK_DEFINE_TENSOR(NAME, ATTR, T, SQRT)                                   \
ATTR static void NAME(const T *fx, const T *fy, ptrdiff_t plane, int C, ptrdiff_t n, \
                      T *s, T *vx, T *vy)                                       \
{                                                                               \
    T m[FK_TENSOR_BLOCK], gxx[FK_TENSOR_BLOCK], gyy[FK_TENSOR_BLOCK];           \
    T gxy[FK_TENSOR_BLOCK], sx[FK_TENSOR_BLOCK], sy[FK_TENSOR_BLOCK];           \
    ptrdiff_t i;                                                                \
    int c;                                                                      \
    for (i = 0; i < n; i++) {                                                   \
        m[i] = (T)0.0;                                                          \
        gxx[i] = gyy[i] = gxy[i] = sx[i] = sy[i] = (T)0.0;                      \
    }                                                                           \
    for (c = 0; c < C; c++) {                                                   \
        const T *restrict a = fx + c * plane, *restrict b = fy + c * plane;     \
        for (i = 0; i < n; i++) {                                               \
            const T ax = a[i] < (T)0.0 ? -a[i] : a[i];                          \
            const T ay = b[i] < (T)0.0 ? -b[i] : b[i];                          \
            const T mx = ax > ay ? ax : ay;                                     \
            m[i] = mx > m[i] ? mx : m[i];                                       \
        }                                                                       \
    }                                                                           \
    for (i = 0; i < n; i++) m[i] = m[i] > (T)0.0 ? (T)1.0 / m[i] : (T)0.0;      \
    for (c = 0; c < C; c++) {                                                   \
        const T *restrict a = fx + c * plane, *restrict b = fy + c * plane;     \
        for (i = 0; i < n; i++) {                                               \
            const T u = a[i] * m[i], v = b[i] * m[i];                           \
            gxx[i] += u * u;                                                    \
            gyy[i] += v * v;                                                    \
            gxy[i] += u * v;                                                    \
            sx[i] += u;                                                         \
            sy[i] += v;                                                         \
        }                                                                       \
    }                                                                           \
    for (i = 0; i < n; i++) {                                                   \
        const T d = gxx[i] - gyy[i];                                            \
        const T lam = (T)0.5 * ((gxx[i] + gyy[i]) + SQRT(d * d + (T)4.0 * gxy[i] * gxy[i])); \
        const T big = m[i] > (T)0.0 ? (T)1.0 / m[i] : (T)0.0;                   \
        /* the eigenvector from the better-conditioned row of G - lam I */     \
        const T ex = gxx[i] >= gyy[i] ? lam - gyy[i] : gxy[i];                  \
        const T ey = gxx[i] >= gyy[i] ? gxy[i] : lam - gxx[i];                  \
        const int flip = ex * sx[i] + ey * sy[i] < (T)0.0;                      \
        s[i] = big * SQRT(lam / (T)C);                                          \
        vx[i] = flip ? -ex : ex;                                                \
        vy[i] = flip ? -ey : ey;                                                \
    }                                                                           \
}

typedef void (*fk_tensor_f_t)(const float *, const float *, ptrdiff_t, int, ptrdiff_t,
                              float *, float *, float *);
typedef void (*fk_tensor_d_t)(const double *, const double *, ptrdiff_t, int, ptrdiff_t,
                              double *, double *, double *);
FK_DEFINE_TENSOR(fk_tensor_rows_f_base, , float, sqrtf)
FK_DEFINE_TENSOR(fk_tensor_rows_d_base, , double, sqrt)
#ifdef FK_X86_DISPATCH
FK_DEFINE_TENSOR(fk_tensor_rows_f_avx2, FK_TARGET_AVX2, float, sqrtf)
FK_DEFINE_TENSOR(fk_tensor_rows_d_avx2, FK_TARGET_AVX2, double, sqrt)
FK_DEFINE_TENSOR(fk_tensor_rows_f_avx512, FK_TARGET_AVX512, float, sqrtf)
FK_DEFINE_TENSOR(fk_tensor_rows_d_avx512, FK_TARGET_AVX512, double, sqrt)
#endif
FK_DEFINE_DISPATCH(fk_tensor_f, fk_tensor_f_t, fk_tensor_rows_f)
FK_DEFINE_DISPATCH(fk_tensor_d, fk_tensor_d_t, fk_tensor_rows_d)

/* one row of the colour gradient: strength s[0..n) and (if d != NULL)
 * direction d[0..n), in blocks; the direction through the combine kernel's
 * atan2 of the eigenvector */
#define FK_DEFINE_TENSOR_ROW(SUF, T, COMBINE)                                   \
static void fk_tensor_row_##SUF(const T *fx, const T *fy, ptrdiff_t plane, int C, \
                                ptrdiff_t n, T *s, T *d, int cpu_cap)           \
{                                                                               \
    const fk_tensor_##SUF##_t tensor = fk_tensor_##SUF(cpu_cap);                \
    const fk_combine_##SUF##_t combine = COMBINE(cpu_cap);                      \
    T vx[FK_TENSOR_BLOCK], vy[FK_TENSOR_BLOCK], tmp[FK_TENSOR_BLOCK];           \
    ptrdiff_t x;                                                                \
    for (x = 0; x < n; x += FK_TENSOR_BLOCK) {                                  \
        const ptrdiff_t b = n - x < FK_TENSOR_BLOCK ? n - x : FK_TENSOR_BLOCK;  \
        tensor(fx + x, fy + x, plane, C, b, s + x, vx, vy);                     \
        if (d != NULL) combine(vx, vy, b, 1, tmp, d + x);                       \
    }                                                                           \
}
FK_DEFINE_TENSOR_ROW(f, float, fk_combine_f)
FK_DEFINE_TENSOR_ROW(d, double, fk_combine_d)

#endif /* FK_COLOR_H */

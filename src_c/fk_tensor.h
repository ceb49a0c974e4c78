/*
 * fk_tensor.h -- gradient strength and direction from f_x and f_y, and the
 * colour structure tensor (included by fk_impl.h once per compute type T).
 */

/*
 * Gradient strength and direction from f_x (a) and f_y (b):
 * s[i] = sqrt(a^2 + b^2) (no overflow or underflow of the squares); with
 * `direction`, d[i] = atan2(b, a) in (-pi, pi].  s and d may be a and b
 * themselves (each element is read before it is written).  A zero gradient
 * gives strength exactly 0 and direction 0.
 */
#ifndef FK_PI_D
#define FK_PI_F 3.14159265358979323846f
#define FK_PI_D 3.14159265358979323846
#endif

#if FK_IS_FLOAT
/* 1 + t^2, fused where the table has FMA, so that both loops below round it
 * the same (GCC fuses a product into an add only where it has no other use:
 * in the strength-only loop, not in the other); separate in the portable
 * table, which has no FMA to fuse with */
FK_INLINE float FK_FN(one_plus_sq)(float t)
{
#if FK_X86_AVX2
    return __builtin_fmaf(t, t, 1.0f);
#else
    return t * t + 1.0f;
#endif
}

/* The strength of one gradient as max * sqrt(1 + t^2), t = min / max (no
 * overflow or underflow of the squares, exactly 0 for a zero gradient);
 * t and z = t^2 are what the direction needs. */
FK_INLINE float FK_FN(strength)(float ax, float ay, float *t, float *z)
{
    const float mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    *t = mx > 0.0f ? mn / mx : 0.0f;
    *z = *t * *t;
    return mx * sqrtf(FK_FN(one_plus_sq)(*t));
}

/* float: a branch-free atan2 that the compiler vectorises, with one
 * division.  atan(t) = t P(t^2) with P of degree 8 fitted to minimise the
 * maximum error on [0, 1] (Lawson-weighted least squares on Chebyshev
 * nodes: 1.0e-7 in float32); the octant is restored by reflections.
 * Against numpy's float64 arctan2 on 4 million random gradients: at most
 * 3.3e-7 rad (tests allow 5e-7).  The direction loop is separate from the
 * strength-only one: with the test inside it, GCC stored the directions
 * with masked stores (vmaskmovps), which are microcoded and slow on AMD
 * CPUs. */
static void FK_FN(combine)(const float *a, const float *b, ptrdiff_t n, int direction, float *s,
                           float *d)
{
    ptrdiff_t i;
    if (!direction) {
        for (i = 0; i < n; i++) {
            float t, z;
            s[i] = FK_FN(strength)(fabsf(a[i]), fabsf(b[i]), &t, &z);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        const float x = a[i], y = b[i];
        const float ax = fabsf(x), ay = fabsf(y);
        float t, z, r;
        s[i] = FK_FN(strength)(ax, ay, &t, &z);
        r = 2.4567252470e-03f;
        r = r * z - 1.4401360898e-02f;
        r = r * z + 3.9781229115e-02f;
        r = r * z - 7.2348579184e-02f;
        r = r * z + 1.0498946390e-01f;
        r = r * z - 1.4161229296e-01f;
        r = r * z + 1.9985906784e-01f;
        r = r * z - 3.3332597030e-01f;
        r = (r * z + 9.9999988638e-01f) * t;
        r = ay > ax ? 0.5f * FK_PI_F - r : r;
        r = x < 0.0f ? FK_PI_F - r : r;
        r = y < 0.0f ? -r : r;
        d[i] = r;
    }
}
#else
/* double: the C library's hypot and atan2 (exact to an ulp, not vectorised) */
static void FK_FN(combine)(const double *a, const double *b, ptrdiff_t n, int direction,
                           double *s, double *d)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        const double x = a[i], y = b[i];
        s[i] = hypot(x, y);
        if (direction) {
            const double r = (x == 0.0 && y == 0.0) ? 0.0 : atan2(y, x);
            d[i] = r == -FK_PI_D ? FK_PI_D : r;
        }
    }
}
#endif

/* ---- the colour gradient (Di Zenzo) --------------------------------- */
/*
 * From the f_x and f_y of C channels (planes `plane` elements apart), per
 * pixel the structure tensor G = sum_c (f_x, f_y)_c (f_x, f_y)_c^T:
 * strength = sqrt(lambda_max(G) / C), the root mean square over the
 * channels of the gradient along the best direction, so C equal channels
 * give the grey strength; direction = the angle of lambda_max's
 * eigenvector, its sign chosen to agree with sum_c grad f_c (so equal
 * channels give the grey direction), in (-pi, pi] through combine's
 * atan2.  Values are scaled by the pixel's largest |f| first: no overflow
 * or underflow of the squares; a zero gradient gives exactly 0.
 */
#ifndef FK_TENSOR_BLOCK
#define FK_TENSOR_BLOCK 512
#endif

/* n <= FK_TENSOR_BLOCK pixels: strength s, eigenvector (vx, vy); the loops
 * run across the block with the channel loop outside, so the compiler
 * vectorises them */
static void FK_FN(tensor_block)(const T *fx, const T *fy, ptrdiff_t plane, int C, ptrdiff_t n,
                                T *s, T *vx, T *vy)
{
    T m[FK_TENSOR_BLOCK], gxx[FK_TENSOR_BLOCK], gyy[FK_TENSOR_BLOCK];
    T gxy[FK_TENSOR_BLOCK], sx[FK_TENSOR_BLOCK], sy[FK_TENSOR_BLOCK];
    ptrdiff_t i;
    int c;
    for (i = 0; i < n; i++) {
        m[i] = (T)0.0;
        gxx[i] = gyy[i] = gxy[i] = sx[i] = sy[i] = (T)0.0;
    }
    for (c = 0; c < C; c++) {
        const T *restrict a = fx + c * plane, *restrict b = fy + c * plane;
        for (i = 0; i < n; i++) {
            const T ax = a[i] < (T)0.0 ? -a[i] : a[i];
            const T ay = b[i] < (T)0.0 ? -b[i] : b[i];
            const T mx = ax > ay ? ax : ay;
            m[i] = mx > m[i] ? mx : m[i];
        }
    }
    for (i = 0; i < n; i++) m[i] = m[i] > (T)0.0 ? (T)1.0 / m[i] : (T)0.0;
    for (c = 0; c < C; c++) {
        const T *restrict a = fx + c * plane, *restrict b = fy + c * plane;
        for (i = 0; i < n; i++) {
            const T u = a[i] * m[i], v = b[i] * m[i];
            gxx[i] += u * u;
            gyy[i] += v * v;
            gxy[i] += u * v;
            sx[i] += u;
            sy[i] += v;
        }
    }
    for (i = 0; i < n; i++) {
        const T d = gxx[i] - gyy[i];
        const T lam = (T)0.5 * ((gxx[i] + gyy[i]) + FK_SQRT(d * d + (T)4.0 * gxy[i] * gxy[i]));
        const T big = m[i] > (T)0.0 ? (T)1.0 / m[i] : (T)0.0;
        /* the eigenvector from the better-conditioned row of G - lam I */
        const T ex = gxx[i] >= gyy[i] ? lam - gyy[i] : gxy[i];
        const T ey = gxx[i] >= gyy[i] ? gxy[i] : lam - gxx[i];
        const int flip = ex * sx[i] + ey * sy[i] < (T)0.0;
        s[i] = big * FK_SQRT(lam / (T)C);
        vx[i] = flip ? -ex : ex;
        vy[i] = flip ? -ey : ey;
    }
}

/* rows [y0, y1) of a tensor job, in blocks of pixels */
static void FK_FN(tensor_job)(const fk_tensor_job *job, ptrdiff_t y0, ptrdiff_t y1)
{
    T vx[FK_TENSOR_BLOCK], vy[FK_TENSOR_BLOCK], tmp[FK_TENSOR_BLOCK];
    ptrdiff_t y, x;
    for (y = y0; y < y1; y++) {
        const T *fx = (const T *)job->fx + y * job->frow, *fy = (const T *)job->fy + y * job->frow;
        T *s = (T *)job->s + y * job->srow;
        T *d = job->d != NULL ? (T *)job->d + y * job->drow : NULL;
        for (x = 0; x < job->W; x += FK_TENSOR_BLOCK) {
            const ptrdiff_t b = job->W - x < FK_TENSOR_BLOCK ? job->W - x : FK_TENSOR_BLOCK;
            FK_FN(tensor_block)(fx + x, fy + x, job->plane, (int)job->C, b, s + x, vx, vy);
            if (d != NULL) FK_FN(combine)(vx, vy, b, 1, tmp, d + x);
        }
    }
}

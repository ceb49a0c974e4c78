/*
 * fk_convert_dtype.h -- the loader and the storer between one storage
 * dtype S (named FK_SN) and the compute type T; included by fk_convert.h
 * once per dtype, with FK_SKIND and, for integers, the limits FK_SLO and
 * FK_SHI.  Undefines them at the end.
 */

static void FK_FN2(load, FK_SN)(const char *src, ptrdiff_t stride, ptrdiff_t n, T *dst)
{
    ptrdiff_t i;
    if (stride == (ptrdiff_t)sizeof(S)) {
        const S *s = (const S *)src;
        for (i = 0; i < n; i++) dst[i] = (T)s[i];
    } else {
        for (i = 0; i < n; i++) dst[i] = (T)(*(const S *)(src + i * stride));
    }
}

#if FK_SKIND == FK_SMALL
static void FK_FN2(store, FK_SN)(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)
{
    ptrdiff_t i = 0;
    if (stride == (ptrdiff_t)sizeof(S)) {
        S *restrict d = (S *)dst;
#if FK_X86_AVX2 && FK_IS_FLOAT
        /* a vector body first; the tail below */
        if (sizeof(S) == 1)
            i = FK_ISA_FN(vec8)(src, n, d, (float)(FK_SLO), (float)(FK_SHI), (FK_SLO) < 0);
        else
            i = FK_ISA_FN(vec16)(src, n, d, (float)(FK_SLO), (float)(FK_SHI), (FK_SLO) < 0);
#endif
        for (; i < n; i++) d[i] = (S)(int)FK_FN(clamp_round)(src[i], (T)(FK_SLO), (T)(FK_SHI));
        return;
    }
    for (i = 0; i < n; i++)
        *(S *)(dst + i * stride) = (S)(int)FK_FN(clamp_round)(src[i], (T)(FK_SLO), (T)(FK_SHI));
}
#elif FK_SKIND == FK_WIDE
static void FK_FN2(store, FK_SN)(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        double v = rint((double)src[i]);
        S r;
        if (v != v) r = 0;
        else if (v <= (double)(FK_SLO)) r = (FK_SLO);
        else if (v >= (double)(FK_SHI)) r = (FK_SHI);
        else r = (S)v;
        *(S *)(dst + i * stride) = r;
    }
}
#else
static void FK_FN2(store, FK_SN)(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride)
{
    ptrdiff_t i;
    if (stride == (ptrdiff_t)sizeof(S)) {
        S *d = (S *)dst;
        for (i = 0; i < n; i++) d[i] = (S)src[i];
    } else {
        for (i = 0; i < n; i++) *(S *)(dst + i * stride) = (S)src[i];
    }
}
#endif

#undef S
#undef FK_SN
#undef FK_SKIND
#undef FK_SLO
#undef FK_SHI

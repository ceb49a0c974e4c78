/*
 * fk_impl.h -- filterkit's kernels, written once and compiled once per
 * instruction set.
 *
 * Included by one translation unit per instruction set (fk_isa_*.c), which
 * first sets the compiler's target and defines:
 *   FK_ISA        the name suffix of this copy (portable, avx2, avx512)
 *   FK_ISA_LABEL  what simd_level() reports for it
 *   FK_LANES_F/D  lanes of the correlation kernels' float/double vectors
 *   FK_BOX_NV     lanes (float64) of the box filter's running-sum vectors
 *   FK_X86_AVX2   1 where AVX2 intrinsics may be used (16-bit storers, the
 *                 uint8 3 x 3 mean, the uint8 box sums' 16-bit rounding)
 * Every function here is static and named fk_<what>_<f|d>_<FK_ISA> (FK_FN),
 * so a profiler tells the copies apart; the one external symbol is the
 * table fk_kernels_<FK_ISA> at the end.
 *
 * Code for both compute types is written once in the files included below
 * twice, first with T = float, then with T = double:
 *   fk_convert.h  loaders and storers between the 10 dtypes and T
 *   fk_corr.h     the correlation kernels (one or two output rows)
 *   fk_tensor.h   gradient strength and direction, the structure tensor
 *   fk_corr_run.h the row driver of correlation and fused Sobel jobs
 *   fk_int.h      exact integer correlation and Sobel of 8/16-bit images
 *   fk_box.h      box sums with running sums (in integers for 8- and
 *                 16-bit images)
 *   fk_color.h    colour conversions
 *   fk_fft.h      correlation by FFT in blocks (overlap-save)
 */

/* names: FK_FN(corr_rows) is fk_corr_rows_f_avx2 in the float copy of the
 * AVX2 table; FK_FN2(store, u8) is fk_store_u8_f_avx2 */
#define FK_CAT3_(a, b, c) fk_##a##_##b##_##c
#define FK_CAT3(a, b, c) FK_CAT3_(a, b, c)
#define FK_CAT4_(a, b, c, d) fk_##a##_##b##_##c##_##d
#define FK_CAT4(a, b, c, d) FK_CAT4_(a, b, c, d)
#define FK_FN(x) FK_CAT3(x, FK_TS, FK_ISA)
#define FK_FN2(x, y) FK_CAT4(x, y, FK_TS, FK_ISA)
#define FK_TABLE_(isa) fk_kernels_##isa
#define FK_TABLE(isa) FK_TABLE_(isa)
/* a type-independent helper of this table: fk_<x>_<FK_ISA> */
#define FK_CAT2_(a, b) fk_##a##_##b
#define FK_CAT2(a, b) FK_CAT2_(a, b)
#define FK_ISA_FN(x) FK_CAT2(x, FK_ISA)

#define FK_INLINE static inline __attribute__((always_inline))
#define FK_PI 3.14159265358979323846

/* the box filter's 4 x float64 vectors in the portable table exceed its
 * 16-byte registers; GCC warns of the ABI of passing them, which only
 * inlined helpers do */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

/* Unaligned vectors that may alias the float/double buffers: a
 * dereference is an unaligned load or store. */
typedef float fk_vf __attribute__((vector_size(4 * FK_LANES_F), aligned(4), may_alias));
typedef double fk_vd __attribute__((vector_size(8 * FK_LANES_D), aligned(8), may_alias));
/* the FFT's vectors: FK_FFT_LANES_F / _D lanes (the widest registers;
 * defaults: the correlation kernels') */
#ifndef FK_FFT_LANES_F
#define FK_FFT_LANES_F FK_LANES_F
#define FK_FFT_LANES_D FK_LANES_D
#endif
typedef float fk_fft_vf __attribute__((vector_size(4 * FK_FFT_LANES_F), aligned(4), may_alias));
typedef double fk_fft_vd __attribute__((vector_size(8 * FK_FFT_LANES_D), aligned(8), may_alias));
/* the box filter's running sums: FK_BOX_NV float64, their bit patterns,
 * and FK_BOX_NV outputs of either compute type */
typedef double fk_vsum __attribute__((vector_size(8 * FK_BOX_NV), aligned(8), may_alias));
typedef long long fk_vsumi __attribute__((vector_size(8 * FK_BOX_NV)));
typedef float fk_vsum_f __attribute__((vector_size(4 * FK_BOX_NV), aligned(4), may_alias));
typedef double fk_vsum_d __attribute__((vector_size(8 * FK_BOX_NV), aligned(8), may_alias));

/* ---- vector helpers of the box filter ---------------------------------- */
/* FK_BOX_NV values from p as float64 (the compiler makes one conversion of
 * this; __builtin_convertvector of a float vector is split in two by
 * GCC 12) */
#if FK_BOX_NV == 4
#define FK_VSUM(p) ((fk_vsum){(double)(p)[0], (double)(p)[1], (double)(p)[2], (double)(p)[3]})
#else
#define FK_VSUM(p) ((fk_vsum){(double)(p)[0], (double)(p)[1], (double)(p)[2], (double)(p)[3], \
                              (double)(p)[4], (double)(p)[5], (double)(p)[6], (double)(p)[7]})
#endif
/* FK_SH(a, b, k): the FK_BOX_NV values starting k places into the pair a, b;
 * FK_SHZ(v, z, ...): lanes of v with zeros from z; FK_LASTV(v): the last lane
 * everywhere */
#if defined(__clang__)
#define FK_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define FK_SHUF1(a, ...) __builtin_shufflevector(a, a, __VA_ARGS__)
#else
#define FK_SHUF(a, b, ...) __builtin_shuffle(a, b, (fk_vsumi){__VA_ARGS__})
#define FK_SHUF1(a, ...) __builtin_shuffle(a, (fk_vsumi){__VA_ARGS__})
#endif

/* the values 1 and 2 places into the pair a, b */
FK_INLINE fk_vsum FK_ISA_FN(sh1)(fk_vsum a, fk_vsum b)
{
#if FK_BOX_NV == 4
    return FK_SHUF(a, b, 1, 2, 3, 4);
#else
    return FK_SHUF(a, b, 1, 2, 3, 4, 5, 6, 7, 8);
#endif
}

FK_INLINE fk_vsum FK_ISA_FN(sh2)(fk_vsum a, fk_vsum b)
{
#if FK_BOX_NV == 4
    return FK_SHUF(a, b, 2, 3, 4, 5);
#else
    return FK_SHUF(a, b, 2, 3, 4, 5, 6, 7, 8, 9);
#endif
}

/* in-register inclusive prefix sums of v: shifted adds, zeros shifted in */
FK_INLINE fk_vsum FK_ISA_FN(prefix)(fk_vsum v)
{
    const fk_vsum z = {0};
#if FK_BOX_NV == 4
    v += FK_SHUF(v, z, 4, 0, 1, 2);
    v += FK_SHUF(v, z, 4, 4, 0, 1);
#else
    v += FK_SHUF(v, z, 8, 0, 1, 2, 3, 4, 5, 6);
    v += FK_SHUF(v, z, 8, 8, 0, 1, 2, 3, 4, 5);
    v += FK_SHUF(v, z, 8, 8, 8, 8, 0, 1, 2, 3);
#endif
    return v;
}

/* the last lane in every lane */
FK_INLINE fk_vsum FK_ISA_FN(last)(fk_vsum v)
{
#if FK_BOX_NV == 4
    return FK_SHUF1(v, 3, 3, 3, 3);
#else
    return FK_SHUF1(v, 7, 7, 7, 7, 7, 7, 7, 7);
#endif
}

#if FK_X86_AVX2
/* ---- AVX2: float32 to 8- and 16-bit integers ------------------------- */
/* As the storers' clamp_round does: NaN to 0 (an AND with the ordered
 * mask), clamped with max and min (which GCC does not make of the selects:
 * it compared and blended, three times slower), rounded half to even by
 * cvtps2dq in the default rounding mode, then packed (the values are in
 * range, so the packs' saturation does nothing).  Each returns how many
 * leading values it stored. */
FK_INLINE __m256i FK_ISA_FN(cvt8)(const float *s, __m256 lo, __m256 hi)
{
    __m256 v = _mm256_loadu_ps(s);
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(v, lo), hi));
}

/* 32 values to 8 bits: packs of 32 to 16 bits, then 16 to 8 bits */
FK_INLINE ptrdiff_t FK_ISA_FN(vec8)(const float *src, ptrdiff_t n, void *d, float lo_, float hi_,
                                    int is_signed)
{
    const __m256 lo = _mm256_set1_ps(lo_), hi = _mm256_set1_ps(hi_);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    ptrdiff_t i;
    for (i = 0; i + 32 <= n; i += 32) {
        const __m256i ab = _mm256_packs_epi32(FK_ISA_FN(cvt8)(src + i, lo, hi),
                                              FK_ISA_FN(cvt8)(src + i + 8, lo, hi));
        const __m256i cd = _mm256_packs_epi32(FK_ISA_FN(cvt8)(src + i + 16, lo, hi),
                                              FK_ISA_FN(cvt8)(src + i + 24, lo, hi));
        const __m256i b = is_signed ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
        _mm256_storeu_si256((__m256i *)((char *)d + i), _mm256_permutevar8x32_epi32(b, order));
    }
    return i;
}

/* 16 values to 16 bits */
FK_INLINE ptrdiff_t FK_ISA_FN(vec16)(const float *src, ptrdiff_t n, void *d, float lo_,
                                     float hi_, int is_signed)
{
    const __m256 lo = _mm256_set1_ps(lo_), hi = _mm256_set1_ps(hi_);
    ptrdiff_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m256i a = FK_ISA_FN(cvt8)(src + i, lo, hi);
        const __m256i b = FK_ISA_FN(cvt8)(src + i + 8, lo, hi);
        const __m256i ab = is_signed ? _mm256_packs_epi32(a, b) : _mm256_packus_epi32(a, b);
        _mm256_storeu_si256((__m256i *)((char *)d + 2 * i), _mm256_permute4x64_epi64(ab, 0xD8));
    }
    return i;
}
#endif

/* ---- the float copy ----------------------------------------------------- */
#define T float
#define FK_TS f
#define FK_OWN FK_F32          /* the dtype code of T */
#define FK_IS_FLOAT 1
#define VT fk_vf               /* the correlation kernels' vector of T */
#define L FK_LANES_F           /* its lanes */
#define FK_VSUM_T fk_vsum_f    /* FK_BOX_NV values of T */
#define FK_SQRT sqrtf
#define FK_ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define FV fk_fft_vf
#define FL FK_FFT_LANES_F
#include "fk_convert.h"
#include "fk_corr.h"
#include "fk_tensor.h"
#include "fk_corr_run.h"
#include "fk_int.h"
#include "fk_box.h"
#include "fk_color.h"
#include "fk_fft.h"
#undef FV
#undef FL
#undef T
#undef FK_TS
#undef FK_OWN
#undef FK_IS_FLOAT
#undef VT
#undef L
#undef FK_VSUM_T
#undef FK_SQRT
#undef FK_ROUND_MAGIC

/* ---- the double copy ---------------------------------------------------- */
#define T double
#define FK_TS d
#define FK_OWN FK_F64
#define FK_IS_FLOAT 0
#define VT fk_vd
#define L FK_LANES_D
#define FK_VSUM_T fk_vsum_d
#define FK_SQRT sqrt
#define FK_ROUND_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define FV fk_fft_vd
#define FL FK_FFT_LANES_D
#include "fk_convert.h"
#include "fk_corr.h"
#include "fk_tensor.h"
#include "fk_corr_run.h"
#include "fk_int.h"
#include "fk_box.h"
#include "fk_color.h"
#include "fk_fft.h"
#undef FV
#undef FL
#undef T
#undef FK_TS
#undef FK_OWN
#undef FK_IS_FLOAT
#undef VT
#undef L
#undef FK_VSUM_T
#undef FK_SQRT
#undef FK_ROUND_MAGIC

/* ---- this instruction set's table ------------------------------------- */
const fk_kernels FK_TABLE(FK_ISA) = {
    FK_ISA_LABEL,
    FK_CAT3(corr_job, f, FK_ISA), FK_CAT3(corr_job, d, FK_ISA),
    FK_CAT3(sobel_job, f, FK_ISA), FK_CAT3(sobel_job, d, FK_ISA),
    FK_CAT3(box_job, f, FK_ISA), FK_CAT3(box_job, d, FK_ISA),
    FK_CAT3(colour, f, FK_ISA), FK_CAT3(colour, d, FK_ISA),
    FK_CAT3(tensor_job, f, FK_ISA), FK_CAT3(tensor_job, d, FK_ISA),
    FK_CAT3(icorr_job, f, FK_ISA), FK_CAT3(icorr_job, d, FK_ISA),
    FK_CAT3(fft_job, f, FK_ISA), FK_CAT3(fft_job, d, FK_ISA),
    FK_CAT3(fft_plan, f, FK_ISA), FK_CAT3(fft_plan, d, FK_ISA),
};

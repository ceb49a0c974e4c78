/*
 * fk_isa_avx512.c -- the kernels for x86 CPUs with AVX-512F and VL: the
 * AVX2 code's ymm vectors with EVEX encodings (32 vector registers, about
 * 5 % faster), and 64-byte (zmm) vectors in the box filter's running sums.  zmm vectors in the
 * correlation kernels were slower (more loads that cross cache lines).
 * The same source as every other table (fk_impl.h), compiled for target
 * "avx2,fma,avx512f,avx512vl"; fk_select picks it only on CPUs that have it.
 */
#include <math.h>
#include <string.h>
#include "fk_core.h"

#if FK_BUILD_X86
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512vl"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,avx512f,avx512vl")
#endif

#define FK_ISA avx512
#define FK_ISA_LABEL "avx512vl"
#define FK_LANES_F 8
#define FK_LANES_D 4
#define FK_BOX_NV 8
/* the FFT's butterflies in zmm vectors (1.2 times faster than ymm) */
#define FK_FFT_LANES_F 16
#define FK_FFT_LANES_D 8
#define FK_X86_AVX2 1
#include "fk_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* this compiler or architecture has the portable table only */
typedef int fk_isa_avx512_not_built;
#endif

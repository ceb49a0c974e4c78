/*
 * fk_isa_avx2.c -- the kernels for x86 CPUs with AVX2 and FMA: 32-byte (ymm) vectors.
 * The same source as every other table (fk_impl.h), compiled for target
 * "avx2,fma"; fk_select picks it only on CPUs that have it.
 */
#include <math.h>
#include <string.h>
#include "fk_core.h"

#if FK_BUILD_X86
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif

#define FK_ISA avx2
#define FK_ISA_LABEL "avx2+fma"
#define FK_LANES_F 8
#define FK_LANES_D 4
#define FK_BOX_NV 4
#define FK_X86_AVX2 1
#include "fk_impl.h"

#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
/* this compiler or architecture has the portable table only */
typedef int fk_isa_avx2_not_built;
#endif

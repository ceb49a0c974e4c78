/*
 * fk_isa_portable.c -- the portable kernels: 16-byte vectors (SSE2 on x86-64, NEON on ARM64), whatever the CPU.
 * The same source as every other table (fk_impl.h), compiled with the
 * build's default target.
 */
#include <math.h>
#include <string.h>
#include "fk_core.h"

#define FK_ISA portable
#define FK_ISA_LABEL "portable"
#define FK_LANES_F 4
#define FK_LANES_D 2
#define FK_BOX_NV 4
#define FK_X86_AVX2 0
#include "fk_impl.h"

/*
 * fk_convert.h -- loaders and storers between the 10 dtypes and the
 * compute type T (included by fk_impl.h once per T).
 *
 * loaders: dst[i] = (T) src[i * stride_bytes],  0 <= i < n.
 * storers: dst[i * stride_bytes] = convert(src[i]),  0 <= i < n; integer
 * targets round half to even, saturate, and take NaN to 0.
 * They are compiled for every table: the conversions vectorise with its
 * instructions (a uint8 store compiled for SSE2 took half of a 3 x 3
 * uint8 mean).  FK_FN(loader)(code) and FK_FN(storer)(code) pick one by
 * dtype code.
 */

typedef void (*FK_FN(load_t))(const char *src, ptrdiff_t stride, ptrdiff_t n, T *dst);
typedef void (*FK_FN(store_t))(const T *src, ptrdiff_t n, char *dst, ptrdiff_t stride);

/* NaN to 0, clamped to [lo, hi], then rounded half to even by adding and
 * subtracting 1.5 * 2^(mantissa bits), exact for |v| < 2^22 (float) or 2^51
 * (double) in the default rounding mode; rounding after clamping to integer
 * bounds gives the same as clamping after rounding.  A form the compiler
 * vectorises: rint() per value is a library call in a portable build (a
 * uint8 mean at 2048^2 spent two thirds of its time in it). */
static inline T FK_FN(clamp_round)(T v, T lo, T hi)
{
    v = v == v ? v : (T)0;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    return (v + FK_ROUND_MAGIC) - FK_ROUND_MAGIC;
}

/* storer kinds: 8- and 16-bit (clamp_round), wider integers (rint and
 * compares), floating point */
#define FK_SMALL 0
#define FK_WIDE 1
#define FK_FLOATING 2

#define S uint8_t
#define FK_SN u8
#define FK_SKIND FK_SMALL
#define FK_SLO 0
#define FK_SHI UINT8_MAX
#include "fk_convert_dtype.h"

#define S int8_t
#define FK_SN i8
#define FK_SKIND FK_SMALL
#define FK_SLO INT8_MIN
#define FK_SHI INT8_MAX
#include "fk_convert_dtype.h"

#define S uint16_t
#define FK_SN u16
#define FK_SKIND FK_SMALL
#define FK_SLO 0
#define FK_SHI UINT16_MAX
#include "fk_convert_dtype.h"

#define S int16_t
#define FK_SN i16
#define FK_SKIND FK_SMALL
#define FK_SLO INT16_MIN
#define FK_SHI INT16_MAX
#include "fk_convert_dtype.h"

#define S uint32_t
#define FK_SN u32
#define FK_SKIND FK_WIDE
#define FK_SLO 0
#define FK_SHI UINT32_MAX
#include "fk_convert_dtype.h"

#define S int32_t
#define FK_SN i32
#define FK_SKIND FK_WIDE
#define FK_SLO INT32_MIN
#define FK_SHI INT32_MAX
#include "fk_convert_dtype.h"

/* The int64 limits are not exactly representable as double: comparing with
 * the rounded-up double and assigning the exact limit saturates correctly. */
#define S uint64_t
#define FK_SN u64
#define FK_SKIND FK_WIDE
#define FK_SLO 0
#define FK_SHI UINT64_MAX
#include "fk_convert_dtype.h"

#define S int64_t
#define FK_SN i64
#define FK_SKIND FK_WIDE
#define FK_SLO INT64_MIN
#define FK_SHI INT64_MAX
#include "fk_convert_dtype.h"

#define S float
#define FK_SN f32
#define FK_SKIND FK_FLOATING
#include "fk_convert_dtype.h"

#define S double
#define FK_SN f64
#define FK_SKIND FK_FLOATING
#include "fk_convert_dtype.h"

#undef FK_SMALL
#undef FK_WIDE
#undef FK_FLOATING

/* the loader and the storer of dtype code (FK_U8 ... FK_F64), or NULL */
static FK_FN(load_t) FK_FN(loader)(int code)
{
    static const FK_FN(load_t) table[FK_NDTYPES] = {
        FK_FN2(load, u8), FK_FN2(load, i8), FK_FN2(load, u16), FK_FN2(load, i16),
        FK_FN2(load, u32), FK_FN2(load, i32), FK_FN2(load, u64), FK_FN2(load, i64),
        FK_FN2(load, f32), FK_FN2(load, f64)};
    return (code >= 0 && code < FK_NDTYPES) ? table[code] : 0;
}

static FK_FN(store_t) FK_FN(storer)(int code)
{
    static const FK_FN(store_t) table[FK_NDTYPES] = {
        FK_FN2(store, u8), FK_FN2(store, i8), FK_FN2(store, u16), FK_FN2(store, i16),
        FK_FN2(store, u32), FK_FN2(store, i32), FK_FN2(store, u64), FK_FN2(store, i64),
        FK_FN2(store, f32), FK_FN2(store, f64)};
    return (code >= 0 && code < FK_NDTYPES) ? table[code] : 0;
}

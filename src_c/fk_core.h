/*
 * fk_core.h -- what the Cython driver (_core.pyx) sees of filterkit's C core.
 *
 * The core computes; it validates and allocates nothing.  A job is one
 * small struct per kind of work (correlation, fused Sobel gradient, box
 * sums, colour conversion, colour structure tensor); the driver fills it,
 * asks fk_*_prepare for the per-thread workspace size where there is one,
 * splits the rows among OpenMP threads and calls the job's function from
 * one dispatch table (fk_kernels), chosen once per call by fk_select.
 *
 * The kernels are plain C written once (fk_impl.h and the files it
 * includes) and compiled once per instruction set: fk_isa_portable.c,
 * fk_isa_avx2.c and fk_isa_avx512.c each set their target and include the
 * same implementation, which ends in that instruction set's table.
 */
#ifndef FK_CORE_H
#define FK_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef _OPENMP
#define FK_HAVE_OPENMP 1
#else
#define FK_HAVE_OPENMP 0
#endif

/* Which tables this compiler builds besides the portable one: x86 with
 * GCC >= 5 or Clang >= 4 (function-level target selection, AVX2 and
 * AVX-512VL intrinsics, the vector extensions).  Anything else (another
 * architecture, MSVC, FK_NO_DISPATCH defined) builds the portable table
 * alone. */
#if (defined(__x86_64__) || defined(__i386__)) && !defined(FK_NO_DISPATCH) && \
    ((defined(__clang__) && __clang_major__ >= 4) || \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 5))
#define FK_BUILD_X86 1
#else
#define FK_BUILD_X86 0
#endif

/* dtype codes shared with the Python layer (filterkit/_validate.py) */
enum {
    FK_U8 = 0, FK_I8 = 1, FK_U16 = 2, FK_I16 = 3, FK_U32 = 4, FK_I32 = 5,
    FK_U64 = 6, FK_I64 = 7, FK_F32 = 8, FK_F64 = 9, FK_NDTYPES = 10
};

/* Border modes: how a virtual index outside [0, n) maps into it */
enum {
    FK_CONSTANT = 0, /* k k k | a b c d | k k k   (cval)            */
    FK_NEAREST = 1,  /* a a a | a b c d | d d d                     */
    FK_REFLECT = 2,  /* d c b a | a b c d | d c b a  (edge repeated) */
    FK_MIRROR = 3,   /* d c b | a b c d | c b a  (edge not repeated) */
    FK_WRAP = 4      /* a b c d | a b c d | a b c d                  */
};

/* colour operations (filterkit/color.py) */
enum {
    FK_RGB2XYZ = 0, FK_XYZ2RGB = 1, FK_RGB2LAB = 2, FK_LAB2RGB = 3,
    FK_RGB2LUV = 4, FK_LUV2RGB = 5, FK_RGB2GRAY = 6
};

/* cpu_cap (FILTERKIT_CPU): the best table allowed */
enum { FK_CAP_AUTO = 0, FK_CAP_PORTABLE = 1, FK_CAP_AVX2 = 2 };

/* Slack (in elements) that every row read by the kernels must have beyond
 * its logical end: the last block of 8 vectors (at most 64 floats) may read
 * up to one block past the last output pixel.  Workspaces have rows this
 * much longer. */
#define FK_SLACK 64

/* at most this many column strips per output row (fk_strips) */
#define FK_MAX_STRIPS 3

/* ---- jobs ------------------------------------------------------------ */

/* A 2-D source, a 2-D destination and the border between them: output
 * element (y, x) reads virtual source elements (y - oy + a, x - ox + C b);
 * those outside the source follow `mode` (cval for FK_CONSTANT).
 *
 * A row holds W / C pixels of C interleaved channels (C = 1: a grey
 * plane): W, Wo and ox count elements, ss1 and ds1 are the byte strides
 * between neighbouring elements (a pixel is C of them), and a mask's
 * horizontal taps are C elements apart, so each channel is filtered on
 * its own in one pass over the rows.  A column outside the row maps by
 * its pixel (fk_map_col): the border rule moves pixels, never channels. */
typedef struct {
    const char *src;
    ptrdiff_t H, W, ss0, ss1; /* rows, elements per row, byte strides */
    int src_code;
    char *dst;
    ptrdiff_t Ho, Wo, ds0, ds1;
    int dst_code;
    ptrdiff_t oy, ox;
    int mode;
    double cval;
    int C; /* interleaved channels per pixel */
    /* 0: dst is interleaved like src (ds1 between elements); else the
     * byte stride between a dst pixel's channels, ds1 between its pixels
     * (planes: the correlation and Sobel jobs scatter the channels) */
    ptrdiff_t dsc;
} fk_geom;

/* How a correlation's output rows are cut into column strips, and where its
 * per-thread workspace keeps what (fk_corr_prepare, fk_sobel_prepare).
 * Each output row is computed in up to three strips, left to right: when
 * the source has the compute type and contiguous rows, the interior strip
 * reads the source rows in place (rows outside the image are mapped by the
 * border rule, or point to a row of cval); the border columns (or the
 * whole row for other sources) go through a ring of kh + 1 rows per strip,
 * converted to the compute type and padded by the border mode. */
typedef struct {
    int nstrips;
    ptrdiff_t xb[FK_MAX_STRIPS + 1]; /* strip i: output columns [xb[i], xb[i + 1]) */
    int inplace[FK_MAX_STRIPS];
    size_t ring_off[FK_MAX_STRIPS]; /* element offsets of the rings */
    ptrdiff_t rl[FK_MAX_STRIPS];    /* ring row length (elements)   */
    size_t tmp_off, obuf_off, obuf2_off, cvrow_off, ws_elems;
} fk_strips;

/* A correlation with a kh x kw mask (compute type, C order): k, or its
 * factors col (kh, the vertical pass) and row (kw) with k NULL. */
typedef struct {
    fk_geom g;
    int kh, kw;
    const void *k, *col, *row;
    fk_strips strips; /* fk_corr_prepare */
} fk_corr_job;

/* The Sobel f_x (smoothing column [1 2 1], difference row [-1 0 1]) and
 * f_y (the transpose) fused: sqrt(f_x^2 + f_y^2) to g.dst and, unless dir
 * is NULL, atan2(f_y, f_x) to dir (Ho x Wo, byte strides dir_s0, dir_s1,
 * dtype dir_code). */
typedef struct {
    fk_geom g;
    char *dir;
    ptrdiff_t dir_s0, dir_s1, dir_sc; /* dir_sc: as fk_geom.dsc */
    int dir_code;
    fk_strips strips; /* fk_sobel_prepare */
} fk_sobel_job;

/* An exact integer correlation (fk_int.h) of an 8- or 16-bit image with
 * a mask of weights n 2^-shift: the integer numerators k (kh x kw), or the
 * factors col (kh) and row (kw) with k NULL, summed in lanes of int16
 * (lanes 0), int32 (1) or int16 read as uint16 (2; int16 lanes compute
 * modulo 2^16, the sums lying in the lanes' range), then times 2^-shift to the compute type and stored as the
 * float path stores.  With `sobel`, the fused Sobel gradient instead (the
 * masks of fk_sobel_job, shift 0, dir as there).  The caller guarantees
 * that no sum overflows its lanes or the compute type's mantissa, and that
 * cval (an integer) fits the source dtype. */
typedef struct {
    fk_geom g;
    int kh, kw;
    const int32_t *k, *col, *row;
    int shift, lanes;
    int32_t cval;
    int narrow; /* 1: a uint8 output may be rounded in 16-bit lanes (the
                 * sums plus 2^(shift-1) stay in their range) */
    int sobel;
    char *dir;
    ptrdiff_t dir_s0, dir_s1, dir_sc; /* dir_sc: as fk_geom.dsc */
    int dir_code;
    /* fk_icorr_prepare: ring row length (elements), byte offsets; t_off[2]
     * is a row for scattering channels into planes */
    ptrdiff_t rl;
    size_t ring_off, tmp_off, taps_off, t_off[3];
} fk_icorr_job;

/* A correlation by FFT in blocks of bh x bw (powers of two, at least 16;
 * fk_fft.h) of single-channel rows (g.C == 1): `plan` holds the twiddles
 * and the mask's spectrum (fk_fft_plan_elems elements of the compute type,
 * filled by the table's fftplan_*).  Bands start at multiples of
 * bh - kh + 1 rows from a job's first row, so the caller splits rows at
 * such multiples for the same result on any number of threads.  With
 * `nonfinite` not NULL, a block whose sum is not finite (a NaN or inf in
 * the image) sets *nonfinite and the job stops, its output partly
 * written. */
typedef struct {
    fk_geom g;
    int kh, kw, bh, bw;
    const void *plan;
    int *nonfinite;
} fk_fft_job;

/* Sums over kh x kw windows, times weight (1 / (kh kw) for the mean). */
typedef struct {
    fk_geom g;
    int kh, kw;
    double weight;
} fk_box_job;

/* One colour conversion of (rows, columns, channels) arrays, any strides. */
typedef struct {
    const char *src;
    ptrdiff_t ss0, ss1, ssc; /* bytes between rows, pixels, channels */
    int src_code;
    char *dst;
    ptrdiff_t ds0, ds1, dsc;
    int dst_code;
    int op;            /* FK_RGB2XYZ ... */
    int alpha;         /* 1: channel 3 passes through (scaled like the colours) */
    double m[9];       /* the op's 3x3 matrix, row-major (see color.py) */
    double wx, wz;     /* X and Z of the white (Y = 1), for CIELUV */
    double in_max;     /* integer input: divide by this; 0 for float input */
    const float *lut8; /* uint8 sRGB decode table, or NULL */
} fk_colour_job;

/* The colour gradient from the f_x and f_y of C channels: (C, H, W)
 * arrays of the compute type with unit column stride (strides in
 * elements); strength s and direction d (or NULL): (H, W), unit column
 * stride. */
typedef struct {
    const void *fx, *fy;
    ptrdiff_t C, H, W, plane, frow;
    void *s, *d;
    ptrdiff_t srow, drow;
} fk_tensor_job;

/* ---- the dispatch table ------------------------------------------------ */

/* output rows [y0, y1) of a job, with a per-thread workspace */
typedef void (*fk_rows_fn)(const void *job, void *ws, ptrdiff_t y0, ptrdiff_t y1);
/* pixels [x0, x1) of row y of a colour job */
typedef void (*fk_colour_fn)(const fk_colour_job *job, ptrdiff_t y, ptrdiff_t x0, ptrdiff_t x1);
/* rows [y0, y1) of a tensor job */
typedef void (*fk_tensor_fn)(const fk_tensor_job *job, ptrdiff_t y0, ptrdiff_t y1);
/* the plan of an FFT job from its kh x kw weights, with a workspace of
 * fk_fft_workspace_bytes */
typedef void (*fk_fft_plan_fn)(const fk_fft_job *job, const void *weights, void *plan, void *ws);

/* One instruction set's kernels; _f in float32, _d in float64. */
typedef struct {
    const char *name;
    fk_rows_fn corr_f, corr_d;     /* fk_corr_job */
    fk_rows_fn sobel_f, sobel_d;   /* fk_sobel_job */
    fk_rows_fn box_f, box_d;       /* fk_box_job */
    fk_colour_fn colour_f, colour_d;
    fk_tensor_fn tensor_f, tensor_d;
    fk_rows_fn icorr_f, icorr_d;   /* fk_icorr_job */
    fk_rows_fn fft_f, fft_d;       /* fk_fft_job */
    fk_fft_plan_fn fftplan_f, fftplan_d;
} fk_kernels;

extern const fk_kernels fk_kernels_portable;
#if FK_BUILD_X86
extern const fk_kernels fk_kernels_avx2;
extern const fk_kernels fk_kernels_avx512;
#endif

/* the best table this CPU runs, at most cpu_cap (FK_CAP_*) */
const fk_kernels *fk_select(int cpu_cap);

/* Loads n elements of a source row (stride bytes apart) into dst, as the
 * caller's element type (ctx: what the loader needs, e.g. its dtype). */
typedef void (*fk_row_load)(const void *ctx, const char *src, ptrdiff_t stride, ptrdiff_t n,
                            void *dst);

/* The one padded row of the kernels' rings: virtual row v's element
 * columns [c0, c1) into slot (elements of esz bytes), the image's part by
 * one call of `load`, rows and columns outside it by the border rule
 * (fk_map_index, fk_map_col), or `fill` (one element: cval) where the rule
 * gives none. */
void fk_pad_row(const fk_geom *g, ptrdiff_t v, ptrdiff_t c0, ptrdiff_t c1, void *slot,
                size_t esz, fk_row_load load, const void *ctx, const void *fill);

/* Fill in the strips of a job (its other fields set) and return the bytes
 * of workspace each thread needs; elem is sizeof the compute type. */
size_t fk_corr_prepare(fk_corr_job *job, size_t elem);
size_t fk_sobel_prepare(fk_sobel_job *job, size_t elem);
size_t fk_box_workspace_bytes(const fk_box_job *job, size_t elem);
size_t fk_icorr_prepare(fk_icorr_job *job, size_t elem);
/* the plan's elements (of the compute type) and a thread's workspace
 * (bytes) of an FFT job with blocks of bh x bw */
size_t fk_fft_plan_elems(int bh, int bw);
size_t fk_fft_workspace_bytes(int bh, int bw, size_t elem);
/* the rows that blocks of a box job's rows must start at multiples of */
ptrdiff_t fk_box_restart(const fk_box_job *job);

/* ---- helpers shared by the core's sources --------------------------------- */

static inline ptrdiff_t fk_pmod(ptrdiff_t i, ptrdiff_t m)
{
    ptrdiff_t r = i % m;
    return r < 0 ? r + m : r;
}

/* the source index that virtual index i (may be < 0 or >= n) reads, or -1
 * for "outside, use cval" */
static inline ptrdiff_t fk_map_index(ptrdiff_t i, ptrdiff_t n, int mode)
{
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case FK_NEAREST:
        return i < 0 ? 0 : n - 1;
    case FK_REFLECT: {
        ptrdiff_t r = fk_pmod(i, 2 * n);
        return r < n ? r : 2 * n - 1 - r;
    }
    case FK_MIRROR: {
        ptrdiff_t r;
        if (n == 1) return 0;
        r = fk_pmod(i, 2 * n - 2);
        return r < n ? r : 2 * n - 2 - r;
    }
    case FK_WRAP:
        return fk_pmod(i, n);
    default:
        return -1;
    }
}

/* the source element that virtual element column c of a row of W elements
 * in pixels of C channels reads, or -1 for cval: its pixel mapped by the
 * border rule, the same channel */
static inline ptrdiff_t fk_map_col(ptrdiff_t c, ptrdiff_t W, int C, int mode)
{
    ptrdiff_t p, m;
    if (c >= 0 && c < W) return c;
    if (C == 1) return fk_map_index(c, W, mode);
    p = c >= 0 ? c / C : -((-c + C - 1) / C); /* floor(c / C) */
    m = fk_map_index(p, W / C, mode);
    return m < 0 ? -1 : m * C + (c - p * C);
}

/* the row-pointer array at the start of a correlation's workspace (kh + 1
 * pointers), rounded to 64 bytes; the elements of fk_strips follow it */
static inline size_t fk_rows_bytes(int kh)
{
    return ((sizeof(void *) * (size_t)(kh + 1) + 63) / 64) * 64;
}

/* box filter constants shared by fk_core.c and the kernels */
/* at most this many rows between fresh column sums */
#define FK_BOX_RESTART 256
/* the horizontal step sums kw column sums directly up to this width
 * (cheaper than a prefix pass), and runs along the row beyond it */
#define FK_BOX_DIRECT_MAX 9
/* chunk of columns whose column sums are updated and used while in L1
 * (256 measured 10-15 % faster than 512 for wide windows, same for narrow) */
#define FK_BOX_CHUNK 256
/* outputs per chunk of the integer box sums (their window sums and the
 * converted outputs stay in the first-level cache until stored) */
#define FK_BOX_ICHUNK 1024
/* the FFT's rows are this many elements longer than a power of two (rows
 * a power of two apart collide in the caches' sets), and its transforms
 * run over strips of this many bytes of columns (a strip's sub-transforms
 * stay in the first-level cache) */
#define FK_FFT_PAD 16
#define FK_FFT_STRIP 256

#endif /* FK_CORE_H */

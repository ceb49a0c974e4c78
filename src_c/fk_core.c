/*
 * fk_core.c -- the parts of the core that no instruction set changes:
 * choosing the dispatch table, and the strip and workspace layout of jobs.
 */
#include "fk_core.h"

#include <string.h>

/* 0: portable, 1: AVX2+FMA, 2: AVX2+FMA with AVX-512VL encodings */
static int fk_cpu_level(int cpu_cap)
{
#if FK_BUILD_X86
    if (cpu_cap == FK_CAP_PORTABLE) return 0;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    if (cpu_cap != FK_CAP_AVX2 && __builtin_cpu_supports("avx512f")
        && __builtin_cpu_supports("avx512vl")) return 2;
    return 1;
#else
    (void)cpu_cap;
    return 0;
#endif
}

const fk_kernels *fk_select(int cpu_cap)
{
    switch (fk_cpu_level(cpu_cap)) {
#if FK_BUILD_X86
    case 2: return &fk_kernels_avx512;
    case 1: return &fk_kernels_avx2;
#endif
    default: return &fk_kernels_portable;
    }
}

static void fk_add_strip(fk_strips *s, ptrdiff_t x0, ptrdiff_t x1, int inplace)
{
    if (x1 <= x0) return;
    s->inplace[s->nstrips] = inplace;
    s->xb[s->nstrips] = x0;
    s->xb[++s->nstrips] = x1;
}

/* Split the output columns of a kh x kw correlation into strips and lay out
 * the workspace (in elements after the row pointers); `two` reserves the
 * second mask's output rows.  Returns the workspace bytes. */
static size_t fk_layout(fk_strips *s, const fk_geom *g, int kh, int kw, int two, size_t elem)
{
    const int own = elem == sizeof(float) ? FK_F32 : FK_F64;
    /* the elements a row of outputs reads beyond its own: kw - 1 pixels */
    const ptrdiff_t span = (ptrdiff_t)(kw - 1) * g->C;
    ptrdiff_t nmid = 0;
    size_t off = 0;
    int i;
    s->nstrips = 0;
    /* The in-place strip is a multiple of 64 columns wide so that the
     * kernel's block reads (8 vectors past each start) never leave the row. */
    if (g->src_code == own && g->ss1 == (ptrdiff_t)elem && g->W > span)
        nmid = ((g->W - span) / 64) * 64;
    if (nmid > 0) {
        fk_add_strip(s, 0, g->ox, 0);
        fk_add_strip(s, g->ox, g->ox + nmid, 1);
        fk_add_strip(s, g->ox + nmid, g->Wo, 0);
    } else {
        fk_add_strip(s, 0, g->Wo, 0);
    }
    for (i = 0; i < s->nstrips; i++) {
        s->rl[i] = s->xb[i + 1] - s->xb[i] + span + FK_SLACK;
        s->ring_off[i] = off;
        if (!s->inplace[i]) off += (size_t)(kh + 1) * (size_t)s->rl[i];
    }
    /* two rows of tmp and of obuf: output rows are computed in pairs */
    s->tmp_off = off;
    off += 2 * (size_t)(g->Wo + span + FK_SLACK);
    s->obuf_off = off;
    off += 2 * (size_t)(g->Wo + FK_SLACK);
    s->obuf2_off = off;
    if (two) off += 2 * (size_t)(g->Wo + FK_SLACK);
    s->cvrow_off = off;
    off += (size_t)(g->Wo + span + FK_SLACK);
    s->ws_elems = off;
    return fk_rows_bytes(kh) + elem * off;
}

size_t fk_corr_prepare(fk_corr_job *job, size_t elem)
{
    return fk_layout(&job->strips, &job->g, job->kh, job->kw, 0, elem);
}

size_t fk_sobel_prepare(fk_sobel_job *job, size_t elem)
{
    return fk_layout(&job->strips, &job->g, 3, 3, 1, elem);
}

/* Rows between fresh column sums, and the rows that blocks of rows for the
 * threads start at multiples of, so that every row is summed the same way
 * whatever the split (so it depends on the job, not on the threads).
 * Three-row windows have no running state: pairs of rows from even offsets.
 * Other windows restart every FK_BOX_RESTART rows at most, and on smaller
 * images split them into 2 or 4 equal parts of at least 4 kh and 32 rows
 * (a fresh sum reads kh rows, an update two): one block of 256 rows had
 * left the second thread idle on images up to 256 rows high, and three
 * parts for two threads were slower than one. */
ptrdiff_t fk_box_restart(const fk_box_job *job)
{
    const ptrdiff_t Ho = job->g.Ho > 1 ? job->g.Ho : 1;
    ptrdiff_t least = 4 * (ptrdiff_t)job->kh, parts = 1;
    if (job->kh == 3 && job->kw <= FK_BOX_DIRECT_MAX)
        return 2;
    least = least < 32 ? 32 : least;
    while (parts < 4 && Ho / (2 * parts) >= least)
        parts *= 2;
    if (parts * FK_BOX_RESTART < Ho)
        parts = (Ho + FK_BOX_RESTART - 1) / FK_BOX_RESTART;
    return (Ho + parts - 1) / parts;
}

size_t fk_box_workspace_bytes(const fk_box_job *job, size_t elem)
{
    /* padded columns [-ox, Wo - ox + (kw - 1) C) (elements) */
    const size_t padw = (size_t)(job->g.Wo + (ptrdiff_t)(job->kw - 1) * job->g.C);
    const size_t W = (size_t)job->g.W, Wo = (size_t)job->g.Wo;
    /* the running sums: two source rows (T), the column sums (double), an
     * output row, a chunk of a converted row */
    const size_t running = elem * 2 * (W + FK_SLACK) + sizeof(double) * (padw + FK_SLACK)
                           + elem * (Wo + FK_SLACK) + elem * (FK_BOX_CHUNK + FK_SLACK) + 128;
    /* the three-row path: four source rows, two column-sum rows, two
     * output rows */
    const size_t three = elem * 4 * (W + FK_SLACK) + sizeof(double) * 2 * (padw + FK_SLACK)
                         + elem * 2 * (Wo + FK_SLACK) + 128;
    /* the integer sums: column sums (at most uint32), a chunk of window
     * sums (uint32) and of outputs (T), a row of cval (at most uint16),
     * each aligned to 64 bytes */
    const size_t integer = 4 * (padw + FK_SLACK) + 4 * (FK_BOX_ICHUNK + FK_SLACK)
                           + elem * (FK_BOX_ICHUNK + FK_SLACK) + 2 * (W + FK_SLACK) + 4 * 64;
    size_t most = running > three ? running : three;
    return most > integer ? most : integer;
}

static size_t fk_round64(size_t b)
{
    return (b + 63) / 64 * 64;
}

/* The workspace of an integer correlation (fk_int.h): the row pointers, a
 * ring of kh + 1 padded rows and the vertical pass's row (lane type), the
 * masks' taps, two rows of the compute type. */
size_t fk_icorr_prepare(fk_icorr_job *job, size_t elem)
{
    const int kh = job->sobel ? 3 : job->kh, kw = job->sobel ? 3 : job->kw;
    const size_t asz = job->lanes == 1 ? 4 : 2;
    const ptrdiff_t span = (ptrdiff_t)(kw - 1) * job->g.C;
    const size_t trow = fk_round64(elem * (size_t)(job->g.Wo + FK_SLACK));
    /* tap records: 16 bytes each, at most kh kw + kh + kw (12 for Sobel) */
    const size_t ntaps = (size_t)kh * (size_t)kw + (size_t)kh + (size_t)kw + 12;
    size_t off = fk_rows_bytes(kh);
    job->rl = (ptrdiff_t)(fk_round64(asz * (size_t)(job->g.Wo + span + FK_SLACK)) / asz);
    job->ring_off = off;
    off += (size_t)(kh + 1) * asz * (size_t)job->rl;
    job->tmp_off = off;
    off += asz * (size_t)job->rl;
    job->taps_off = off;
    off += fk_round64(ntaps * 16);
    job->t_off[0] = off;
    off += trow;
    job->t_off[1] = off;
    off += trow;
    job->t_off[2] = off;
    off += trow;
    return off;
}

void fk_pad_row(const fk_geom *g, ptrdiff_t v, ptrdiff_t c0, ptrdiff_t c1, void *slot,
                size_t esz, fk_row_load load, const void *ctx, const void *fill)
{
    const ptrdiff_t s = fk_map_index(v, g->H, g->mode);
    char *out = (char *)slot;
    const char *srow;
    ptrdiff_t c, in0, in1;
    if (s < 0) {
        for (c = c0; c < c1; c++) memcpy(out + (size_t)(c - c0) * esz, fill, esz);
        return;
    }
    srow = g->src + s * g->ss0;
    in0 = c0 > 0 ? c0 : 0;
    in1 = c1 < g->W ? c1 : g->W;
    if (in1 > in0) load(ctx, srow + in0 * g->ss1, g->ss1, in1 - in0, out + (size_t)(in0 - c0) * esz);
    for (c = c0; c < c1; c++) {
        ptrdiff_t m;
        if (c >= in0 && c < in1) { c = in1 - 1; continue; }
        m = fk_map_col(c, g->W, g->C, g->mode);
        if (m < 0) memcpy(out + (size_t)(c - c0) * esz, fill, esz);
        else load(ctx, srow + m * g->ss1, g->ss1, 1, out + (size_t)(c - c0) * esz);
    }
}

size_t fk_fft_plan_elems(int bh, int bw)
{
    /* twiddles of both lengths (real and imaginary halves), then the
     * spectrum's two planes of bw rows of bh + FK_FFT_PAD */
    return (size_t)bh + (size_t)bw + 2 * (size_t)bw * (size_t)(bh + FK_FFT_PAD);
}

size_t fk_fft_workspace_bytes(int bh, int bw, size_t elem)
{
    /* (re, im): bh rows of bw + FK_FFT_PAD; (tre, tim): bw rows of bh + FK_FFT_PAD */
    return elem * 2 * ((size_t)bh * (size_t)(bw + FK_FFT_PAD) + (size_t)bw * (size_t)(bh + FK_FFT_PAD));
}

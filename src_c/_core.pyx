# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython core of filterkit: threads and workspaces around the C kernels.

Nothing here validates: the callers (through ``filterkit._native``) check
every argument, allocate the outputs and hand in arrays whose shapes,
dtypes and strides agree with the geometry.  This module fills one C job
struct per call (src_c/fk_core.h), picks the dispatch table for the CPU,
splits the output rows among OpenMP threads (``prange``, GIL released) and
gives each thread its own workspace.

The geometry arrives as ``filterkit._native.Border`` (oy, ox, mode, cval,
channels)
and the execution settings as ``Run`` (double, threads, cpu_cap); a colour
conversion as ``ColourOp``.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, free, malloc

cimport numpy as cnp

cnp.import_array()

cdef extern from "fk_core.h" nogil:
    const int FK_HAVE_OPENMP
    enum: FK_RGB2GRAY

    ctypedef struct fk_geom:
        const char *src
        Py_ssize_t H, W, ss0, ss1
        int src_code
        char *dst
        Py_ssize_t Ho, Wo, ds0, ds1
        int dst_code
        Py_ssize_t oy, ox
        int mode
        double cval
        int C
        Py_ssize_t dsc

    ctypedef struct fk_strips:
        pass

    ctypedef struct fk_corr_job:
        fk_geom g
        int kh, kw
        const void *k
        const void *col
        const void *row

    ctypedef struct fk_sobel_job:
        fk_geom g
        char *dir
        Py_ssize_t dir_s0, dir_s1, dir_sc
        int dir_code

    ctypedef struct fk_icorr_job:
        fk_geom g
        int kh, kw
        const int *k
        const int *col
        const int *row
        int shift, lanes
        int cval
        int narrow
        int sobel
        char *dir
        Py_ssize_t dir_s0, dir_s1, dir_sc
        int dir_code

    ctypedef struct fk_box_job:
        fk_geom g
        int kh, kw
        double weight

    ctypedef struct fk_fft_job:
        fk_geom g
        int kh, kw, bh, bw
        const void *plan
        int *nonfinite

    ctypedef struct fk_colour_job:
        const char *src
        Py_ssize_t ss0, ss1, ssc
        int src_code
        char *dst
        Py_ssize_t ds0, ds1, dsc
        int dst_code
        int op
        int alpha
        double m[9]
        double wx, wz
        double in_max
        const float *lut8

    ctypedef struct fk_tensor_job:
        const void *fx
        const void *fy
        Py_ssize_t C, H, W, plane, frow
        void *s
        void *d
        Py_ssize_t srow, drow

    ctypedef void (*fk_rows_fn)(const void *job, void *ws, Py_ssize_t y0, Py_ssize_t y1) noexcept nogil
    ctypedef void (*fk_colour_fn)(const fk_colour_job *job, Py_ssize_t y, Py_ssize_t x0,
                                  Py_ssize_t x1) noexcept nogil
    ctypedef void (*fk_tensor_fn)(const fk_tensor_job *job, Py_ssize_t y0, Py_ssize_t y1) noexcept nogil
    ctypedef void (*fk_fft_plan_fn)(const fk_fft_job *job, const void *weights, void *plan,
                                    void *ws) noexcept nogil

    ctypedef struct fk_kernels:
        const char *name
        fk_rows_fn corr_f, corr_d
        fk_rows_fn sobel_f, sobel_d
        fk_rows_fn box_f, box_d
        fk_colour_fn colour_f, colour_d
        fk_tensor_fn tensor_f, tensor_d
        fk_rows_fn icorr_f, icorr_d
        fk_rows_fn fft_f, fft_d
        fk_fft_plan_fn fftplan_f, fftplan_d

    const fk_kernels *fk_select(int cpu_cap)
    size_t fk_corr_prepare(fk_corr_job *job, size_t elem)
    size_t fk_sobel_prepare(fk_sobel_job *job, size_t elem)
    size_t fk_box_workspace_bytes(const fk_box_job *job, size_t elem)
    size_t fk_icorr_prepare(fk_icorr_job *job, size_t elem)
    Py_ssize_t fk_box_restart(const fk_box_job *job)
    size_t fk_fft_plan_elems(int bh, int bw)
    size_t fk_fft_workspace_bytes(int bh, int bw, size_t elem)


def openmp_enabled():
    """Return True when this build of the core was compiled with OpenMP."""
    return bool(FK_HAVE_OPENMP)


def cpu_path(int cpu_cap=0):
    """Name the kernels this CPU runs (at most `cpu_cap`, 0 = any): ``'avx512vl'``, ``'avx2+fma'`` or ``'portable'``."""
    return fk_select(cpu_cap).name.decode("ascii")


cdef int _dtype_code(cnp.ndarray a) except -1:
    """The core's dtype code (FK_U8 ... FK_F64 of fk_core.h) of `a`."""
    cdef int size = cnp.PyArray_ITEMSIZE(a)
    if cnp.PyArray_ISFLOAT(a):
        if size == 4:
            return 8
        if size == 8:
            return 9
    elif cnp.PyArray_ISINTEGER(a) and size in (1, 2, 4, 8):
        return {1: 0, 2: 2, 4: 4, 8: 6}[size] + (0 if cnp.PyArray_ISUNSIGNED(a) else 1)
    raise TypeError(f"filterkit core: unsupported dtype {a.dtype}")  # a caller's bug


cdef int _fill_row_strides(cnp.ndarray a, Py_ssize_t *n, Py_ssize_t *es, Py_ssize_t *cs) except -1:
    """A destination's row: 2-D (elements ``es`` bytes apart, ``cs`` = 0), or
    3-D (rows, pixels, channels) for pixels whose channels are not
    interleaved like the source's (``es`` between pixels, ``cs`` between
    channels)."""
    if a.ndim == 3 and a.strides[1] != a.shape[2] * a.strides[2]:
        n[0] = a.shape[1] * a.shape[2]
        es[0] = a.strides[1]
        cs[0] = a.strides[2]
    elif a.ndim == 3:
        n[0] = a.shape[1] * a.shape[2]
        es[0] = a.strides[2]
        cs[0] = 0
    else:
        n[0] = a.shape[1]
        es[0] = a.strides[1]
        cs[0] = 0
    return 0


cdef int _fill_direction(object direction, char **d, Py_ssize_t *s0, Py_ssize_t *s1,
                         Py_ssize_t *sc, int *code) except -1:
    """A Sobel job's direction output: none (NULL) or its rows as
    _fill_row_strides reads them."""
    cdef Py_ssize_t n
    d[0] = NULL
    s0[0] = 0
    s1[0] = 0
    sc[0] = 0
    code[0] = 0
    if direction is not None:
        d[0] = <char *>cnp.PyArray_DATA(<cnp.ndarray>direction)
        s0[0] = (<cnp.ndarray>direction).strides[0]
        _fill_row_strides(direction, &n, s1, sc)
        code[0] = _dtype_code(direction)
    return 0


cdef int _fill_geom(fk_geom *g, cnp.ndarray src, cnp.ndarray dst, object border) except -1:
    g.src = <const char *>cnp.PyArray_DATA(src)
    g.H = src.shape[0]
    g.W = src.shape[1]
    g.ss0 = src.strides[0]
    g.ss1 = src.strides[1]
    g.src_code = _dtype_code(src)
    g.dst = <char *>cnp.PyArray_DATA(dst)
    g.Ho = dst.shape[0]
    g.dst_code = _dtype_code(dst)
    g.ds0 = dst.strides[0]
    _fill_row_strides(dst, &g.Wo, &g.ds1, &g.dsc)
    oy, ox, mode, cval, channels = border
    # rows of interleaved pixels: the core counts columns in elements
    g.C = channels
    g.oy = oy
    g.ox = ox * channels
    g.mode = mode
    g.cval = cval
    return 0


cdef void _run_parallel(const void *job, fk_rows_fn run, Py_ssize_t Ho, size_t wsbytes,
                        int nthreads, Py_ssize_t granule=1) except *:
    """Split the Ho output rows among threads, each with its own workspace.

    One row block per thread keeps the per-block start-up (the first kh
    rows) to a minimum; a few per thread even out the load on a busy
    machine.  Blocks start at multiples of ``granule`` rows.  The split
    never changes a result.
    """
    cdef Py_ssize_t nblocks, ngran, b, y0, y1
    cdef int failed = 0
    cdef int *failp = &failed
    cdef void *ws
    if Ho < 1:
        return
    if nthreads < 1:
        nthreads = 1
    ngran = (Ho + granule - 1) // granule
    nblocks = 1 if nthreads == 1 else min(ngran, 4 * nthreads)
    with nogil, parallel(num_threads=nthreads):
        ws = calloc(wsbytes, 1)
        if ws == NULL:
            failp[0] = 1
        for b in prange(nblocks, schedule='dynamic'):
            if ws != NULL:
                y0 = min(((b * ngran) // nblocks) * granule, Ho)
                y1 = min((((b + 1) * ngran) // nblocks) * granule, Ho)
                run(job, ws, y0, y1)
        free(ws)
    if failed:
        raise MemoryError(f"filterkit: could not allocate a {wsbytes}-byte workspace")


cdef inline size_t _elem(bint double_precision):
    return sizeof(double) if double_precision else sizeof(float)


def correlate(cnp.ndarray src, cnp.ndarray dst, cnp.ndarray weights, object border, object run):
    """``dst`` = the correlation of the 2-D ``src`` with the 2-D ``weights``
    (C-contiguous, compute dtype); geometry ``border`` (``Border``), settings
    ``run`` (``Run``)."""
    cdef fk_corr_job job
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, dst, border)
    if job.g.Wo < 1:
        return
    job.kh = weights.shape[0]
    job.kw = weights.shape[1]
    job.k = cnp.PyArray_DATA(weights)
    job.col = NULL
    job.row = NULL
    _run_parallel(&job, kt.corr_d if double_precision else kt.corr_f, job.g.Ho,
                  fk_corr_prepare(&job, _elem(double_precision)), threads)


def correlate_factors(cnp.ndarray src, cnp.ndarray dst, cnp.ndarray column, cnp.ndarray row,
                      object border, object run):
    """``dst`` = the correlation with ``np.outer(column, row)`` as a vertical
    then a horizontal pass (factors contiguous, compute dtype)."""
    cdef fk_corr_job job
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, dst, border)
    if job.g.Wo < 1:
        return
    job.kh = column.shape[0]
    job.kw = row.shape[0]
    job.k = NULL
    job.col = cnp.PyArray_DATA(column)
    job.row = cnp.PyArray_DATA(row)
    _run_parallel(&job, kt.corr_d if double_precision else kt.corr_f, job.g.Ho,
                  fk_corr_prepare(&job, _elem(double_precision)), threads)


def sobel(cnp.ndarray src, cnp.ndarray strength, object direction, object border, object run):
    """The Sobel f_x and f_y fused: ``strength`` = sqrt(f_x^2 + f_y^2) and,
    unless `direction` is None, ``direction`` = atan2(f_y, f_x)."""
    cdef fk_sobel_job job
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, strength, border)
    if job.g.Wo < 1:
        return
    _fill_direction(direction, &job.dir, &job.dir_s0, &job.dir_s1, &job.dir_sc, &job.dir_code)
    _run_parallel(&job, kt.sobel_d if double_precision else kt.sobel_f, job.g.Ho,
                  fk_sobel_prepare(&job, _elem(double_precision)), threads)


cdef const int *_int_data(object a):
    if a is None:
        return NULL
    return <const int *>cnp.PyArray_DATA(<cnp.ndarray>a)


def correlate_integer(cnp.ndarray src, cnp.ndarray dst, object sums, object border, object run):
    """``dst`` = the exact integer correlation ``sums`` (``IntSums``: int32
    numerators k, or factors col and row, times 2^-shift; lanes 0 int16,
    1 int32, 2 uint16) of the 8- or 16-bit ``src``, converted as the float path stores."""
    cdef fk_icorr_job job
    double_precision, threads, cpu_cap = run
    k, col, row, shift, lanes, cval, narrow = sums
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, dst, border)
    if job.g.Wo < 1:
        return
    job.k = _int_data(k)
    job.col = _int_data(col)
    job.row = _int_data(row)
    if k is not None:
        job.kh = k.shape[0]
        job.kw = k.shape[1]
    else:
        job.kh = col.shape[0]
        job.kw = row.shape[0]
    job.shift = shift
    job.lanes = lanes
    job.cval = cval
    job.narrow = 1 if narrow else 0
    job.sobel = 0
    _fill_direction(None, &job.dir, &job.dir_s0, &job.dir_s1, &job.dir_sc, &job.dir_code)
    _run_parallel(&job, kt.icorr_d if double_precision else kt.icorr_f, job.g.Ho,
                  fk_icorr_prepare(&job, _elem(double_precision)), threads)


def sobel_integer(cnp.ndarray src, cnp.ndarray strength, object direction, object sums,
                  object border, object run):
    """`sobel` with f_x and f_y summed exactly in integers (``sums``: an
    ``IntSums`` whose lanes and cval count; its masks are Sobel's)."""
    cdef fk_icorr_job job
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, strength, border)
    if job.g.Wo < 1:
        return
    job.k = NULL
    job.col = NULL
    job.row = NULL
    job.kh = 3
    job.kw = 3
    job.shift = 0
    job.lanes = sums.lanes
    job.cval = sums.cval
    job.narrow = 0
    job.sobel = 1
    _fill_direction(direction, &job.dir, &job.dir_s0, &job.dir_s1, &job.dir_sc, &job.dir_code)
    _run_parallel(&job, kt.icorr_d if double_precision else kt.icorr_f, job.g.Ho,
                  fk_icorr_prepare(&job, _elem(double_precision)), threads)


def correlate_fft(cnp.ndarray src, cnp.ndarray dst, cnp.ndarray weights, object block,
                  object border, object run, bint check):
    """``dst`` = the correlation of the single-channel ``src`` with the 2-D
    ``weights`` (C-contiguous, compute dtype) by FFT in blocks of ``block``
    = (bh, bw) (powers of two of at least 16).  With ``check``, stops as
    soon as a block holds a NaN or an inf and returns True (``dst`` partly
    written); else returns False."""
    cdef fk_fft_job job
    cdef int nonfinite = 0
    cdef void *ws
    cdef size_t elem
    cdef fk_fft_plan_fn plan_fn
    cdef const void *wdata = cnp.PyArray_DATA(weights)
    cdef cnp.ndarray plan
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, dst, border)
    if job.g.Wo < 1 or job.g.Ho < 1:
        return False
    job.kh = weights.shape[0]
    job.kw = weights.shape[1]
    job.bh, job.bw = block
    job.nonfinite = &nonfinite if check else NULL
    elem = _elem(double_precision)
    plan = cnp.PyArray_EMPTY(1, [<cnp.npy_intp>fk_fft_plan_elems(job.bh, job.bw)],
                             cnp.NPY_FLOAT64 if double_precision else cnp.NPY_FLOAT32, 0)
    job.plan = cnp.PyArray_DATA(plan)
    plan_fn = kt.fftplan_d if double_precision else kt.fftplan_f
    ws = malloc(fk_fft_workspace_bytes(job.bh, job.bw, elem))
    if ws == NULL:
        raise MemoryError("filterkit: could not allocate the FFT's workspace")
    with nogil:
        plan_fn(&job, wdata, job.plan, ws)
    free(ws)
    # bands at multiples of bh - kh + 1 rows: the same blocks on any thread count
    _run_parallel(&job, kt.fft_d if double_precision else kt.fft_f, job.g.Ho,
                  fk_fft_workspace_bytes(job.bh, job.bw, elem), threads,
                  job.bh - job.kh + 1)
    return nonfinite != 0


def box(cnp.ndarray src, cnp.ndarray dst, int kh, int kw, double weight, object border,
        object run):
    """Sums over kh x kw windows with running sums, times `weight`."""
    cdef fk_box_job job
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    _fill_geom(&job.g, src, dst, border)
    if job.g.Wo < 1:
        return
    job.kh = kh
    job.kw = kw
    job.weight = weight
    _run_parallel(&job, kt.box_d if double_precision else kt.box_f, job.g.Ho,
                  fk_box_workspace_bytes(&job, _elem(double_precision)), threads,
                  fk_box_restart(&job))


# pixels per work item of a colour conversion: several items per row keep
# both threads busy on a single row of colours too
DEF COLOR_ITEM = 4096


def convert_colour(cnp.ndarray src, cnp.ndarray dst, object op, object run):
    """Convert the pixels of ``src`` (rows, columns, channels; any strides)
    into ``dst`` (same rows and columns) by ``op`` (``ColourOp``)."""
    cdef fk_colour_job p
    cdef const double[::1] matrix
    cdef const float[::1] lut8
    cdef Py_ssize_t R = src.shape[0], W = src.shape[1], nb, items, it, y, x0, x1
    cdef int k, nthreads
    cdef fk_colour_fn fn
    double_precision, threads, cpu_cap = run
    code, alpha, matrix_arr, white_xz, in_max, lut = op
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    fn = kt.colour_d if double_precision else kt.colour_f
    if src.shape[2] < 3 + alpha or dst.shape[2] < (1 if code == FK_RGB2GRAY else 3) + alpha:
        raise ValueError("convert_colour: too few channels for the operation")  # a caller's bug
    matrix = matrix_arr
    p.src = <const char *>cnp.PyArray_DATA(src)
    p.ss0 = src.strides[0]
    p.ss1 = src.strides[1]
    p.ssc = src.strides[2]
    p.src_code = _dtype_code(src)
    p.dst = <char *>cnp.PyArray_DATA(dst)
    p.ds0 = dst.strides[0]
    p.ds1 = dst.strides[1]
    p.dsc = dst.strides[2]
    p.dst_code = _dtype_code(dst)
    p.op = code
    p.alpha = alpha
    for k in range(9):
        p.m[k] = matrix[k]
    p.wx = white_xz[0]
    p.wz = white_xz[1]
    p.in_max = in_max
    p.lut8 = NULL
    if lut is not None:
        lut8 = lut
        p.lut8 = &lut8[0]
    if R < 1 or W < 1:
        return
    nb = (W + COLOR_ITEM - 1) // COLOR_ITEM
    items = R * nb
    nthreads = threads
    if nthreads < 1 or items < 2:
        nthreads = 1
    with nogil:
        for it in prange(items, schedule='static', num_threads=nthreads):
            y = it // nb
            x0 = (it % nb) * COLOR_ITEM
            x1 = min(x0 + COLOR_ITEM, W)
            fn(&p, y, x0, x1)


def structure_tensor(cnp.ndarray fx, cnp.ndarray fy, cnp.ndarray strength, object direction,
                     object run):
    """The colour gradient from per-channel f_x, f_y: (C, H, W) arrays of the
    compute type with unit column stride (fx and fy with the same strides);
    strength and direction (H, W) arrays of the compute type with unit
    column stride (direction may be None)."""
    cdef fk_tensor_job job
    cdef Py_ssize_t item = fx.itemsize, y
    cdef int nthreads
    cdef fk_tensor_fn fn
    double_precision, threads, cpu_cap = run
    cdef const fk_kernels *kt = fk_select(cpu_cap)
    fn = kt.tensor_d if double_precision else kt.tensor_f
    job.fx = cnp.PyArray_DATA(fx)
    job.fy = cnp.PyArray_DATA(fy)
    job.C = fx.shape[0]
    job.H = fx.shape[1]
    job.W = fx.shape[2]
    job.plane = fx.strides[0] // item
    job.frow = fx.strides[1] // item
    job.s = cnp.PyArray_DATA(strength)
    job.srow = strength.strides[0] // item
    job.d = NULL
    job.drow = 0
    if direction is not None:
        job.d = cnp.PyArray_DATA(<cnp.ndarray>direction)
        job.drow = (<cnp.ndarray>direction).strides[0] // item
    if job.H < 1 or job.W < 1:
        return
    nthreads = threads
    if nthreads < 1 or job.H < 2:
        nthreads = 1
    with nogil:
        for y in prange(job.H, schedule='static', num_threads=nthreads):
            fn(&job, y, y + 1)

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython core of filterkit: threads and workspaces around the C kernels.

Nothing here validates: ``filterkit._convolve`` checks every argument,
allocates the output and hands in arrays whose shapes, dtypes and strides
agree with the geometry.  This module only splits the output rows among
OpenMP threads (``prange``, GIL released) and gives each thread its own
workspace.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, free

cimport numpy as cnp

cnp.import_array()

cdef extern from "fk_box.h" nogil:
    ctypedef struct fk_plan:
        const char *src
        Py_ssize_t H, W, ss0, ss1
        int src_code
        char *dst
        Py_ssize_t Ho, Wo, ds0, ds1
        int dst_code
        int kh, kw
        const void *k
        const void *col
        const void *row
        Py_ssize_t oy, pl
        int mode
        double cval
        int cpu_cap
        double box_weight
        const void *k2
        const void *col2
        const void *row2
        int combine
        char *dst2
        Py_ssize_t d2s0, d2s1
        int dst2_code

    void fk_plan_init(fk_plan *p, size_t elem)
    size_t fk_workspace_bytes(const fk_plan *p)
    void fk_run_f(const fk_plan *p, void *ws, Py_ssize_t y0, Py_ssize_t y1)
    void fk_run_d(const fk_plan *p, void *ws, Py_ssize_t y0, Py_ssize_t y1)
    size_t fk_box_workspace_bytes(const fk_plan *p, size_t elem)
    Py_ssize_t fk_box_restart(const fk_plan *p)
    ctypedef void (*fk_run_t)(const fk_plan *p, void *ws, Py_ssize_t y0, Py_ssize_t y1) noexcept nogil
    fk_run_t fk_box_run_f(int cpu_cap)
    fk_run_t fk_box_run_d(int cpu_cap)
    const int FK_HAVE_OPENMP
    int fk_cpu_level(int cpu_cap)


cdef extern from "fk_color.h" nogil:
    enum: FK_RGB2GRAY
    ctypedef struct fk_color_plan:
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
    ctypedef void (*fk_color_t)(const fk_color_plan *p, Py_ssize_t y, Py_ssize_t x0,
                                Py_ssize_t x1) noexcept nogil
    fk_color_t fk_color_f(int cpu_cap)
    fk_color_t fk_color_d(int cpu_cap)
    void fk_tensor_row_f(const float *fx, const float *fy, Py_ssize_t plane, int C,
                         Py_ssize_t n, float *s, float *d, int cpu_cap)
    void fk_tensor_row_d(const double *fx, const double *fy, Py_ssize_t plane, int C,
                         Py_ssize_t n, double *s, double *d, int cpu_cap)


def openmp_enabled():
    """Return True when this build of the core was compiled with OpenMP."""
    return bool(FK_HAVE_OPENMP)


def cpu_path(int cpu_cap=0):
    """Name the kernels this CPU runs (at most `cpu_cap`, 0 = any): ``'avx512vl'``, ``'avx2+fma'`` or ``'portable'``."""
    return ("portable", "avx2+fma", "avx512vl")[fk_cpu_level(cpu_cap)]


cdef inline const void *_data_or_null(object arr):
    if arr is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>arr)


cdef void _fill_plan(fk_plan *p, cnp.ndarray src, cnp.ndarray dst, int src_code,
                     int dst_code, int kh, int kw, Py_ssize_t oy, Py_ssize_t pl,
                     int mode, double cval, int cpu_cap):
    p.src = <const char *>cnp.PyArray_DATA(src)
    p.H = src.shape[0]
    p.W = src.shape[1]
    p.ss0 = src.strides[0]
    p.ss1 = src.strides[1]
    p.src_code = src_code
    p.dst = <char *>cnp.PyArray_DATA(dst)
    p.Ho = dst.shape[0]
    p.Wo = dst.shape[1]
    p.ds0 = dst.strides[0]
    p.ds1 = dst.strides[1]
    p.dst_code = dst_code
    p.kh = kh
    p.kw = kw
    p.k = NULL
    p.col = NULL
    p.row = NULL
    p.oy = oy
    p.pl = pl
    p.mode = mode
    p.cval = cval
    p.cpu_cap = cpu_cap
    p.box_weight = 0.0
    p.k2 = NULL
    p.col2 = NULL
    p.row2 = NULL
    p.combine = 0
    p.dst2 = NULL
    p.d2s0 = 0
    p.d2s1 = 0
    p.dst2_code = 0


ctypedef void (*run_fn)(const fk_plan *p, void *ws, Py_ssize_t y0, Py_ssize_t y1) noexcept nogil


cdef void _run_parallel(const fk_plan *p, run_fn run, size_t wsbytes, int nthreads,
                        Py_ssize_t granule=1) except *:
    """Split the output rows among threads, each with its own workspace.

    One row block per thread keeps the per-block start-up (the first kh
    rows) to a minimum; a few per thread even out the load on a busy
    machine.  Blocks start at multiples of ``granule`` rows.  The split
    never changes a result.
    """
    cdef Py_ssize_t nblocks, ngran, b, y0, y1
    cdef int failed = 0
    cdef int *failp = &failed
    cdef void *ws
    if p.Ho < 1 or p.Wo < 1:
        return
    if nthreads < 1:
        nthreads = 1
    ngran = (p.Ho + granule - 1) // granule
    nblocks = 1 if nthreads == 1 else min(ngran, 4 * nthreads)
    with nogil, parallel(num_threads=nthreads):
        ws = calloc(wsbytes, 1)
        if ws == NULL:
            failp[0] = 1
        for b in prange(nblocks, schedule='dynamic'):
            if ws != NULL:
                y0 = min(((b * ngran) // nblocks) * granule, p.Ho)
                y1 = min((((b + 1) * ngran) // nblocks) * granule, p.Ho)
                run(p, ws, y0, y1)
        free(ws)
    if failed:
        raise MemoryError(f"filterkit: could not allocate a {wsbytes}-byte workspace")


def correlate_rows(cnp.ndarray src, cnp.ndarray dst, int src_code, int dst_code,
                   object kernel, object col, object row, int kh, int kw,
                   Py_ssize_t oy, Py_ssize_t pl, int mode, double cval,
                   bint double_precision, int nthreads, int cpu_cap=0,
                   object kernel2=None, int combine=0, object dst2=None,
                   int dst2_code=0, object col2=None, object row2=None):
    """Correlate the 2-D ``src`` into the 2-D ``dst`` (no checks here).

    ``kernel`` is the kh x kw correlation mask (C-contiguous, compute dtype)
    or None when ``col`` and ``row`` (its separable factors) are given.
    Output pixel (y, x) reads the virtual source pixels (y - oy + a,
    x - pl + b), a < kh, b < kw; virtual pixels outside the source follow
    the border ``mode``.

    ``combine`` 1 or 2 also correlates with a second mask of the same shape
    (``kernel2``, or its factors ``col2`` and ``row2`` when the first is given
    as factors) and writes sqrt(a^2 + b^2) to ``dst``; with 2, atan2(b, a)
    to ``dst2``.
    """
    cdef fk_plan p
    _fill_plan(&p, src, dst, src_code, dst_code, kh, kw, oy, pl, mode, cval, cpu_cap)
    p.k = _data_or_null(kernel)
    p.col = _data_or_null(col)
    p.row = _data_or_null(row)
    p.k2 = _data_or_null(kernel2)
    p.col2 = _data_or_null(col2)
    p.row2 = _data_or_null(row2)
    p.combine = combine
    p.dst2_code = dst2_code
    if dst2 is not None:
        p.dst2 = <char *>cnp.PyArray_DATA(<cnp.ndarray>dst2)
        p.d2s0 = (<cnp.ndarray>dst2).strides[0]
        p.d2s1 = (<cnp.ndarray>dst2).strides[1]
    fk_plan_init(&p, sizeof(double) if double_precision else sizeof(float))
    _run_parallel(&p, fk_run_d if double_precision else fk_run_f,
                  fk_workspace_bytes(&p), nthreads)


def box_rows(cnp.ndarray src, cnp.ndarray dst, int src_code, int dst_code, int kh, int kw,
             double weight, Py_ssize_t oy, Py_ssize_t pl, int mode, double cval,
             bint double_precision, int nthreads, int cpu_cap=0):
    """Sums over kh x kw windows with running sums, times `weight` (no checks here).

    Same geometry as :func:`correlate_rows`; every weight of the mask is
    `weight` (1 / (kh * kw) for the mean).
    """
    cdef fk_plan p
    cdef size_t elem = sizeof(double) if double_precision else sizeof(float)
    _fill_plan(&p, src, dst, src_code, dst_code, kh, kw, oy, pl, mode, cval, cpu_cap)
    p.box_weight = weight
    _run_parallel(&p, <run_fn>(fk_box_run_d(cpu_cap) if double_precision
                               else fk_box_run_f(cpu_cap)),
                  fk_box_workspace_bytes(&p, elem), nthreads, fk_box_restart(&p))


# pixels per work item of a colour conversion: several items per row keep
# both threads busy on a single row of colours too
DEF COLOR_ITEM = 4096


def color_rows(cnp.ndarray src, cnp.ndarray dst, int src_code, int dst_code, int op,
               bint alpha, const double[::1] matrix, double wx, double wz, double in_max,
               const float[::1] lut8, bint double_precision, int nthreads, int cpu_cap=0):
    """Convert the pixels of ``src`` (rows, columns, channels; any strides)
    into ``dst`` (same rows and columns) by ``op`` (FK_RGB2XYZ, ...)."""
    cdef fk_color_plan p
    cdef fk_color_t fn = fk_color_d(cpu_cap) if double_precision else fk_color_f(cpu_cap)
    cdef Py_ssize_t R = src.shape[0], W = src.shape[1], nb, items, it, y, x0, x1
    cdef int k
    if src.shape[2] < 3 + alpha or dst.shape[2] < (1 if op == FK_RGB2GRAY else 3) + alpha:
        raise ValueError("color_rows: too few channels for the operation")  # a caller's bug
    p.src = <const char *>cnp.PyArray_DATA(src)
    p.ss0 = src.strides[0]
    p.ss1 = src.strides[1]
    p.ssc = src.strides[2]
    p.src_code = src_code
    p.dst = <char *>cnp.PyArray_DATA(dst)
    p.ds0 = dst.strides[0]
    p.ds1 = dst.strides[1]
    p.dsc = dst.strides[2]
    p.dst_code = dst_code
    p.op = op
    p.alpha = alpha
    for k in range(9):
        p.m[k] = matrix[k]
    p.wx = wx
    p.wz = wz
    p.in_max = in_max
    p.lut8 = &lut8[0] if lut8 is not None else NULL
    if R < 1 or W < 1:
        return
    nb = (W + COLOR_ITEM - 1) // COLOR_ITEM
    items = R * nb
    if nthreads < 1 or items < 2:
        nthreads = 1
    with nogil:
        for it in prange(items, schedule='static', num_threads=nthreads):
            y = it // nb
            x0 = (it % nb) * COLOR_ITEM
            x1 = min(x0 + COLOR_ITEM, W)
            fn(&p, y, x0, x1)


def tensor_rows(cnp.ndarray fx, cnp.ndarray fy, cnp.ndarray strength, object direction,
                bint double_precision, int nthreads, int cpu_cap=0):
    """The colour gradient from per-channel f_x, f_y: (C, H, W) arrays of the
    compute type with unit column stride (fx and fy with the same strides);
    strength and direction (H, W) arrays of the compute type with unit
    column stride (direction may be None)."""
    cdef Py_ssize_t C = fx.shape[0], H = fx.shape[1], W = fx.shape[2], y
    cdef Py_ssize_t item = fx.itemsize
    cdef Py_ssize_t plane = fx.strides[0] // item, frow = fx.strides[1] // item
    cdef Py_ssize_t srow = strength.strides[0] // item
    cdef Py_ssize_t drow = direction.strides[0] // item if direction is not None else 0
    cdef char *pfx = <char *>cnp.PyArray_DATA(fx)
    cdef char *pfy = <char *>cnp.PyArray_DATA(fy)
    cdef char *ps = <char *>cnp.PyArray_DATA(strength)
    cdef char *pd = <char *>_data_or_null(direction)
    cdef int ci = <int>C
    if H < 1 or W < 1:
        return
    if nthreads < 1 or H < 2:
        nthreads = 1
    with nogil:
        for y in prange(H, schedule='static', num_threads=nthreads):
            if double_precision:
                fk_tensor_row_d(<const double *>pfx + y * frow, <const double *>pfy + y * frow, plane,
                                ci, W, <double *>ps + y * srow,
                                <double *>pd + y * drow if pd != NULL else NULL, cpu_cap)
            else:
                fk_tensor_row_f(<const float *>pfx + y * frow, <const float *>pfy + y * frow, plane,
                                ci, W, <float *>ps + y * srow,
                                <float *>pd + y * drow if pd != NULL else NULL, cpu_cap)

# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Cython core of filterkit: threads and workspaces around the C kernels.

Nothing here validates: ``filterkit._convolve`` checks every argument,
allocates the output and hands in arrays whose shapes, dtypes and strides
agree with the geometry.  This module only splits the output rows among
OpenMP threads (``prange``, GIL released) and gives each thread its own
workspace.
"""

from cython.parallel cimport parallel, prange
from libc.stdlib cimport calloc, free, malloc

cimport numpy as cnp

cnp.import_array()

cdef extern from "fk_plan.h" nogil:
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
        Py_ssize_t oy, pl, pr
        int mode
        double cval
        int force_portable

    Py_ssize_t fk_max_strips(const fk_plan *p)
    Py_ssize_t fk_plan_strips(const fk_plan *p, size_t elem, Py_ssize_t *bounds,
                              unsigned char *inplace, Py_ssize_t *ring_sw)
    size_t fk_workspace_bytes(const fk_plan *p, Py_ssize_t sw, size_t elem)
    void fk_run_f(const fk_plan *p, void *ws, Py_ssize_t sw, Py_ssize_t y0,
                  Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1, int inplace)
    void fk_run_d(const fk_plan *p, void *ws, Py_ssize_t sw, Py_ssize_t y0,
                  Py_ssize_t y1, Py_ssize_t x0, Py_ssize_t x1, int inplace)
    const int FK_HAVE_OPENMP
    int fk_cpu_level(int force_portable)


def openmp_enabled():
    """Return True when this build of the core was compiled with OpenMP."""
    return bool(FK_HAVE_OPENMP)


def cpu_path(bint force_portable=False):
    """Name the kernels this CPU runs: ``'avx512vl'``, ``'avx2+fma'`` or ``'portable'``."""
    return ("portable", "avx2+fma", "avx512vl")[fk_cpu_level(force_portable)]


cdef inline const void *_data_or_null(object arr):
    if arr is None:
        return NULL
    return cnp.PyArray_DATA(<cnp.ndarray>arr)


def correlate_rows(cnp.ndarray src, cnp.ndarray dst, int src_code, int dst_code,
                   object kernel, object col, object row, int kh, int kw,
                   Py_ssize_t oy, Py_ssize_t pl, Py_ssize_t pr, int mode,
                   double cval, bint double_precision, int nthreads,
                   bint force_portable=False):
    """Correlate the 2-D ``src`` into the 2-D ``dst`` (no checks here).

    ``kernel`` is the kh x kw correlation mask (C-contiguous, compute dtype)
    or None when ``col`` and ``row`` (its separable factors) are given.
    Output row y reads virtual source rows y - oy + a (a < kh); padded rows
    hold ``pl`` columns before the image and ``pr`` after it.
    """
    cdef fk_plan p
    cdef size_t elem = sizeof(double) if double_precision else sizeof(float)
    cdef size_t wsbytes
    cdef Py_ssize_t nblocks, nstrips, sw, item, b, st, y0, y1, x0, x1
    cdef int failed = 0
    cdef int *failp = &failed
    cdef void *ws
    cdef Py_ssize_t *bounds
    cdef unsigned char *inplace

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
    p.k = _data_or_null(kernel)
    p.col = _data_or_null(col)
    p.row = _data_or_null(row)
    p.oy = oy
    p.pl = pl
    p.pr = pr
    p.mode = mode
    p.cval = cval
    p.force_portable = force_portable

    if p.Ho < 1 or p.Wo < 1:
        return
    if nthreads < 1:
        nthreads = 1
    bounds = <Py_ssize_t *>malloc((fk_max_strips(&p) + 1) * sizeof(Py_ssize_t))
    inplace = <unsigned char *>malloc(fk_max_strips(&p) + 1)
    if bounds == NULL or inplace == NULL:
        free(bounds)
        free(inplace)
        raise MemoryError("filterkit: could not allocate the strip table")
    nstrips = fk_plan_strips(&p, elem, bounds, inplace, &sw)
    wsbytes = fk_workspace_bytes(&p, sw, elem)
    # Work items are (row block, column strip).  One row block per thread
    # keeps the ring reloads (kh - 1 rows per item) to a minimum; a few per
    # thread even out the load on a busy machine.
    nblocks = 1 if nthreads == 1 else min(p.Ho, 4 * nthreads)

    with nogil, parallel(num_threads=nthreads):
        ws = calloc(wsbytes, 1)
        if ws == NULL:
            failp[0] = 1
        for item in prange(nblocks * nstrips, schedule='dynamic'):
            if ws != NULL:
                b = item // nstrips
                st = item % nstrips
                y0 = (b * p.Ho) // nblocks
                y1 = ((b + 1) * p.Ho) // nblocks
                x0 = bounds[st]
                x1 = bounds[st + 1]
                if double_precision:
                    fk_run_d(&p, ws, sw, y0, y1, x0, x1, inplace[st])
                else:
                    fk_run_f(&p, ws, sw, y0, y1, x0, x1, inplace[st])
        free(ws)
    free(bounds)
    free(inplace)
    if failed:
        raise MemoryError(f"filterkit: could not allocate a {wsbytes}-byte workspace")

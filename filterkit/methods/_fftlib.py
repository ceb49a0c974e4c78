"""The FFT machinery of the fft and overlap_save methods.

The image is first extended by the border mode (exactly as the direct
method reads it), so the result equals the direct one for every mode,
``'valid'`` and masks larger than the image included. Real FFTs from
scipy.fft, in single precision for float32 and double for float64, with
``workers`` = filterkit's thread count and sizes of factors 2, 3 and 5
(:func:`fast_len`: scipy's ``next_fast_len`` also takes 7 and 11).

Only the valid part of a circular correlation is kept, so the transform
needs to be as large as the extended image, not image + mask.

The overlap-save method transforms its blocks in filterkit's core by
default (``$FILTERKIT_FFT`` = ``auto`` or ``native``: blocks of powers of
two, two real blocks per complex transform, vectorised across columns;
:func:`native_tile_shape`), 1.3-2.5 times faster than pocketfft or FFTW
from Python; ``scipy`` and ``fftw`` run the blocks through those libraries
instead (:func:`correlate_tiled`).

pocketfft transforms one axis at a time so that the inverse is pruned
to the rows that are kept.  The overlap-save bands transform their
spectra in place: no temporary beyond the spectrum and the result
(:func:`_pocketfft_band`).  The whole image goes through its transform in
bands of rows and of spectrum columns, so that its spectrum and the output
are the only image-sized arrays (:func:`_correlate_bands`: about 2.2 times
the image at the peak, where the 2-D transform of the extended image took
3.35 times).

With ``$FILTERKIT_FFT=fftw`` the blocks go through FFTW (pyFFTW, the
``fftw`` extra): measured plans transform them faster than pocketfft.  The first
transform of a block size on a machine plans it (at most 0.1 s); the
plans ("wisdom") are kept beside the calibration file, so later sessions
start at full speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator, Optional, Tuple

import numpy as np

from .._border import gather, map_index
from .._cache import cache_dir
from .._job import store


def _fft():  # scipy is imported on first use: the spatial methods do not need it
    import scipy.fft

    return scipy.fft


FFT_ENV = "FILTERKIT_FFT"
FFT_BACKENDS = ("auto", "native", "scipy", "fftw")
#: FFTW planning time per transform (s): as fast as unlimited planning to
#: within 5 % on the block sizes used here, and reused from the wisdom file
PLAN_SECONDS = 0.05
#: smaller jobs (values in all blocks) go to pocketfft: not worth a plan
FFTW_MIN_VALUES = 1 << 18
_fftw_state: dict = {}
_fftw_lock = threading.Lock()


def backend_setting() -> str:
    """``$FILTERKIT_FFT`` as given, or the backend :func:`forced_backend`
    sets (cheap: pyFFTW is not imported)."""
    return _forced[-1] if _forced else os.environ.get(FFT_ENV, "auto")


_forced: list = []


@contextlib.contextmanager
def forced_backend(name: str) -> Iterator[None]:
    """Transform with `name` (``'scipy'`` or ``'fftw'``) inside the block,
    whatever ``$FILTERKIT_FFT`` says (calibration times each backend)."""
    _forced.append(name)
    try:
        yield
    finally:
        _forced.pop()


def fft_backend() -> str:
    """What transforms the tiled method's blocks: ``'native'`` (filterkit's
    core), ``'scipy'`` (pocketfft) or ``'fftw'`` (pyFFTW);
    ``$FILTERKIT_FFT`` = ``auto`` (default: native), ``native``, ``scipy``
    or ``fftw`` chooses."""
    choice = backend_setting().strip().lower() or "auto"
    if choice not in FFT_BACKENDS:
        raise ValueError(f"`${FFT_ENV}` must be one of 'auto', 'native', 'scipy', 'fftw'; "
                         f"got {choice!r}.")
    if choice in ("auto", "native"):
        return "native"
    if choice == "fftw" and pyfftw_module() is None:
        raise ImportError(f"`${FFT_ENV}` is 'fftw' but pyFFTW is not installed "
                          "(pip install 'filterkit[fftw]')")
    return choice


def pyfftw_module() -> Any:
    """pyFFTW, or None when it is not installed."""
    if "module" not in _fftw_state:
        try:
            import pyfftw
        except ImportError:
            pyfftw = None
        _fftw_state["module"] = pyfftw
    return _fftw_state["module"]


def _wisdom_path() -> str:
    return os.path.join(cache_dir(), "fftw-wisdom.json")


def _load_wisdom(pyfftw: Any) -> None:
    path = _wisdom_path()
    if _fftw_state.get("wisdom_from") == path:
        return
    _fftw_state["wisdom_from"] = path
    if not os.path.exists(path):
        return
    try:
        with open(path) as fh:
            parts = json.load(fh)["wisdom"]
        pyfftw.import_wisdom(tuple(str(x).encode("ascii") for x in parts))
    except (OSError, ValueError, KeyError, TypeError, UnicodeError) as exc:
        warnings.warn(f"filterkit: ignoring the FFTW wisdom file {path} ({exc}); "
                      "block sizes are planned again", RuntimeWarning, stacklevel=4)


def _save_wisdom(pyfftw: Any) -> None:
    path = _wisdom_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as fh:
            json.dump({"wisdom": [w.decode("ascii") for w in pyfftw.export_wisdom()]}, fh)
        os.replace(tmp, path)
    except OSError:  # a read-only cache: plan again next session
        pass


#: plans (with their buffers) kept for the next call of the same block
#: size: building them from wisdom costs 0.2-0.5 ms, 10 % of a 512^2 call
_spare_plans: dict = {}
_SPARE_LIMIT = 4


def _take_plans(shape: Tuple[int, int], dtype: np.dtype) -> Any:
    """(real, spectrum, forward, backward): one-thread FFTW plans of the last
    two axes of `shape` for this call alone, a spare set or a new one on
    fresh aligned buffers.  Hand them back with :func:`_give_back`."""
    pyfftw = pyfftw_module()
    key = (shape, np.dtype(dtype).str)
    with _fftw_lock:  # FFTW's planner is not thread-safe
        _load_wisdom(pyfftw)  # (again when the cache directory changed)
        spare = _spare_plans.get(key)
        if spare:
            plans = spare.pop()
            planned = 0.0
        else:
            real = pyfftw.empty_aligned(shape, dtype=dtype)
            spec = pyfftw.empty_aligned(shape[:-1] + (shape[-1] // 2 + 1,),
                                        dtype=np.result_type(dtype, np.complex64))
            args = dict(axes=(-2, -1), threads=1, planning_timelimit=PLAN_SECONDS)
            t0 = time.perf_counter()
            plans = (real, spec, pyfftw.FFTW(real, spec, flags=("FFTW_MEASURE",), **args),
                     pyfftw.FFTW(spec, real, direction="FFTW_BACKWARD",
                                 flags=("FFTW_MEASURE", "FFTW_DESTROY_INPUT"), **args))
            planned = time.perf_counter() - t0
        if planned > 0.01 or not os.path.exists(_wisdom_path()):
            _save_wisdom(pyfftw)  # measured a new size (or a new cache): remember it
    return plans


def _give_back(plans: Any, shape: Tuple[int, int], dtype: np.dtype) -> None:
    key = (shape, np.dtype(dtype).str)
    with _fftw_lock:
        if key not in _spare_plans and len(_spare_plans) >= _SPARE_LIMIT:
            _spare_plans.pop(next(iter(_spare_plans)))  # the oldest block size goes
        spare = _spare_plans.setdefault(key, [])
        if len(spare) < 2:  # two calls or threads at once: two sets
            spare.append(plans)


class NonFinite(Exception):
    """A transformed block's sum (its spectrum at 0) is NaN or infinite: the
    image holds a NaN or an inf there (or values whose sum overflows).
    Raised by the FFT methods when asked to be ``finite`` (``auto``, which
    then filters spatially: one NaN would spread over a whole block)."""


def _check_sum(spectrum: np.ndarray) -> None:
    """Raise :class:`NonFinite` unless every block's spectrum at frequency
    0 is finite.  That is the block's sum, and NaN or inf anywhere in a
    block reaches it: a transform only adds, subtracts and multiplies by
    non-zero twiddles, which turn NaN into NaN and inf into inf or NaN.  So
    one value per block checks the whole image at no cost, where a pass over
    the image before the transform took 2-4 % of the call at 2048^2."""
    _check_finite(spectrum[..., 0, 0])


def _check_finite(sums: np.ndarray) -> None:
    """Raise :class:`NonFinite` unless every block sum in `sums` is finite."""
    if not np.isfinite(sums).all():
        raise NonFinite


def fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (and even from 2 on): scipy's
    next_fast_len also allows factors 7 and 11, which pocketfft transforms
    up to 1.8 times slower here."""
    best = 1 << max(int(n - 1).bit_length(), 0)
    p5 = 1
    while p5 < 2 * n:
        p35 = p5
        while p35 < 2 * n:
            m = p35
            while m < n:
                m *= 2
            if m % 2 == 0 or m == 1:
                best = min(best, m)
            p35 *= 3
        p5 *= 5
    return max(best, 1)


#: values per scipy call in the whole-image transform's passes (a band of
#: rows, or of spectrum columns): 2^15 to 2^18 were within 10 % of each
#: other at 4096^2, the larger slightly faster; 2^17 (512 KiB of float32)
#: keeps each thread's temporaries at a few MiB whatever the image
WHOLE_BAND_VALUES = 1 << 17
#: spectrum columns per column-pass call come in multiples of this, which
#: pocketfft transforms together in vector registers
WHOLE_BAND_STEP = 8


def correlate_whole(src: np.ndarray, weights: np.ndarray, workers: int, *, mode: str,
                    cval: float, oy: int, ox: int, finite: bool = False,
                    out: Optional[np.ndarray] = None) -> np.ndarray:
    """The correlation of the plane `src` (extended by `mode`, the mask
    centred at (oy, ox)) with `weights` by one real FFT of the whole
    extended image (with `finite`, :class:`NonFinite` if it holds a NaN or
    an inf), written into `out` (any dtype, stored with the core's
    rounding; a new array of the weights' dtype by default).

    The extended image never exists as a whole: each band of its rows is
    gathered from the plane and transformed (:func:`_correlate_bands`)."""
    kh, kw = weights.shape
    H, W = src.shape
    if mode == "valid":
        Ph, Pw, oy, ox = H, W, 0, 0
    else:
        Ph, Pw = H + kh - 1, W + kw - 1
    cols = map_index(np.arange(Pw) - ox, W, mode)

    def rows_of(a: int, b: int, dst: np.ndarray) -> None:
        gather(src, map_index(np.arange(a, b) - oy, H, mode), cols, a - oy, -ox, cval, dst)

    if out is None:
        out = np.empty((Ph - kh + 1, Pw - kw + 1), dtype=weights.dtype)
    _correlate_bands(rows_of, (Ph, Pw), weights, workers, out, finite)
    return out


def correlate_valid(padded: np.ndarray, weights: np.ndarray, workers: int,
                    finite: bool = False) -> np.ndarray:
    """The 'valid' correlation of `padded` with `weights` by one real FFT
    of the whole of `padded` (with `finite`, :class:`NonFinite` if it
    holds a NaN or an inf), in a new array of the weights' dtype."""
    kh, kw = weights.shape
    Ph, Pw = padded.shape

    def rows_of(a: int, b: int, dst: np.ndarray) -> None:
        dst[...] = padded[a:b]

    out = np.empty((Ph - kh + 1, Pw - kw + 1), dtype=weights.dtype)
    _correlate_bands(rows_of, (Ph, Pw), weights, workers, out, finite)
    return out


def _correlate_bands(rows_of: Callable[[int, int, np.ndarray], None], extent: Tuple[int, int],
                     weights: np.ndarray, workers: int, out: np.ndarray, finite: bool) -> None:
    """`out` = the 'valid' correlation with `weights` of an extended image
    of `extent` = (Ph, Pw), whose rows [a, b) ``rows_of(a, b, dst)`` writes
    into `dst`, by one real FFT of the transform's size (fast lengths of
    Ph x Pw, zeros beyond), in the weights' dtype.

    The 2-D transform goes one axis at a time, in bands, so that the only
    image-sized array is the spectrum (and `out`): peak memory about 2.2
    times the image's (float32 in, float32 out), where a 2-D transform of
    the extended image needs that image, its spectrum, the mask's spectrum
    and the result (3.4 times).

    1. Rows: each band of rows is gathered, transformed along x (``rfft``)
       and put into the spectrum.  Every row's sum (its spectrum at 0) is
       checked with `finite`: a NaN or inf anywhere reaches it.
    2. Columns: each band of spectrum columns is transformed along y,
       multiplied by the same columns of the mask's spectrum (transformed
       along y there and then from the mask's rows' spectrum, which is
       small), transformed back along y, and only the rows that are kept
       (from kh - 1 on: the circular correlation's valid part) are put back.
       With `finite` the spectrum at (0, 0), the image's sum, is checked
       too, as the 2-D transform's was (row sums may be finite where
       their sum overflows).
    3. Rows back: the kept rows go back to real values (``irfft``) a band
       at a time, and their valid columns are stored into `out`.

    The bands of each pass are shared among `workers` threads (one-thread
    transforms: the same result for any thread count), with the gathering
    and the storing, which pocketfft's own workers would leave to one
    thread.  `out` is written only in pass 3, so :class:`NonFinite` leaves
    it untouched."""
    fft = _fft()
    kh, kw = weights.shape
    Ph, Pw = extent
    Ho, Wo = Ph - kh + 1, Pw - kw + 1
    dtype = weights.dtype
    nh, nw = fast_len(Ph), fast_len(Pw)
    nv = nw // 2 + 1
    spec = np.empty((nh, nv), dtype=np.result_type(dtype, np.complex64))
    spec[Ph:] = 0  # the rows of zeros beyond the extended image transform to zeros
    # the mask's rows' spectrum (kh x nv, small): correlation = convolution
    # with the mirrored mask; the circular result is exact from (kh - 1, kw - 1) on
    g_rows = fft.rfft(weights[::-1, ::-1], n=nw, axis=1, workers=1)
    threads = max(int(workers), 1)
    stop: list = []  # a thread found a NaN or inf: the others stop too

    def run(fn: Callable[[range], None], n: int) -> None:
        # fn(range of band indices) on `threads` threads, each a share of the bands
        k = min(threads, n)
        if k <= 1:
            fn(range(n))
            return

        def share(which: range) -> None:
            try:
                fn(which)
            except NonFinite:
                stop.append(True)
                raise

        with ThreadPoolExecutor(k) as pool:
            for done in [pool.submit(share, range(i, n, k)) for i in range(k)]:
                done.result()

    rb = max(1, WHOLE_BAND_VALUES // nw)  # rows per band of passes 1 and 3

    def forward_rows(which: range) -> None:
        buf = np.zeros((rb, nw), dtype=dtype)  # zeros beyond Pw, for every band
        for i in which:
            if stop:
                raise NonFinite
            a = i * rb
            b = min(a + rb, Ph)
            rows_of(a, b, buf[:b - a, :Pw])
            spec[a:b] = fft.rfft(buf[:b - a], axis=1, workers=1)
            if finite:
                _check_finite(spec[a:b, 0])

    run(forward_rows, -(-Ph // rb))
    cb = max(WHOLE_BAND_STEP, WHOLE_BAND_VALUES // nh // WHOLE_BAND_STEP * WHOLE_BAND_STEP)

    def columns(which: range) -> None:
        for i in which:
            v0 = i * cb
            v1 = min(v0 + cb, nv)
            f = fft.fft(spec[:, v0:v1], axis=0, workers=1)
            if finite and v0 == 0:
                _check_finite(f[0, 0])
            f *= fft.fft(g_rows[:, v0:v1], n=nh, axis=0, workers=1)
            f = fft.ifft(f, axis=0, overwrite_x=True, workers=1)
            spec[kh - 1:Ph, v0:v1] = f[kh - 1:Ph]

    run(columns, -(-nv // cb))
    same = out.dtype == dtype

    def back_rows(which: range) -> None:
        for i in which:
            a = i * rb
            b = min(a + rb, Ho)
            r = fft.irfft(spec[kh - 1 + a:kh - 1 + b], n=nw, axis=1, workers=1)[:, kw - 1:kw - 1 + Wo]
            if same:
                out[a:b] = r
            else:
                store(r, out[a:b])  # the core's rounding and saturation

    run(back_rows, -(-Ho // rb))


def _pocketfft_band(fft: Any, blocks: np.ndarray, g: np.ndarray, skip: int, rows: int,
                    check: Optional[Callable[[np.ndarray], None]]) -> np.ndarray:
    """Rows ``skip`` to ``skip + rows`` of the circular convolutions of the
    real (nx, bh, bw) `blocks` with the spectrum `g` (bh x bw // 2 + 1),
    by pocketfft on one thread; `check` (if given) sees the blocks' sums.

    One axis at a time, so that the inverse is pruned: the column
    transforms run in place, and the row transforms back to real values run
    only on the rows the caller keeps (the first ``skip`` = kh - 1 rows of
    each block are wrapped around, and the last band keeps fewer still),
    which makes the inverse 15-25 % cheaper than ``irfft2``; and no
    temporary besides the spectrum and the result (``irfft2`` allocates
    one more of the spectrum's size)."""
    f = fft.rfft(blocks, axis=-1, workers=1)
    f = fft.fft(f, axis=-2, overwrite_x=True, workers=1)
    if check is not None:
        check(f[..., 0, 0])
    f *= g
    f = fft.ifft(f, axis=-2, overwrite_x=True, workers=1)
    return fft.irfft(f[..., skip:skip + rows, :], n=blocks.shape[-1], axis=-1, workers=1)


# block lengths for overlap-save: products of 2, 3 and 5 with a large power
# of two, which pocketfft transforms fastest
_BLOCKS = (64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048,
           2560, 3072, 4096)


def use_fftw(Ph: int, Pw: int) -> bool:
    """Whether the tiled method transforms through FFTW for an extended
    image of Ph x Pw (large enough that planning pays, FFTW available)."""
    return Ph * Pw >= FFTW_MIN_VALUES and fft_backend() == "fftw"


def blocks_library(Ph: int, Pw: int) -> str:
    """What transforms the tiled method's blocks for an extended image of
    Ph x Pw: ``'native'``, ``'fftw'`` or ``'scipy'`` (pocketfft), whose
    cost constants it is costed with."""
    backend = fft_backend()
    if backend == "native":
        return "native"
    return "fftw" if use_fftw(Ph, Pw) else "scipy"


def block_shape(library: str, kh: int, kw: int, Ho: int, Wo: int) -> Tuple[int, int]:
    """The blocks (bh, bw) that `library` transforms for a kh x kw mask and
    an Ho x Wo output (:func:`native_tile_shape` or :func:`tile_shape`)."""
    if library == "native":
        return native_tile_shape(kh, kw, Ho, Wo)
    return tile_shape(kh, kw, Ho, Wo)


#: the native blocks are at least this tall and NATIVE_MIN_WIDTH wide, and
#: at least NATIVE_SPAN times the mask: within the noise of the best block
#: on 256^2 to 2048^2 images with masks of 7 to 63, float32 and float64.
#: Narrower blocks pay for their many short rows (32 wide: 1.2-1.4 times
#: the time per value of 64 or 128 wide), blocks of 512 and more outgrow
#: the second-level cache (1.3-2 times)
NATIVE_MIN_BLOCK = 32
NATIVE_MIN_WIDTH = 64
NATIVE_SPAN = 4


def native_tile_shape(kh: int, kw: int, Ho: int, Wo: int) -> Tuple[int, int]:
    """Block sizes (bh, bw) for the core's overlap-save: powers of two of at
    least :data:`NATIVE_MIN_BLOCK` (:data:`NATIVE_MIN_WIDTH` wide) and
    :data:`NATIVE_SPAN` times the mask, or half that where fewer block
    values cover the image so (a small image)."""

    def blocks(b: int, k: int, n: int) -> int:
        return -(-n // (b - k + 1))

    def best(k: int, n: int, least: int) -> int:
        b = least
        while b < NATIVE_SPAN * k:
            b *= 2
        half = b // 2
        if half >= least and half > k and blocks(half, k, n) * half * np.log2(half) \
                < blocks(b, k, n) * b * np.log2(b):
            return half
        return b

    return best(kh, Ho, NATIVE_MIN_BLOCK), best(kw, Wo, NATIVE_MIN_WIDTH)


#: the smallest block: smaller ones were up to 1.6 times slower with FFTW (a
#: block per call from Python) and 1.05-1.4 times with pocketfft (masks of 9
#: to 15 at 1024^2-2048^2, where 5 k alone gives 64-96)
MIN_BLOCK = 128


def tile_shape(kh: int, kw: int, Ho: int, Wo: int) -> Tuple[int, int]:
    """FFT block sizes (bh, bw) for overlap-save: the first fast length of at
    least 5 times the mask and at least :data:`MIN_BLOCK`, and no larger
    than the image needs.  Measured on 2048 x 2048 with masks 9 to 63 on
    both libraries: within 5-10 % of the best block (the measurements'
    noise), where b log b / (b - k + 1) alone picks blocks 30 % slower."""

    def best(k: int, n: int) -> int:
        whole = fast_len(n + k - 1)
        for b in _BLOCKS:
            if b >= 5 * k and b >= MIN_BLOCK:
                return min(b, whole)
        return whole

    return best(kh, Ho), best(kw, Wo)


def correlate_tiled(src: np.ndarray, weights: np.ndarray, workers: int, *, mode: str,
                    cval: float, oy: int, ox: int, block: Tuple[int, int] = (0, 0),
                    out: Optional[np.ndarray] = None, finite: bool = False) -> np.ndarray:
    """The correlation of the plane `src` (extended by `mode`, the mask
    centred at (oy, ox)) with `weights`, overlap-save in blocks of bh x bw,
    a band of blocks per pocketfft call (FFTW: a block per call), the bands
    shared among `workers` threads, written into `out` (a new array by
    default).  Each band is gathered from the plane with its border: the
    extended image never exists as a whole.  With `finite`, a block with a
    NaN or an inf stops the call with :class:`NonFinite` (`out` partly
    written)."""
    fft = _fft()
    kh, kw = weights.shape
    H, W = src.shape
    if mode == "valid":
        Ho, Wo = H - kh + 1, W - kw + 1
        oy = ox = 0
    else:
        Ho, Wo = H, W
    Pw = Wo + kw - 1
    fftw = use_fftw(Ho + kh - 1, Pw)
    bh, bw = block if block != (0, 0) else tile_shape(kh, kw, Ho, Wo)
    th, tw = bh - kh + 1, bw - kw + 1          # output rows and columns per block
    ny, nx = -(-Ho // th), -(-Wo // tw)
    dtype = src.dtype
    g = fft.rfft2(weights[::-1, ::-1].astype(dtype), s=(bh, bw), workers=workers)
    if out is None:
        out = np.empty((Ho, Wo), dtype=dtype)
    cols = map_index(np.arange(Pw) - ox, W, mode)
    if fftw:
        g /= bh * bw  # FFTW's inverse is not normalised

    def bands(which: range) -> None:
        # a band of rows with zeros beyond the extended image, so that every
        # block is whole
        buf = np.zeros((bh, nx * tw + kw - 1), dtype=dtype)
        # FFTW: one block at a time, so that block, spectrum and result stay
        # in the L2 cache (5-8 % faster than a band per plan); one thread per
        # plan, the threads take bands (FFTW's own threads gained 0-10 % on
        # blocks this small)
        plans = _take_plans((bh, bw), dtype) if fftw else None
        sums = np.zeros(nx, dtype=np.complex128)  # the FFTW blocks' sums in a band
        try:
            # auto's attempt: a block with a NaN or inf is only found at the
            # end of its band, by then through the multiplication
            with np.errstate(invalid="ignore", over="ignore") if finite else contextlib.nullcontext():
                band_rows(which, buf, plans, sums)
        finally:
            if plans is not None:
                _give_back(plans, (bh, bw), dtype)

    stop: list = []  # a band found a NaN or inf: the other threads stop too

    def band_rows(which: range, buf: np.ndarray, plans: Any, sums: np.ndarray) -> None:
        s0, s1 = buf.strides
        for by in which:
            if stop:
                raise NonFinite
            y0 = by * th
            rows_in = min(bh, Ho + kh - 1 - y0)
            rows = map_index(np.arange(y0, y0 + rows_in) - oy, H, mode)
            gather(src, rows, cols, y0 - oy, -ox, cval, buf[:rows_in, :Pw])
            if rows_in < bh:
                buf[rows_in:] = 0
            n = min(th, Ho - y0)
            if plans is not None:
                real, spec, fwd, bwd = plans
                for bx in range(nx):
                    x0 = bx * tw
                    cw = min(tw, Wo - x0)
                    real[...] = buf[:, x0:x0 + bw]
                    fwd.execute()
                    if finite:
                        # the block's sum, checked with the band's: a numpy
                        # check per block took 4 % of a 15 x 15 mask at 2048^2
                        sums[bx] = spec.item(0)
                    np.multiply(spec, g, out=spec)
                    bwd.execute()
                    out[y0:y0 + n, x0:x0 + cw] = real[kh - 1:kh - 1 + n, kw - 1:kw - 1 + cw]
                if finite:
                    check(sums)
                continue
            # the band's blocks as a (nx, bh, bw) view: no copy until the transform
            band = np.lib.stride_tricks.as_strided(buf, shape=(nx, bh, bw),
                                                   strides=(tw * s1, s0, s1), writeable=False)
            r = _pocketfft_band(fft, band, g, kh - 1, n, check if finite else None)
            for bx in range(nx):
                x0 = bx * tw
                cw = min(tw, Wo - x0)
                out[y0:y0 + n, x0:x0 + cw] = r[bx, :, kw - 1:kw - 1 + cw]

    def check(block_sums: np.ndarray) -> None:
        try:
            _check_finite(block_sums)
        except NonFinite:
            stop.append(True)
            raise

    threads = min(max(int(workers), 1), ny)
    if threads > 1:
        # every band writes its own rows of `out`: the same result for any
        # thread count (each block goes through the same one-thread
        # transforms); the threads share the gathering and the copying out
        # too, which pocketfft's own workers would leave on one thread
        with ThreadPoolExecutor(threads) as pool:
            for done in [pool.submit(bands, range(i, ny, threads)) for i in range(threads)]:
                done.result()
    else:
        bands(range(ny))
    return out

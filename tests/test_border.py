"""filterkit._border, the one border rule, against numpy.pad; and the core's
own border rule (inside its row loops) against the same oracle."""

from __future__ import annotations

import numpy as np
import pytest

import filterkit
from filterkit import _border

# numpy.pad's names for filterkit's border modes (the independent oracle)
PAD = {"constant": "constant", "nearest": "edge", "reflect": "symmetric",
       "mirror": "reflect", "wrap": "wrap"}


@pytest.mark.parametrize("mode", list(PAD))
@pytest.mark.parametrize("n", [1, 2, 3, 5])
@pytest.mark.parametrize("r", [0, 1, 4, 11])
def test_extend_equals_numpy_pad(mode, n, r):
    # borders wider than the image keep folding, as numpy.pad does; numpy
    # cannot 'reflect' (mirror) a single row, which repeats it
    plane = np.arange(1.0, 1.0 + n * (n + 2)).reshape(n, n + 2)
    got = _border.extend(plane, mode, -7.0, 2 * r + 1, 2 * r + 1, r, r, np.float64)
    if mode == "mirror" and n == 1:
        want = np.pad(np.pad(plane, ((r, r), (0, 0)), mode="edge"), ((0, 0), (r, r)),
                      mode="reflect")
    elif mode == "constant":
        want = np.pad(plane, r, mode="constant", constant_values=-7.0)
    else:
        want = np.pad(plane, r, mode=PAD[mode])
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", list(PAD))
def test_the_core_extends_the_border_by_the_same_rule(mode):
    # a one-hot mask reads one pixel at an offset of up to 9 beyond a 4 x 5
    # image: the core's result is the extended image, shifted
    plane = np.arange(1.0, 21.0).reshape(4, 5)
    r = 9
    want = _border.extend(plane, mode, -7.0, 2 * r + 1, 2 * r + 1, r, r, np.float64)
    for dy, dx in [(-9, -9), (9, 9), (-5, 7), (0, -8), (3, 0)]:
        mask = np.zeros((2 * r + 1, 2 * r + 1))
        mask[r + dy, r + dx] = 1.0
        got = filterkit.correlate(plane, mask, mode=mode, cval=-7.0, method="direct")
        np.testing.assert_array_equal(got, want[r + dy:r + dy + 4, r + dx:r + dx + 5])


@pytest.mark.parametrize("n, r", [(10, 2), (7, 3), (3, 1), (2, 5)])
@pytest.mark.parametrize("wrap", [False, True])
def test_halo_reads_the_neighbours_inside_and_nothing_beyond_the_edges(n, r, wrap):
    for a in range(n):
        for b in range(a + 1, n + 1):
            before, after = _border.halo(a, b, n, r, wrap)
            if (a, b) == (0, n):
                assert (before, after) == (0, 0)
            elif wrap:
                assert (before, after) == (r, r)
            else:
                assert (before, after) == (min(a, r), min(n - b, r))


@pytest.mark.parametrize("mode", ["reflect", "wrap", "constant", "valid"])
def test_window_rows_filter_like_the_whole_axis(mode):
    # a block filtered on its window, cut by the window's margins, equals the
    # same rows of the whole image filtered at once
    rng = np.random.default_rng(3)
    image = rng.random((23, 17))
    mask = rng.random((5, 3))
    whole = filterkit.correlate(image, mask, mode=mode, method="direct")
    n, r = image.shape[0], 2
    rows_out = whole.shape[0]
    for a in range(0, rows_out, 6):
        b = min(a + 6, rows_out)
        rows, cut0, cut1 = _border.window(a, b, n, r, mode)
        block = filterkit.correlate(image[rows], mask, mode=mode, method="direct")
        np.testing.assert_array_equal(block[cut0:block.shape[0] - cut1], whole[a:b])

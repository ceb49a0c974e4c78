"""Hypothesis: random shapes, masks, modes and dtypes against the naive oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import filterkit
from oracle import MODES, error_bound, naive_convolve

odd = st.integers(0, 4).map(lambda r: 2 * r + 1)


@settings(max_examples=150, deadline=None)
@given(
    image=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 90)),
                 elements=st.floats(-100, 100, width=32)),
    mask_shape=st.tuples(odd, odd),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(MODES),
    dtype=st.sampled_from([np.float32, np.float64]),
    method=st.sampled_from(["auto", "direct"]),
)
def test_convolve_matches_naive_oracle(image, mask_shape, seed, mode, dtype, method):
    mask = np.random.default_rng(seed).standard_normal(mask_shape)
    image = image.astype(dtype)
    got = filterkit.convolve(image, mask, mode=mode, cval=0.25, method=method)
    want = naive_convolve(image, mask, mode=mode, cval=0.25)
    tol = error_bound(mask, image, dtype=dtype)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 30), w=st.integers(1, 70),
    col=arrays(np.float64, odd, elements=st.integers(-3, 3).map(float)),
    row=arrays(np.float64, odd, elements=st.integers(-3, 3).map(float)),
    mode=st.sampled_from(MODES + ["valid"]),
)
def test_separable_passes_match_naive_oracle(h, w, col, row, mode):
    mask = np.outer(col, row)
    if mode == "valid" and (mask.shape[0] > h or mask.shape[1] > w):
        return
    image = np.arange(h * w, dtype=np.float64).reshape(h, w) % 17
    if filterkit.masks.separate(mask) is None:
        pytest.skip("zero mask")
    got = filterkit.convolve(image, mask, mode=mode, method="separable")
    # two passes of kh and kw taps, and the factors' own rounding (one eps)
    tol = error_bound(mask, image, taps=mask.shape[0] + mask.shape[1] + 1, dtype=np.float64)
    np.testing.assert_allclose(got, naive_convolve(image, mask, mode=mode), rtol=0, atol=tol)

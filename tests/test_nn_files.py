"""Model files are untrusted input: crafted files for ``load_model`` and ``filterkit cnn``.

Issue #14, item 13: a 600-level nested architecture (RecursionError),
``Dense(10**6, 10**6)`` (MemoryError), a non-dict ``meta`` (AttributeError)
and a small ``.npz`` holding a huge zero member (read in full before the
marker was checked).  Every file here is built by hand with zipfile and
numpy's ``.npy`` writer, so that it can break every rule ``save_model``
keeps; each must be refused by the API with a ValueError or TypeError
that names what is wrong, and by ``filterkit cnn eval|show`` with one
``filterkit: error:`` line and exit code 2, before anything the file
declares is allocated.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import filterkit
import filterkit.nn as nn

PKG_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(filterkit.__file__)))
FORMAT = "filterkit.nn model 1"
HUGE = 200 * 2 ** 20  # bytes of zeros in the "huge" members (about 1 MB compressed)


# --------------------------------------------------------------------------
# building files by hand

def npy(a) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=True)
    return buf.getvalue()


def text(s: str) -> bytes:
    return npy(np.array(s))


def dense(i, o, **config):
    return {"type": "Dense", "config": dict({"in_features": i, "out_features": o}, **config)}


def seq(*layers):
    return {"type": "Sequential", "layers": list(layers)}


def nested(levels: int) -> str:
    """The JSON of `levels` Sequential blocks inside one another around a
    ReLU (a string: json.dumps itself recurses)."""
    return ('{"type": "Sequential", "layers": [' * levels + '{"type": "ReLU", "config": {}}'
            + "]}" * levels)


def write(path, arch=None, meta=None, arrays=None, fmt=FORMAT, raw=None, omit=()):
    """A model file: `arch` (JSON-able or a JSON string), `meta`, arrays by
    key, `raw` members by name (bytes), `fmt` the marker (None: none);
    the members named in `omit` are left out."""
    arch = seq(dense(3, 2)) if arch is None else arch
    if arrays is None:
        arrays = {"layer0.param.weight": np.ones((3, 2), np.float32),
                  "layer0.param.bias": np.zeros(2, np.float32)}
    members = {"arch.npy": text(arch if isinstance(arch, str) else json.dumps(arch)),
               "meta.npy": text(meta if isinstance(meta, str) else json.dumps(meta or {}))}
    if fmt is not None:
        members = dict({"format.npy": text(fmt)}, **members)
    members.update({key + ".npy": npy(value) for key, value in arrays.items()})
    members.update(raw or {})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            if name not in omit:
                z.writestr(name, data)
    return str(path)


def write_huge(path, member, header=None, **kwargs):
    """A model file with `member` replaced by HUGE bytes of zeros (after an
    optional .npy header), deflated: about 1 MB on disk."""
    write(path, omit=(member,), **kwargs)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open(member, "w", force_zip64=True) as f:
            if header is not None:
                f.write(header)
            zero = bytes(1 << 24)
            for start in range(0, HUGE, len(zero)):
                f.write(zero[:HUGE - start])
    return str(path)


def npy_header(shape, descr) -> bytes:
    """An .npy header (version 1.0) declaring any shape and dtype string."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=PKG_ROOT)
    return subprocess.run([sys.executable, "-m", "filterkit", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def refused_quickly(path, match):
    """load_model refuses `path` within a second and 20 MB of Python and
    numpy allocations (tracemalloc sees numpy's arrays)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match):
            nn.load_model(path)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 1.0 and peak < 20 * 2 ** 20, (seconds, peak)


# --------------------------------------------------------------------------
# the tester's four files

def test_600_level_nested_architecture(tmp_path):
    path = write(tmp_path / "deep.npz", nested(600), arrays={})
    with pytest.raises(ValueError, match=r"`arch` must be nested at most 16 levels deep "
                                         r"\(MAX_DEPTH; .*got JSON nested 1,202 brackets deep"):
        nn.load_model(path)


def test_nesting_one_level_too_deep(tmp_path):
    assert nn.MAX_DEPTH == 16
    path = write(tmp_path / "deep17.npz", nested(17), arrays={})  # brackets fit, the levels do not
    with pytest.raises(ValueError, match=r"`arch` must be nested at most 16 levels deep \(MAX_DEPTH\); "
                                         r"got layers at level 17"):
        nn.load_model(path)
    model = nn.ReLU()
    for _ in range(17):
        model = nn.Sequential(model)
    with pytest.raises(ValueError, match=r"`model` must be nested at most 16 levels deep"):
        nn.save_model(str(tmp_path / "s.npz"), model)
    assert not (tmp_path / "s.npz").exists()


def test_dense_10e6_by_10e6_is_over_the_parameter_budget(tmp_path):
    path = write(tmp_path / "dense.npz", seq(dense(10 ** 6, 10 ** 6)), arrays={})
    with pytest.raises(ValueError, match=r"`arch` must be a model of at most 200,000,000 parameters "
                                         r"\(MAX_PARAMS\); got 1,000,001,000,000 parameters "
                                         r"\(the largest layer: arch.layers\[0\], Dense"):
        nn.load_model(path)
    assert nn.MAX_PARAMS == 200_000_000


def test_save_model_refuses_what_load_model_refuses(tmp_path):
    path = str(tmp_path / "s.npz")
    # checked from the architecture: the 10**12 weights are never allocated
    with pytest.raises(ValueError, match=r"MAX_PARAMS"):
        nn.save_model(path, nn.Sequential(nn.Dense(10 ** 6, 10 ** 6)))
    model = nn.Sequential(nn.Dense(3, 2))
    model.params[0][0, 0] = np.nan
    with pytest.raises(ValueError, match=r"`layer0.param.weight` must be finite"):
        nn.save_model(path, model)
    with pytest.raises(TypeError, match=r"`meta` must be a dict \(JSON object\) or None; got \[1\]"):
        nn.save_model(path, nn.Sequential(nn.ReLU()), [1])
    assert not os.path.exists(path)


@pytest.mark.parametrize("meta", ["[1, 2]", '"digits"', "3", "null"])
def test_meta_must_be_a_json_object(tmp_path, meta):
    path = write(tmp_path / "meta.npz", meta=meta)
    with pytest.raises(TypeError, match=r"`meta` must be a JSON object; got"):
        nn.load_model(path)


@pytest.mark.parametrize("member, header, match", [
    # a member nobody asked for
    ("junk.npy", None, r"must hold only the members the architecture needs; got 1 more: 'junk.npy'"),
    # a parameter declared 200 MB where the architecture needs 24 bytes
    ("layer0.param.weight.npy", npy_header((HUGE // 4,), "<f4"),
     r"`layer0.param.weight` must be at most 10,036 bytes uncompressed \(\(3, 2\) float32"),
    # the architecture itself, and the marker, read before anything else
    ("arch.npy", npy_header((), f"<U{HUGE // 4}"), r"`arch` must be at most 16,787,228 bytes"),
    ("format.npy", npy_header((), f"<U{HUGE // 4}"), r"not a filterkit model file \(a format member "
                                                     r"of 209,715,\d\d\d bytes"),
])
def test_a_huge_zero_member_is_refused_before_it_is_read(tmp_path, member, header, match):
    path = write_huge(tmp_path / "huge.npz", member, header)
    assert os.path.getsize(path) < 2 * 2 ** 20
    assert zipfile.ZipFile(path).getinfo(member).file_size >= HUGE
    refused_quickly(path, match)


@pytest.mark.parametrize("member, header, match", [
    # 140 bytes whose .npy header promises 400 MB of text
    ("format.npy", npy_header((), "<U100000000"), r"not a filterkit model file \(no 'filterkit.nn model 1' "
                                                  r"marker: `format` must be at most 256 bytes of data"),
    ("arch.npy", npy_header((), "<U100000000"), r"`arch` must be at most 16,777,216 bytes of data"),
    # 10**12 float32 where the architecture needs (3, 2)
    ("layer0.param.weight.npy", npy_header((10 ** 12,), "<f4"),
     r"`layer0.param.weight` must be a float32 array of shape \(3, 2\)"),
    ("layer0.param.weight.npy", npy_header((3, 2), "<U1000000000"), r"`layer0.param.weight` must be an "
                                                                     r".npy array; got a damaged header"),
])
def test_a_header_declaring_a_huge_array_in_a_small_member(tmp_path, member, header, match):
    path = write(tmp_path / "h.npz", raw={member: header + b"x" * 4})
    refused_quickly(path, match)


# --------------------------------------------------------------------------
# the architecture, field by field

@pytest.mark.parametrize("arch, exc, match", [
    ([1, 2], TypeError, r"`arch` must be a JSON object with a 'type'; got \[1, 2\] \(list\)"),
    ({"layers": []}, TypeError, r"`arch.type` must be a layer type.*got None"),
    ({"type": "Lambda", "config": {}}, ValueError, r"`arch.type` must be one of 'Sequential', 'Residual'"),
    ({"type": "Sequential", "layers": "abc"}, TypeError, r"`arch.layers` must be a list of layers; got 'abc'"),
    ({"type": "Sequential", "layers": [], "x": 1}, ValueError, r"`arch` must be an object with the keys "
                                                              r"'type' and 'layers'; got the keys 'x'"),
    (seq({"type": "Dense", "config": [3, 2]}), TypeError, r"`arch.layers\[0\].config` must be a JSON object"),
    (seq(dense("3", 2)), TypeError, r"`arch.layers\[0\].config.in_features` must be an integer from 1 "
                                    r"to 1,048,576 \(MAX_SIZE\); got '3' \(str\)"),
    (seq(dense(True, 2)), TypeError, r"`arch.layers\[0\].config.in_features` must be an integer"),
    (seq(dense(3.0, 2)), TypeError, r"`arch.layers\[0\].config.in_features` must be an integer"),
    (seq(dense(0, 2)), ValueError, r"`arch.layers\[0\].config.in_features` must be an integer from 1 "
                                   r"to 1,048,576 \(MAX_SIZE\); got 0"),
    (seq(dense(-5, 2)), ValueError, r"in_features` must be an integer from 1 to 1,048,576 \(MAX_SIZE\); got -5"),
    (seq(dense(2 ** 20 + 1, 1)), ValueError, r"MAX_SIZE\); got 1,048,577"),
    (seq(dense(10 ** 400, 1)), ValueError, r"MAX_SIZE\); got 1"),
    (seq(dense(3, 2, dtype="float16")), ValueError, r"config.dtype` must be 'float32' or 'float64'; "
                                                   r"got 'float16'"),
    (seq(dense(3, 2, seed=1)), ValueError, r"config` must be an object with the keys of Dense "
                                           r"\('in_features', 'out_features', 'dtype'\); got the keys 'seed'"),
    (seq({"type": "Dense", "config": {"in_features": 3}}), ValueError,
     r"`arch.layers\[0\].config.out_features` must be given \(the Dense needs it\); got nothing"),
    (seq({"type": "Conv2D", "config": {"in_channels": 1, "out_channels": 1, "size": 3,
                                       "padding": -1}}), ValueError,
     r"config.padding` must be an integer from 0 to 1,048,576"),
    (seq({"type": "BatchNorm2D", "config": {"channels": 2, "momentum": 1.5}}), ValueError,
     r"config.momentum` must be a number in \[0, 1\); got 1.5"),
    (seq({"type": "BatchNorm2D", "config": {"channels": 2, "eps": float("nan")}}), ValueError,
     r"config.eps` must be a finite positive number; got nan"),
    (seq({"type": "MaxPool2D", "config": {"size": [2]}}), TypeError, r"config.size` must be an integer"),
    (seq({"type": "FilterBank", "config": {"masks": [[[1, 2]]]}}), ValueError,
     r"config.masks\[0\]` must be odd in height and width.*got 1 x 2"),
    (seq({"type": "FilterBank", "config": {"masks": [[[1], [2, 3], [4]]]}}), ValueError,
     r"config.masks\[0\]` must be rows of one length"),
    (seq({"type": "FilterBank", "config": {"masks": [[["a"]]]}}), TypeError,
     r"config.masks\[0\]` must be a mask of numbers; got 'a'"),
    (seq({"type": "FilterBank", "config": {"masks": "mean"}}), TypeError,
     r"config.masks` must be null or a list of masks"),
    (seq({"type": "FilterBank", "config": {"padding": "full"}}), ValueError,
     r"config.padding` must be 'same' or 'valid'; got 'full'"),
    (seq(*[{"type": "ReLU"}] * 5000), ValueError, r"`arch.layers` must be at most 4,096 layers \(MAX_LAYERS\)"),
    ('{"type": "Sequential", "layers": [', ValueError, r"`arch` must be valid JSON; got JSONDecodeError"),
])
def test_architecture_fields(tmp_path, arch, exc, match):
    path = write(tmp_path / "a.npz", arch, arrays={})
    with pytest.raises(exc, match=match):
        nn.load_model(path)


def test_the_architecture_is_checked_before_any_array_is_read(tmp_path):
    # a member of the wrong shape is never reached: the budget fails first
    path = write(tmp_path / "a.npz", seq(dense(3, 2), dense(10 ** 6, 10 ** 6)))
    with pytest.raises(ValueError, match=r"MAX_PARAMS"):
        nn.load_model(path)


# --------------------------------------------------------------------------
# the archive and its members

def test_a_directory_and_a_path_of_the_wrong_type(tmp_path):
    with pytest.raises(ValueError, match=r"`path` must be a model file \(.npz\); got the directory"):
        nn.load_model(str(tmp_path))
    with pytest.raises(TypeError, match=r"`path` must be a file name \(str or os.PathLike\); got 3 \(int\)"):
        nn.load_model(3)


def test_truncated_and_damaged_archives(tmp_path):
    good = write(tmp_path / "good.npz")
    data = open(good, "rb").read()
    (tmp_path / "t.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"t.npz: not a filterkit model file \(a damaged .npz archive: "
                                         r"BadZipFile"):
        nn.load_model(str(tmp_path / "t.npz"))
    # one byte of the weights changed: the CRC no longer matches
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("layer0.param.weight.npy")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    bad = bytearray(data)
    bad[start + info.file_size - 1] ^= 0xFF
    (tmp_path / "crc.npz").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match=r"`layer0.param.weight` must be a readable archive member; "
                                         r"got BadZipFile: Bad CRC-32"):
        nn.load_model(str(tmp_path / "crc.npz"))


def test_a_missing_member(tmp_path):
    path = write(tmp_path / "m.npz", arrays={"layer0.param.weight": np.ones((3, 2), np.float32)})
    with pytest.raises(ValueError, match=r"`layer0.param.bias` must be in the file \(layer 0, Dense, "
                                         r"parameter 'bias', shape \(2,\)\); got no such member"):
        nn.load_model(path)
    with pytest.raises(ValueError, match=r"`meta` must be in the file; got no member 'meta.npy'"):
        nn.load_model(write(tmp_path / "o.npz", omit=("meta.npy",)))


def test_an_extra_member_even_a_small_one(tmp_path):
    path = write(tmp_path / "x.npz", arrays={"layer0.param.weight": np.ones((3, 2), np.float32),
                                             "layer0.param.bias": np.zeros(2, np.float32),
                                             "layer1.param.weight": np.ones(2, np.float32)})
    with pytest.raises(ValueError, match=r"must hold only the members the architecture needs; "
                                         r"got 1 more: 'layer1.param.weight.npy'"):
        nn.load_model(path)


def test_duplicate_members(tmp_path):
    path = write(tmp_path / "d.npz")
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("layer0.param.bias.npy", npy(np.ones(2, np.float32)))
    with pytest.raises(ValueError, match=r"free of duplicate members; got 'layer0.param.bias.npy' twice"):
        nn.load_model(path)


@pytest.mark.parametrize("weight, match", [
    (np.ones((3, 2), np.float64), r"`layer0.param.weight` must be a float32 array of shape \(3, 2\) "
                                  r"\(layer 0, Dense, parameter 'weight'\); got a float64 array"),
    (np.ones((2, 3), np.float32), r"got a float32 array of shape \(2, 3\)"),
    (np.ones((3, 2, 1), np.float32), r"got a float32 array of shape \(3, 2, 1\)"),
    (np.ones((3, 2), np.int32), r"got a int32 array"),
    (np.array([[None, 1], [2, 3], [4, 5]], dtype=object), r"got a object array"),  # a pickle: never loaded
    (np.full((3, 2), np.nan, np.float32), r"`layer0.param.weight` must be finite \(layer 0, Dense, "
                                          r"parameter 'weight'; no NaN or inf\); got 6 non-finite values"),
    (np.array([[1, 2], [3, np.inf], [5, 6]], np.float32), r"got 1 non-finite values"),
])
def test_arrays_must_match_the_architecture(tmp_path, weight, match):
    path = write(tmp_path / "w.npz", arrays={"layer0.param.weight": weight,
                                             "layer0.param.bias": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match=match):
        nn.load_model(path)


def test_a_negative_running_variance(tmp_path):
    arrays = {"layer0.param.gamma": np.ones(2, np.float32), "layer0.param.beta": np.zeros(2, np.float32),
              "layer0.state.running_mean": np.zeros(2, np.float32),
              "layer0.state.running_var": np.array([1, -1], np.float32)}
    path = write(tmp_path / "bn.npz", seq({"type": "BatchNorm2D", "config": {"channels": 2}}), arrays=arrays)
    with pytest.raises(ValueError, match=r"`layer0.state.running_var` must be non-negative"):
        nn.load_model(path)


def test_the_format_marker(tmp_path):
    with pytest.raises(ValueError, match=r"not a filterkit model file \(no 'filterkit.nn model 1' marker\)"):
        nn.load_model(write(tmp_path / "a.npz", fmt=None))
    with pytest.raises(ValueError, match=r"not a filterkit model file \(the marker is 'filterkit.nn model 2'"):
        nn.load_model(write(tmp_path / "b.npz", fmt="filterkit.nn model 2"))
    path = write(tmp_path / "c.npz", fmt=None, raw={"format.npy": npy(np.zeros(3))})
    with pytest.raises(ValueError, match=r"no 'filterkit.nn model 1' marker: `format` must be a text"):
        nn.load_model(path)


def test_a_valid_hand_written_file_loads_fortran_and_big_endian_too(tmp_path):
    w = np.arange(6, dtype=">f4").reshape(3, 2)
    path = write(tmp_path / "v.npz", arrays={"layer0.param.weight": np.asfortranarray(w),
                                             "layer0.param.bias": np.array([1, 2], ">f4")})
    model, meta = nn.load_model(path)
    assert meta == {}
    np.testing.assert_array_equal(model.forward(np.ones((1, 3), np.float32)), [[7, 11]])
    assert model.layers[0].param_names == ["weight", "bias"]
    assert model.layers[0].params[0].dtype == np.float32


# --------------------------------------------------------------------------
# what a valid model can still ask for at evaluation time, and its metadata

def test_padding_that_would_need_terabytes_is_refused_at_predict(tmp_path):
    conv = {"type": "Conv2D", "config": {"in_channels": 1, "out_channels": 1, "size": 1,
                                         "padding": 2 ** 20}}
    arrays = {"layer0.param.weight": np.ones((1, 1, 1, 1), np.float32),
              "layer0.param.bias": np.zeros(1, np.float32)}
    model, _ = nn.load_model(write(tmp_path / "p.npz", seq(conv), arrays=arrays))
    with pytest.raises(ValueError, match=r"`model` must be layers of at most 67,108,864 values per image "
                                         r"\(MAX_ACTIVATION: output and workspace\); got Conv2D"):
        nn.predict(model, np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"MAX_ACTIVATION"):
        nn.feature_maps(model, np.zeros((1, 8, 8), np.float32))


@pytest.mark.parametrize("meta, exc, match", [
    ({"dataset": "digits", "seed": "x"}, TypeError, r"`meta\['seed'\]` must be a non-negative integer; got 'x'"),
    ({"dataset": "digits", "seed": -1}, ValueError, r"`meta\['seed'\]` must be a non-negative integer; got -1"),
    ({"dataset": "digits", "std": 0}, ValueError, r"`meta\['std'\]` must be a finite positive number; got 0"),
    ({"dataset": "digits", "mean": [0]}, TypeError, r"`meta\['mean'\]` must be a finite number; got \[0\]"),
    ({"dataset": "digits", "input_shape": 8}, TypeError, r"`meta\['input_shape'\]` must be three positive"),
    ({"dataset": "digits", "classes": 10}, TypeError, r"`meta\['classes'\]` must be a list of class names"),
    ({"dataset": ["digits"]}, TypeError, r"`meta\['dataset'\]` must be one of 'digits', 'faces'"),
    ({}, ValueError, r"`meta\['dataset'\]` must be given \(or name the dataset: --dataset\)"),
])
def test_evaluate_checks_the_metadata_it_uses(meta, exc, match):
    pytest.importorskip("sklearn")
    model = nn.build_model("digits")
    with pytest.raises(exc, match=match):
        nn.evaluate_dataset(model, meta)


def test_evaluate_checks_the_model_fits_the_data():
    pytest.importorskip("sklearn")
    model = nn.Sequential(nn.Flatten(), nn.Dense(64, 3))
    with pytest.raises(ValueError, match=r"`model` must be one score per class of 'digits', output shape "
                                         r"\(10,\) for an input \(1, 8, 8\); got output shape \(3,\)"):
        nn.evaluate_dataset(model, {"dataset": "digits"})


# --------------------------------------------------------------------------
# the command line: one line, exit code 2, no traceback

def _truncated(path):
    data = open(write(path), "rb").read()
    open(path, "wb").write(data[:300])


def _bad_seed(path):
    nn.save_model(path, nn.build_model("digits"), {"dataset": "digits", "seed": "x"})


def _conv_padding_file(path):
    conv = {"type": "Conv2D", "config": {"in_channels": 1, "out_channels": 1, "size": 1,
                                         "padding": 2 ** 20}}
    return write(path, seq(conv), meta={"dataset": "digits"},
                 arrays={"layer0.param.weight": np.ones((1, 1, 1, 1), np.float32),
                         "layer0.param.bias": np.zeros(1, np.float32)})


CRAFTED = {
    "deep": (lambda p: write(p, nested(600), arrays={}), r"MAX_DEPTH"),
    "dense": (lambda p: write(p, seq(dense(10 ** 6, 10 ** 6)), arrays={}), r"MAX_PARAMS"),
    "meta": (lambda p: write(p, meta="[1, 2]"), r"`meta` must be a JSON object; got \[1, 2\]"),
    "huge": (lambda p: write_huge(p, "junk.npy"), r"only the members the architecture needs"),
    "nan": (lambda p: write(p, meta={"dataset": "digits"},
                            arrays={"layer0.param.weight": np.full((3, 2), np.nan, np.float32),
                                    "layer0.param.bias": np.zeros(2, np.float32)}),
            r"`layer0.param.weight` must be finite"),
    "missing": (lambda p: write(p, arrays={}), r"`layer0.param.weight` must be in the file"),
    "truncated": (_truncated, r"not a filterkit model file \(a damaged .npz archive"),
    "directory": (lambda p: os.mkdir(p), r"`path` must be a model file \(.npz\); got the directory"),
    "seed": (_bad_seed, r"`meta\['seed'\]` must be a non-negative integer"),
}


@pytest.mark.parametrize("action", ["eval", "show"])
@pytest.mark.parametrize("name", list(CRAFTED))
def test_cli_refuses_crafted_files_in_one_line(tmp_path, action, name):
    make, message = CRAFTED[name]
    if name == "seed":
        pytest.importorskip("sklearn")
    make(str(tmp_path / "m.npz"))
    args = ["cnn", action, "m.npz"] + (["x.png"] if action == "show" else [])
    t0 = time.perf_counter()
    res = cli(*args, cwd=tmp_path)
    assert res.returncode == 2, (res.returncode, res.stderr[-2000:])
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("filterkit: error: "), res.stderr[-2000:]
    import re

    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert not (tmp_path / "x.png").exists()
    assert time.perf_counter() - t0 < 60


def test_cli_refuses_a_layer_that_would_need_terabytes(tmp_path):
    pytest.importorskip("sklearn")
    _conv_padding_file(str(tmp_path / "p.npz"))
    for args in (["cnn", "eval", "p.npz"], ["cnn", "show", "p.npz", "x.png"]):
        res = cli(*args, cwd=tmp_path)
        assert res.returncode == 2, res.stderr[-2000:]
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("filterkit: error: "), res.stderr[-2000:]
        assert "MAX_ACTIVATION" in lines[0] or "one score per class" in lines[0], lines[0]


def test_ctrl_c_in_a_cnn_command_is_130(tmp_path, monkeypatch, capsys):
    # the same exit code as every other command
    from filterkit.cli import cnn
    from filterkit.cli import main

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cnn, "_eval", interrupted)
    assert main(["cnn", "eval", str(tmp_path / "m.npz")]) == 130
    assert capsys.readouterr().err == "filterkit: error: interrupted\n"


# --------------------------------------------------------------------------
# the members are the layers' param_names and STATE_NAMES

def test_members_are_named_by_the_layers_param_names(tmp_path):
    model = nn.Sequential(nn.Conv2D(1, 2, 3, padding=1, seed=0), nn.BatchNorm2D(2), nn.ReLU(),
                          nn.Residual(nn.Conv2D(2, 2, 1, seed=1)), nn.Flatten(), nn.Dense(2 * 4 * 4, 3, seed=2))
    path = str(tmp_path / "m.npz")
    nn.save_model(path, model)
    with zipfile.ZipFile(path) as z:
        members = set(z.namelist())
    # the leaves with arrays, by their index among all leaves (ReLU 2 and Flatten 4 have none)
    leaves = {0: model.layers[0], 1: model.layers[1], 3: model.layers[3].layers[0], 5: model.layers[5]}
    want = {"format.npy", "arch.npy", "meta.npy"}
    for i, layer in leaves.items():
        want |= {f"layer{i}.param.{name}.npy" for name in layer.param_names}
        want |= {f"layer{i}.state.{name}.npy" for name in layer.STATE_NAMES}
    assert members == want
    assert "layer1.state.running_var.npy" in members and "layer3.param.weight.npy" in members
    loaded, _ = nn.load_model(path)
    assert loaded.param_names == model.param_names
    assert loaded.param_shapes == model.param_shapes
    for a, b in zip(loaded.params, model.params):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype and not np.shares_memory(a, b)
    assert all(g.shape == p.shape and not g.any() for g, p in zip(loaded.grads, loaded.params))


@pytest.mark.parametrize("layer", [
    nn.Conv2D(3, 4, 5, stride=2, padding=1, dtype=np.float64), nn.Dense(6, 7), nn.BatchNorm2D(5),
    nn.ReLU(), nn.FilterBank(), nn.MaxPool2D(2), nn.AvgPool2D(3, stride=1), nn.Flatten(),
], ids=lambda layer: layer.name)
def test_the_file_schema_agrees_with_the_layers(layer):
    # the reader declares each leaf's arrays from its config without building
    # the layer; names, shapes, dtypes and counts must be the layer's own
    from filterkit.nn import _modelfile

    leaf = _modelfile.check_arch(_modelfile.arch_of(layer)).leaves[0]
    params = {k.split(".", 1)[1]: v for k, v in leaf.arrays.items() if k.startswith("param.")}
    state = {k.split(".", 1)[1]: v for k, v in leaf.arrays.items() if k.startswith("state.")}
    assert list(params) == layer.param_names
    assert [shape for shape, _ in params.values()] == layer.param_shapes
    assert [dt for _, dt in params.values()] == [p.dtype for p in layer.params]
    assert list(state) == list(layer.STATE_NAMES) == list(layer.state())
    assert leaf.n_params == layer.n_params

"""Model files of :mod:`filterkit.nn`: written by ``save_model``, read as untrusted input.

A model file is an ``.npz`` archive (a zip of ``.npy`` members, no pickles):
``format`` (the marker), ``arch`` (the architecture as JSON), ``meta``
(JSON) and one member per parameter and running statistic,
``layer<i>.param.<name>`` / ``layer<i>.state.<name>``, i the layer's
position among the leaves of the architecture and name one of the leaf
type's ``PARAM_NAMES`` / ``STATE_NAMES`` (Conv2D and Dense ``weight``,
``bias``; BatchNorm2D ``gamma``, ``beta``, ``running_mean``,
``running_var``): a layer's ``param_names`` and ``params``, in the same
order.

Anyone can hand ``filterkit cnn eval`` a file, so reading one checks
everything before it allocates anything the file asks for, in this order:

1. the path is a regular file and a zip archive, without duplicate members;
2. the ``format`` member is small and holds the marker (read first, and
   nothing larger is touched before it);
3. ``arch`` (at most ``MAX_JSON_CHARS`` characters, its brackets nested at
   most as deep as ``MAX_DEPTH`` needs) is parsed and validated completely:
   the type of every field, layer types, ``MAX_DEPTH`` levels of nesting,
   ``MAX_LAYERS`` layers, every size from 1 to ``MAX_SIZE`` and a total of
   at most ``MAX_PARAMS`` parameters; ``meta`` must be a JSON object;
4. the members must be exactly those the architecture needs (none missing,
   none extra), each no larger than its declared array
   (``ZipInfo.file_size``, from the zip's directory, before decompressing);
5. each array's ``.npy`` header must give the shape and dtype the
   architecture declares; only then is it read (in chunks, into an array of
   that size), and it must be finite.

Only then are the layers built.  Every refusal is a ``ValueError`` (or a
``TypeError`` for a field of the wrong JSON type) whose message names the
file and the member or field: "`name` must be <requirement>; got <actual>."
"""

from __future__ import annotations

import json
import os
import re
import stat
import zipfile
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from .._validate import describe, fail
from .layers import (AvgPool2D, BatchNorm2D, Conv2D, Dense, FilterBank, Flatten, Layer,
                     MaxPool2D, ReLU, Residual, Sequential)

FORMAT = "filterkit.nn model 1"

#: the deepest nesting of Sequential and Residual blocks in a model file
#: (the model itself is level 1).  A ResNet needs 3; every model method
#: recurses through the levels, so a bound far below Python's recursion
#: limit (1000) keeps a crafted file from ever reaching it.
MAX_DEPTH = 16
#: the most layers (blocks and leaves together) in a model file
MAX_LAYERS = 4096
#: the largest channel count, feature count, filter size, stride, padding,
#: pooling window or mask side in a model file (VGG16's widest Dense layer
#: takes 25,088 features)
MAX_SIZE = 2 ** 20
#: the most parameters in a model file, 2 x 10**8 (0.8 GB in float32,
#: 1.6 GB in float64): VGG16, the largest network of the lecture, has
#: 138,357,544.  Checked from the architecture, before any array is read.
MAX_PARAMS = 200_000_000
#: the longest architecture or metadata JSON text, in characters (the
#: reference models need about 2,000 and 6,000)
MAX_JSON_CHARS = 2 ** 22
#: the most values one layer may produce (output and workspace) for one
#: image when a model is evaluated: 2**26, 256 MB in float32
MAX_ACTIVATION = 2 ** 26

# numpy's own bound on an .npy header (numpy.lib.format's max_header_size);
# a member holds the 6-byte magic, 2 version bytes, a 2- or 4-byte header
# length, the header and the data
_MAX_HEADER = 10_000
_HEADER_BYTES = 12 + _MAX_HEADER
# JSON brackets a valid architecture needs: an object and a list per level,
# then a leaf's object, its config and a FilterBank's masks, rows
_MAX_ARCH_BRACKETS = 2 * MAX_DEPTH + 4
# metadata written by train_dataset nests 2 deep; users' own metadata may nest more
_MAX_META_BRACKETS = 64
# members are read in chunks of this many bytes into their final array
_CHUNK = 1 << 24
_FLOATS = ("float32", "float64")

_LEAF_TYPES = {cls.__name__: cls for cls in (FilterBank, Conv2D, ReLU, MaxPool2D, AvgPool2D,
                                             Flatten, Dense, BatchNorm2D)}
_BLOCK_TYPES = {"Sequential": Sequential, "Residual": Residual}
_TYPE_NAMES = ", ".join(repr(t) for t in list(_BLOCK_TYPES) + list(_LEAF_TYPES))

# per leaf type: its config keys, whether each is required, and its checker
_POS, _NONNEG, _DTYPE, _MOMENTUM, _EPS, _MASKS, _PADDING, _STRIDE = range(8)
_SCHEMA: Dict[str, Dict[str, Tuple[bool, int]]] = {
    "Conv2D": {"in_channels": (True, _POS), "out_channels": (True, _POS), "size": (True, _POS),
               "stride": (False, _POS), "padding": (False, _NONNEG), "dtype": (False, _DTYPE)},
    "Dense": {"in_features": (True, _POS), "out_features": (True, _POS), "dtype": (False, _DTYPE)},
    "BatchNorm2D": {"channels": (True, _POS), "momentum": (False, _MOMENTUM),
                    "eps": (False, _EPS), "dtype": (False, _DTYPE)},
    "MaxPool2D": {"size": (False, _POS), "stride": (False, _STRIDE)},
    "AvgPool2D": {"size": (False, _POS), "stride": (False, _STRIDE)},
    "ReLU": {},
    "Flatten": {},
    "FilterBank": {"masks": (False, _MASKS), "padding": (False, _PADDING), "dtype": (False, _DTYPE)},
}


class _Leaf(NamedTuple):
    """A validated leaf layer: its type, constructor arguments and the
    arrays (member key -> shape, dtype) a model file must hold for it."""

    kind: str
    config: Dict[str, Any]
    arrays: Dict[str, Tuple[Tuple[int, ...], np.dtype]]
    n_params: int


class _Block(NamedTuple):
    """A validated Sequential or Residual block."""

    kind: str
    children: List[Union["_Block", _Leaf]]


class _Plan(NamedTuple):
    """A validated architecture: the tree, the leaves in file order and the
    parameter count."""

    root: Union[_Block, _Leaf]
    leaves: List[_Leaf]
    n_params: int


# --------------------------------------------------------------------------
# the architecture

def _int(where: str, value: Any, low: int) -> int:
    """An integer from `low` to MAX_SIZE (JSON ints only: no bool, no 3.0)."""
    requirement = f"an integer from {low} to {MAX_SIZE:,} (MAX_SIZE)"
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(where, requirement, describe(value), TypeError)
    if not low <= value <= MAX_SIZE:
        raise fail(where, requirement, f"{value:,}")
    return value


def _real(where: str, value: Any, requirement: str, ok: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(where, requirement, describe(value), TypeError)
    try:
        v = float(value)
    except OverflowError:  # an integer beyond float64 (JSON allows 10**400)
        v = float("inf")
    if not ok(v):
        raise fail(where, requirement, repr(value))
    return v


def _masks(where: str, value: Any) -> Optional[List[np.ndarray]]:
    """FilterBank masks: null (the default bank) or a list of 2-D lists of
    finite numbers with odd sides."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise fail(where, "null or a list of masks (lists of rows)", describe(value), TypeError)
    if not 1 <= len(value) <= MAX_SIZE:
        raise fail(where, f"a list of 1 to {MAX_SIZE:,} masks", f"{len(value):,} masks")
    out = []
    for i, m in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(m, list) or not m or not all(isinstance(r, list) for r in m):
            raise fail(here, "a non-empty list of rows (lists of numbers)", describe(m), TypeError)
        widths = {len(r) for r in m}
        if len(widths) != 1:
            raise fail(here, "rows of one length", f"rows of lengths {sorted(widths)[:4]}")
        h, w = len(m), widths.pop()
        if h % 2 == 0 or w % 2 == 0 or h > MAX_SIZE or w > MAX_SIZE:
            raise fail(here, f"odd in height and width, at most {MAX_SIZE:,} (MAX_SIZE)", f"{h} x {w}")
        for r in m:
            for v in r:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise fail(here, "a mask of numbers", describe(v), TypeError)
        a = np.array(m, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise fail(here, "finite (no NaN or inf)", "a mask with non-finite values")
        out.append(a)
    return out


def _check_value(where: str, check: int, value: Any) -> Any:
    if check == _POS:
        return _int(where, value, 1)
    if check == _NONNEG:
        return _int(where, value, 0)
    if check == _STRIDE:
        return None if value is None else _int(where, value, 1)
    if check == _DTYPE:
        if not isinstance(value, str):
            raise fail(where, "'float32' or 'float64'", describe(value), TypeError)
        if value not in _FLOATS:
            raise fail(where, "'float32' or 'float64'", repr(value))
        return value
    if check == _PADDING:
        if not isinstance(value, str):
            raise fail(where, "'same' or 'valid'", describe(value), TypeError)
        if value not in ("same", "valid"):
            raise fail(where, "'same' or 'valid'", repr(value))
        return value
    if check == _MOMENTUM:
        return _real(where, value, "a number in [0, 1)", lambda v: 0.0 <= v < 1.0)
    if check == _EPS:
        return _real(where, value, "a finite positive number", lambda v: 0.0 < v < float("inf"))
    return _masks(where, value)


def _leaf(where: str, kind: str, spec: Dict[str, Any]) -> _Leaf:
    """Validate one leaf's config; its arrays and parameter count."""
    extra = sorted(set(spec) - {"type", "config"})
    if extra:
        raise fail(where, "an object with the keys 'type' and 'config'",
                   "the keys " + ", ".join(map(repr, extra)))
    config = spec.get("config", {})
    if not isinstance(config, dict):
        raise fail(f"{where}.config", "a JSON object", describe(config), TypeError)
    schema = _SCHEMA[kind]
    unknown = sorted(set(config) - set(schema))
    if unknown:
        allowed = ", ".join(map(repr, schema)) or "none"
        raise fail(f"{where}.config", f"an object with the keys of {kind} ({allowed})",
                   "the keys " + ", ".join(map(repr, unknown)))
    checked: Dict[str, Any] = {}
    for key, (required, check) in schema.items():
        if key not in config:
            if required:
                raise fail(f"{where}.config.{key}", f"given (the {kind} needs it)", "nothing")
            continue
        checked[key] = _check_value(f"{where}.config.{key}", check, config[key])
    dt = np.dtype(checked.get("dtype", "float32"))
    # the shapes from the checked config, without building the layer (a
    # layer allocates its state); the names from the layer type, in the
    # order of its params
    params: List[Tuple[int, ...]] = []
    state: List[Tuple[int, ...]] = []
    if kind == "Conv2D":
        k, c, f = checked["out_channels"], checked["in_channels"], checked["size"]
        params = [(k, c, f, f), (k,)]
    elif kind == "Dense":
        i, o = checked["in_features"], checked["out_features"]
        params = [(i, o), (o,)]
    elif kind == "BatchNorm2D":
        c = checked["channels"]
        params, state = [(c,), (c,)], [(c,), (c,)]
    cls = _LEAF_TYPES[kind]
    arrays = {f"param.{name}": (shape, dt) for name, shape in zip(cls.PARAM_NAMES, params)}
    arrays.update({f"state.{name}": (shape, dt) for name, shape in zip(cls.STATE_NAMES, state)})
    n_params = sum(int(np.prod(shape, dtype=object)) for shape in params)
    return _Leaf(kind, checked, arrays, n_params)


def _describe_leaf(leaf: _Leaf) -> str:
    args = ", ".join(f"{v}" for k, v in leaf.config.items() if k not in ("dtype", "masks"))
    return f"{leaf.kind}({args})"


def check_arch(spec: Any) -> _Plan:
    """Validate an architecture description completely, building nothing.

    Iterative (no recursion): a crafted description nested 10,000 deep is
    refused at level MAX_DEPTH + 1, not by a RecursionError.
    """
    root_holder: List[Union[_Block, _Leaf]] = []
    leaves: List[_Leaf] = []
    # (description, where, depth, the list its validated node goes into);
    # children are pushed in reverse so that leaves pop in file order
    stack: List[Tuple[Any, str, int, List[Union[_Block, _Leaf]]]] = [(spec, "arch", 1, root_holder)]
    count = 0
    largest: Tuple[int, str] = (0, "")
    while stack:
        node, where, depth, into = stack.pop()
        count += 1
        if count > MAX_LAYERS:
            raise fail("arch", f"a model of at most {MAX_LAYERS:,} layers (MAX_LAYERS)",
                       f"more than {MAX_LAYERS:,}")
        if not isinstance(node, dict):
            raise fail(where, "a JSON object with a 'type'", describe(node), TypeError)
        kind = node.get("type")
        if not isinstance(kind, str):
            raise fail(f"{where}.type", f"a layer type, one of {_TYPE_NAMES}", describe(kind), TypeError)
        if kind in _BLOCK_TYPES:
            extra = sorted(set(node) - {"type", "layers"})
            if extra:
                raise fail(where, "an object with the keys 'type' and 'layers'",
                           "the keys " + ", ".join(map(repr, extra)))
            layers = node.get("layers")
            if not isinstance(layers, list):
                raise fail(f"{where}.layers", "a list of layers", describe(layers), TypeError)
            if layers and depth >= MAX_DEPTH:
                raise fail("arch", f"nested at most {MAX_DEPTH} levels deep (MAX_DEPTH)",
                           f"layers at level {depth + 1} in {where}")
            if len(layers) > MAX_LAYERS:
                raise fail(f"{where}.layers", f"at most {MAX_LAYERS:,} layers (MAX_LAYERS)",
                           f"{len(layers):,}")
            block = _Block(kind, [])
            into.append(block)
            for i in reversed(range(len(layers))):
                stack.append((layers[i], f"{where}.layers[{i}]", depth + 1, block.children))
        elif kind in _LEAF_TYPES:
            leaf = _leaf(where, kind, node)
            into.append(leaf)
            leaves.append(leaf)
            if leaf.n_params > largest[0]:
                largest = (leaf.n_params, f"{where}, {_describe_leaf(leaf)}")
        else:
            raise fail(f"{where}.type", f"one of {_TYPE_NAMES}", repr(kind))
    total = sum(leaf.n_params for leaf in leaves)
    if total > MAX_PARAMS:
        raise fail("arch", f"a model of at most {MAX_PARAMS:,} parameters (MAX_PARAMS)",
                   f"{total:,} parameters (the largest layer: {largest[1]} with {largest[0]:,})")
    return _Plan(root_holder[0], leaves, total)


def _build(node: Union[_Block, _Leaf]) -> Layer:
    """The layers of a validated plan (recursion at most MAX_DEPTH deep)."""
    if isinstance(node, _Block):
        return _BLOCK_TYPES[node.kind](*[_build(child) for child in node.children])
    cfg = dict(node.config)
    if node.kind == "FilterBank":
        return FilterBank(cfg.pop("masks", None), **cfg)
    if node.kind == "Conv2D":
        return Conv2D(cfg.pop("in_channels"), cfg.pop("out_channels"), cfg.pop("size"), **cfg)
    if node.kind == "Dense":
        return Dense(cfg.pop("in_features"), cfg.pop("out_features"), **cfg)
    if node.kind == "BatchNorm2D":
        return BatchNorm2D(cfg.pop("channels"), **cfg)
    return _LEAF_TYPES[node.kind](**cfg)


def arch_of(layer: Layer, depth: int = 1) -> Dict[str, Any]:
    """The JSON-able description of a model (what ``arch`` holds)."""
    if depth > MAX_DEPTH:  # a user's model nested too deep: refused before recursing further
        raise fail("model", f"nested at most {MAX_DEPTH} levels deep (MAX_DEPTH)",
                   f"a block at level {depth}")
    if isinstance(layer, Sequential):
        return {"type": type(layer).__name__, "layers": [arch_of(sub, depth + 1) for sub in layer.layers]}
    return {"type": type(layer).__name__, "config": layer.config()}


def leaves_of(layer: Layer) -> List[Layer]:
    """The leaf layers in file order (depth first)."""
    if isinstance(layer, Sequential):
        return [leaf for sub in layer.layers for leaf in leaves_of(sub)]
    return [layer]


# --------------------------------------------------------------------------
# JSON

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)


def _bracket_depth(text: str) -> int:
    """How deep a JSON text's brackets nest (strings removed), without
    parsing it: json.loads itself recurses and fails with RecursionError."""
    bare = _STRING.sub('""', text).encode("utf-8", "replace")
    b = np.frombuffer(bare, dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int64) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _parse_json(name: str, text: str, brackets: int) -> Any:
    if len(text) > MAX_JSON_CHARS:
        raise fail(name, f"a JSON text of at most {MAX_JSON_CHARS:,} characters (MAX_JSON_CHARS)",
                   f"{len(text):,}")
    depth = _bracket_depth(text)
    if depth > brackets:
        need = (f"nested at most {MAX_DEPTH} levels deep (MAX_DEPTH; its JSON at most "
                f"{brackets} brackets)" if name == "arch" else f"JSON nested at most {brackets} brackets")
        raise fail(name, need, f"JSON nested {depth:,} brackets deep")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise fail(name, "valid JSON", f"{type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------
# the archive

def _key(member: str) -> str:
    """A member's name as np.load calls it (without .npy), for messages."""
    return member[:-4] if member.endswith(".npy") else member


def _role(leaf: _Leaf, i: int, key: str) -> str:
    """What an array is for, for messages: "layer 3, Conv2D, parameter 'weight'"."""
    kind, name = key.split(".", 1)
    return f"layer {i}, {leaf.kind}, {'parameter' if kind == 'param' else 'running statistic'} {name!r}"


class _Archive:
    """The members of an open zip, read within bounds checked beforehand."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.members: Dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.filename in self.members:
                raise ValueError(f"the archive must be free of duplicate members; "
                                 f"got {info.filename!r} twice.")
            self.members[info.filename] = info

    def check_size(self, member: str, nbytes: int, what: str) -> zipfile.ZipInfo:
        """The member's declared uncompressed size (the zip's directory,
        nothing decompressed) must fit an .npy header and `nbytes` of data."""
        info = self.members[member]
        if info.file_size > _HEADER_BYTES + nbytes:
            raise fail(_key(member), f"at most {_HEADER_BYTES + nbytes:,} bytes uncompressed ({what})",
                       f"a member of {info.file_size:,} bytes")
        return info

    def read(self, member: str, shape: Optional[Tuple[int, ...]], dtype: Any,
             what: str, max_bytes: int) -> np.ndarray:
        """Read an .npy member whose header must give `shape` and `dtype`
        (``dtype=None``: any 0-d text of at most `max_bytes`); the data is
        read in chunks into an array of the checked size."""
        try:
            with self.zf.open(member) as fp:
                got_shape, fortran, got_dtype = self._header(member, fp)
                self._check_header(member, shape, dtype, got_shape, got_dtype, what)
                nbytes = int(np.prod(got_shape, dtype=object)) * got_dtype.itemsize
                if nbytes > max_bytes:  # a text member declaring '<U999999999'
                    raise fail(_key(member), f"at most {max_bytes:,} bytes of data ({what})",
                               f"a header declaring {nbytes:,}")
                out = np.empty(got_shape, dtype=got_dtype, order="F" if fortran else "C")
                raw = out.reshape(-1, order="A").view(np.uint8)  # the array's own memory
                pos = 0
                while pos < nbytes:
                    chunk = fp.read(min(_CHUNK, nbytes - pos))
                    if not chunk:
                        raise fail(_key(member), f"{nbytes:,} bytes of data ({what})",
                                   f"{pos:,} (the member is truncated)")
                    raw[pos:pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                    pos += len(chunk)
                if fp.read(1):
                    raise fail(_key(member), f"{nbytes:,} bytes of data ({what})", "more bytes")
        except (ValueError, TypeError):  # ours, with the member named
            raise
        except Exception as exc:  # zlib, CRC, a truncated archive, an unsupported compression
            raise fail(_key(member), "a readable archive member",
                       f"{type(exc).__name__}: {exc}") from None
        # native byte order and C order; no copy when it is so already
        return out.astype(out.dtype.newbyteorder("="), order="C", copy=False)

    @staticmethod
    def _header(member: str, fp: Any) -> Tuple[Tuple[int, ...], bool, np.dtype]:
        """The .npy header (shape, Fortran order, dtype), read alone."""
        try:
            version = np.lib.format.read_magic(fp)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"format version {version}, not 1.0 or 2.0")
            try:
                shape, fortran, dtype = reader(fp, max_header_size=_MAX_HEADER)
            except TypeError:  # numpy < 1.24: no max_header_size (and 2-byte v1 headers)
                shape, fortran, dtype = reader(fp)
        except (ValueError, TypeError, SyntaxError, EOFError) as exc:  # TypeError: an unknown dtype
            raise fail(_key(member), "an .npy array", f"a damaged header ({exc})") from None
        if dtype.itemsize < 0:  # numpy 2.0 wraps a huge itemsize ('<U1000000000') instead of refusing it
            raise fail(_key(member), "an .npy array",
                       f"a damaged header (an item of {dtype.itemsize} bytes)")
        return tuple(shape), bool(fortran), dtype

    @staticmethod
    def _check_header(member: str, shape: Optional[Tuple[int, ...]], dtype: Any,
                      got_shape: Tuple[int, ...], got_dtype: np.dtype, what: str) -> None:
        if dtype is None:
            if got_dtype.kind != "U" or got_shape != ():
                raise fail(_key(member), f"a text ({what})", f"a {len(got_shape)}-D {got_dtype} array")
            return
        if got_dtype.kind != "f" or got_dtype.newbyteorder("=") != dtype or got_shape != shape:
            raise fail(_key(member), f"a {dtype} array of shape {shape} ({what})",
                       f"a {got_dtype} array of shape {got_shape}")

    def text(self, member: str, chars: int, what: str) -> str:
        """A 0-d text member of at most `chars` characters (numpy stores UCS-4)."""
        self.check_size(member, 4 * chars, what)
        return str(self.read(member, None, None, what, 4 * chars)[()])


def _open(path: str) -> Any:
    """Open the file: a regular file (not a directory, FIFO or device)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(2, "no such model file", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise fail("path", "a model file (.npz)", f"the directory {path!r}")
    if not stat.S_ISREG(st.st_mode):
        raise fail("path", "a regular model file (.npz)", f"{path!r}, which is not a regular file")
    return open(path, "rb")


def load(path: Any) -> Tuple[Sequential, Dict[str, Any]]:
    """Read and check a model file (see the module docstring); (model, meta)."""
    if not isinstance(path, (str, os.PathLike)):
        raise fail("path", "a file name (str or os.PathLike)", describe(path), TypeError)
    path = os.fspath(path)
    with _open(path) as fh:
        if fh.read(4) != b"PK\x03\x04":
            raise ValueError(f"{path}: not a filterkit model file (not an .npz archive)")
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
        except Exception as exc:  # BadZipFile, truncated directories, bad offsets
            raise ValueError(f"{path}: not a filterkit model file (a damaged .npz archive: "
                             f"{type(exc).__name__}: {exc})") from None
        with zf:
            try:
                return _load(_Archive(zf))
            except (ValueError, TypeError) as exc:
                if str(exc).startswith("not a filterkit model file"):
                    raise ValueError(f"{path}: {exc}") from None
                cls = ValueError if isinstance(exc, ValueError) else TypeError  # not a subclass's signature
                raise cls(f"{path}: a damaged or mismatched filterkit model file: {exc}") from None


def _load(archive: _Archive) -> Tuple[Sequential, Dict[str, Any]]:
    # 1. the marker first: a small member, nothing else is read before it
    if "format.npy" not in archive.members:
        raise ValueError(f"not a filterkit model file (no '{FORMAT}' marker)")
    info = archive.members["format.npy"]
    if info.file_size > _HEADER_BYTES + 4 * 64:
        raise ValueError(f"not a filterkit model file (a format member of {info.file_size:,} "
                         f"bytes, not the '{FORMAT}' marker)")
    try:
        marker = archive.text("format.npy", 64, "the format marker")
    except ValueError as exc:
        raise ValueError(f"not a filterkit model file (no '{FORMAT}' marker: {exc})") from None
    if marker != FORMAT:
        raise ValueError(f"not a filterkit model file (the marker is {marker[:40]!r}, "
                         f"not '{FORMAT}')")
    # 2. the architecture and the metadata, checked completely
    for key in ("arch.npy", "meta.npy"):
        if key not in archive.members:
            raise fail(key[:-4], "in the file", "no member " + repr(key))
    plan = check_arch(_parse_json("arch", archive.text("arch.npy", MAX_JSON_CHARS, "JSON"),
                                  _MAX_ARCH_BRACKETS))
    meta = _parse_json("meta", archive.text("meta.npy", MAX_JSON_CHARS, "JSON"), _MAX_META_BRACKETS)
    if not isinstance(meta, dict):
        raise fail("meta", "a JSON object", describe(meta), TypeError)
    # 3. exactly the members the architecture needs, none larger than its array
    wanted: Dict[str, Tuple[int, str, Tuple[int, ...], np.dtype]] = {}
    for i, leaf in enumerate(plan.leaves):
        for key, (shape, dt) in leaf.arrays.items():
            wanted[f"layer{i}.{key}.npy"] = (i, key, shape, dt)
    missing = [m for m in wanted if m not in archive.members]
    if missing:
        i, key, shape, _ = wanted[missing[0]]
        raise fail(_key(missing[0]), f"in the file ({_role(plan.leaves[i], i, key)}, shape {shape})",
                   f"no such member ({len(missing)} missing)")
    extra = sorted(set(archive.members) - set(wanted) - {"format.npy", "arch.npy", "meta.npy"})
    if extra:
        raise ValueError("the archive must hold only the members the architecture needs; got "
                         f"{len(extra)} more: " + ", ".join(map(repr, extra[:3])) + ".")
    for member, (i, key, shape, dt) in wanted.items():
        archive.check_size(member, int(np.prod(shape, dtype=object)) * dt.itemsize,
                           f"{shape} {dt}: {_role(plan.leaves[i], i, key)}")
    # 4. the arrays, each checked against its header before it is read
    arrays: List[Dict[str, np.ndarray]] = [{} for _ in plan.leaves]
    for member, (i, key, shape, dt) in wanted.items():
        what = _role(plan.leaves[i], i, key)
        a = archive.read(member, shape, dt, what, int(np.prod(shape, dtype=object)) * dt.itemsize)
        if not np.all(np.isfinite(a)):
            raise fail(_key(member), f"finite ({what}; no NaN or inf)",
                       f"{int(np.size(a) - np.isfinite(a).sum()):,} non-finite values")
        if key == "state.running_var" and np.any(a < 0):
            raise fail(_key(member), f"non-negative ({what}: a variance)", f"{float(a.min())}")
        arrays[i][key] = a
    # 5. only now the layers, with the arrays read (no random initialisation)
    model = _build(plan.root)
    if not isinstance(model, Sequential):
        model = Sequential(model)
    for i, leaf in enumerate(leaves_of(model)):
        # load_params copies into the layer's own arrays; the arrays read
        # are dropped leaf by leaf, so at most one leaf is held twice
        stored, arrays[i] = arrays[i], {}
        leaf.load_params([stored.pop(f"param.{name}") for name in leaf.param_names])
        for name in leaf.STATE_NAMES:
            setattr(leaf, name, stored.pop(f"state.{name}"))
    model.eval()
    return model, meta


def save(path: str, model: Sequential, meta: Optional[Dict[str, Any]]) -> None:
    """Write a model file, refusing what :func:`load` would refuse."""
    if not isinstance(model, Layer):
        raise fail("model", "a filterkit.nn model (Sequential)", describe(model), TypeError)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise fail("meta", "a dict (JSON object) or None", describe(meta), TypeError)
    arch = arch_of(model)
    check_arch(arch)  # the same checks as loading: depth, layer types, sizes, MAX_PARAMS
    arch_text, meta_text = json.dumps(arch), json.dumps(meta)
    for name, text in (("arch", arch_text), ("meta", meta_text)):
        if len(text) > MAX_JSON_CHARS:
            raise fail(name, f"a JSON text of at most {MAX_JSON_CHARS:,} characters (MAX_JSON_CHARS)",
                       f"{len(text):,}")
    if _bracket_depth(meta_text) > _MAX_META_BRACKETS:
        raise fail("meta", f"nested at most {_MAX_META_BRACKETS} deep", "deeper")
    arrays: Dict[str, np.ndarray] = {"format": np.array(FORMAT), "arch": np.array(arch_text),
                                     "meta": np.array(meta_text)}
    for i, leaf in enumerate(leaves_of(model)):
        for kind, values in (("param", dict(zip(leaf.param_names, leaf.params))),
                             ("state", leaf.state())):
            for key, value in values.items():
                if not np.all(np.isfinite(value)):
                    raise fail(f"layer{i}.{kind}.{key}", f"finite (layer {i}, {leaf.name}; "
                               "a model file refuses NaN and inf)", "non-finite values")
                arrays[f"layer{i}.{kind}.{key}"] = value
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)

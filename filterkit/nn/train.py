"""Bundled datasets, the reference models, training, evaluation and model files.

Datasets come with installed packages, nothing is downloaded:
``digits`` is scikit-learn's 1,797 handwritten digits (8 x 8, ten classes;
the ``nn`` extra installs scikit-learn) and ``faces`` scikit-image's
``lfw_subset`` (200 grey 25 x 25 pictures, the first 100 faces, the other
100 not).  The split keeps 25 % of every class for testing, fixed by the
seed.  Model files are ``np.savez`` archives without pickles: the
architecture as JSON, the parameters, running statistics and the input
normalisation.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .._validate import describe, fail
from . import _modelfile
from ._modelfile import MAX_ACTIVATION
from .layers import (Conv2D, Dense, FilterBank, Flatten, Layer, MaxPool2D, ReLU, Sequential,
                     SoftmaxCrossEntropy)
from .optim import Adam

#: the bundled datasets of :func:`load_dataset`
DATASETS = ("digits", "faces")
#: first layers of :func:`build_model`: filterkit's filter bank, learned masks, or none
FIRST_LAYERS = ("fixed", "learned", "none")


class Dataset(NamedTuple):
    """Images (N, 1, H, W) float32 in [0, 1], integer labels and class names."""

    x: np.ndarray
    y: np.ndarray
    classes: Tuple[str, ...]
    name: str


def load_dataset(name: str) -> Dataset:
    """One of the bundled datasets: ``'digits'`` or ``'faces'``.

    Parameters
    ----------
    name : {'digits', 'faces'}

    Returns
    -------
    Dataset
        ``x`` (N, 1, H, W) float32 in [0, 1], ``y`` int64, ``classes``.

    Examples
    --------
    >>> from filterkit.nn import load_dataset
    >>> d = load_dataset("digits")          # doctest: +SKIP
    >>> d.x.shape, d.classes[:3]            # doctest: +SKIP
    ((1797, 1, 8, 8), ('0', '1', '2'))
    """
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ImportError("the digits dataset comes with scikit-learn: "
                              "pip install 'filterkit[nn]'") from None
        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[:, None]
        return Dataset(x, d.target.astype(np.int64), tuple(str(c) for c in d.target_names), name)
    if name == "faces":
        try:
            from skimage.data import lfw_subset
        except ImportError:
            raise ImportError("the faces dataset comes with scikit-image: "
                              "pip install 'filterkit[nn]'") from None
        x = np.asarray(lfw_subset(), dtype=np.float32)[:, None]
        y = np.r_[np.ones(100), np.zeros(len(x) - 100)].astype(np.int64)  # first 100: faces
        return Dataset(x, y, ("non-face", "face"), name)
    raise ValueError(f"`dataset` must be one of {', '.join(map(repr, DATASETS))}; got {name!r}.")


def split(y: np.ndarray, *, test_fraction: float = 0.25, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): `test_fraction` of every class held out, by the seed.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import split
    >>> train, test = split(np.array([0, 0, 0, 0, 1, 1, 1, 1]), seed=1)
    >>> len(train), len(test)
    (6, 2)
    """
    rng = np.random.default_rng(seed)
    train: List[np.ndarray] = []
    test: List[np.ndarray] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def build_model(dataset: str, first_layer: str = "fixed", *, seed: int = 0,
                n_classes: Optional[int] = None) -> Sequential:
    """The reference CNN for a dataset, with its first layer fixed, learned or absent.

    ``fixed`` is :class:`FilterBank` (mean, Gaussian, Sobel x, Sobel y,
    Laplace), ``learned`` a trainable ``Conv2D(1, 5, 3, padding=1)`` in its
    place (five learned 3 x 3 masks), ``none`` starts at the second layer.

    Examples
    --------
    >>> from filterkit.nn import build_model
    >>> build_model("digits").output_shape((1, 8, 8))
    (10,)
    """
    if dataset not in DATASETS:
        raise ValueError(f"`dataset` must be one of {', '.join(map(repr, DATASETS))}; got {dataset!r}.")
    if first_layer not in FIRST_LAYERS:
        raise ValueError(f"`first_layer` must be one of {', '.join(map(repr, FIRST_LAYERS))}; "
                         f"got {first_layer!r}.")
    seeds = iter(np.random.default_rng(seed).integers(0, 2**31, size=16).tolist())
    layers: List[Layer] = []
    if first_layer == "fixed":
        layers.append(FilterBank())
    elif first_layer == "learned":
        layers.append(Conv2D(1, 5, 3, padding=1, seed=next(seeds)))
    c = 1 if first_layer == "none" else 5
    if dataset == "digits":
        k = n_classes or 10
        layers += [Conv2D(c, 16, 3, padding=1, seed=next(seeds)), ReLU(), MaxPool2D(2),   # 16x4x4
                   Conv2D(16, 32, 3, padding=1, seed=next(seeds)), ReLU(), MaxPool2D(2),  # 32x2x2
                   Flatten(), Dense(128, 64, seed=next(seeds)), ReLU(),
                   Dense(64, k, seed=next(seeds))]
    else:
        k = n_classes or 2
        layers += [Conv2D(c, 8, 3, padding=1, seed=next(seeds)), ReLU(), MaxPool2D(3, 2),  # 8x12x12
                   Conv2D(8, 16, 3, padding=1, seed=next(seeds)), ReLU(), MaxPool2D(2),     # 16x6x6
                   Flatten(), Dense(576, 32, seed=next(seeds)), ReLU(),
                   Dense(32, k, seed=next(seeds))]
    return Sequential(*layers)


class History(NamedTuple):
    """Per-epoch training loss and accuracy, and the seconds spent."""

    loss: List[float]
    accuracy: List[float]
    seconds: float


def _backward(model: Sequential, grad: np.ndarray) -> None:
    """Backward down to the first layer with parameters: a fixed first
    layer needs no gradient with respect to the images."""
    last = next((i for i, layer in enumerate(model.layers) if layer.n_params), len(model.layers))
    for layer in reversed(model.layers[last:]):
        grad = layer.backward(grad)


def fit(model: Sequential, x: np.ndarray, y: np.ndarray, *, epochs: int = 20,
        batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
        callback: Optional[Callable[[int, float, float], None]] = None) -> History:
    """Train `model` on (x, y) with Adam and softmax cross-entropy.

    Deterministic for a seed (the batch order is the only randomness).
    A loss that becomes NaN or infinite stops training with a
    ``FloatingPointError`` that names the epoch and step.

    Parameters
    ----------
    model : Sequential
    x : ndarray (N, C, H, W)
    y : ndarray (N,) of int
    epochs, batch_size : int, optional
    lr : float, optional
        Adam's learning rate.
    seed : int, optional
    callback : callable, optional
        ``callback(epoch, loss, accuracy)`` after every epoch (1-based).

    Returns
    -------
    History

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import build_model, fit
    >>> x = np.random.default_rng(0).random((40, 1, 8, 8), dtype=np.float32)
    >>> h = fit(build_model("digits"), x, np.arange(40) % 10, epochs=1)
    >>> len(h.loss)
    1
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"`{name}` must be a positive integer; got {v!r}.")
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 4 or y.shape != (len(x),):
        raise ValueError(f"`x` must be (N, C, H, W) and `y` (N,); got {x.shape} and {y.shape}.")
    model.output_shape(x.shape[1:])  # a wrong input shape fails here, before any work
    rng = np.random.default_rng(seed)
    loss_fn = SoftmaxCrossEntropy()
    opt = Adam(model.params, model.grads, lr=lr)
    model.train()
    losses, accs = [], []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        total, correct = 0.0, 0
        for step, start in enumerate(range(0, len(x), batch_size), 1):
            idx = order[start:start + batch_size]
            logits = model.forward(x[idx])
            loss = loss_fn.forward(logits, y[idx])
            if not np.isfinite(loss):
                raise FloatingPointError(f"training stopped: the loss became {loss} at epoch "
                                         f"{epoch}, step {step} (try a smaller learning rate)")
            total += loss * len(idx)
            correct += int((logits.argmax(axis=1) == y[idx]).sum())
            _backward(model, loss_fn.backward())
            opt.step()
        losses.append(total / len(x))
        accs.append(correct / len(x))
        if callback is not None:
            callback(epoch, losses[-1], accs[-1])
    model.eval()
    return History(losses, accs, time.perf_counter() - t0)


def predict(model: Sequential, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class indices for images (N, C, H, W), in evaluation mode.

    Parameters
    ----------
    model : Sequential
    x : ndarray (N, C, H, W)
        Or (N, F) for a model that starts with a Dense layer.
    batch_size : int, optional
        Images per forward pass; fewer when one layer would hold more than
        ``MAX_ACTIVATION`` values for the batch.

    Returns
    -------
    ndarray (N,) of int

    Raises
    ------
    ValueError
        When `x` does not fit the model (naming the layer), or when one
        image alone would make a layer hold more than ``MAX_ACTIVATION``
        values (output and workspace), checked before any work.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import build_model, predict
    >>> predict(build_model("digits"), np.zeros((3, 1, 8, 8))).shape
    (3,)
    """
    model.eval()
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise fail("x", "a batch of images (N, C, H, W)", f"shape {x.shape}")
    # the layers' sizes for one image, checked against MAX_ACTIVATION before
    # any work; a batch holds at most MAX_ACTIVATION values in one layer
    peak = _check_work(model, x.shape[1:])
    step = max(1, min(batch_size, MAX_ACTIVATION // peak))
    return np.concatenate([model.forward(x[i:i + step]).argmax(axis=1)
                           for i in range(0, len(x), step)]) if len(x) else np.zeros(0, int)


def _values(layer: Layer, shape: Tuple[int, ...]) -> Tuple[Tuple[int, ...], int, str]:
    """(output shape, the most values one of its leaves holds for one image:
    output, padded input and im2col workspace, that leaf) of `layer` on
    one image of `shape`; raises the layers' own ValueError for a shape
    that does not fit."""
    if isinstance(layer, Sequential):
        peak, which = math.prod(shape), "the input"
        out = tuple(shape)
        for sub in layer.layers:
            out, p, w = _values(sub, out)
            if p > peak:
                peak, which = p, w
        layer.output_shape(shape)  # a Residual body must keep the shape
        return out, peak, which
    out = tuple(int(v) for v in layer.output_shape(shape))
    n_in, n_out = math.prod(shape), math.prod(out)
    if isinstance(layer, Conv2D):
        c, h, w = shape
        f, p = layer.size, layer.padding
        work = c * f * f * out[1] * (w + 2 * p) + c * (h + 2 * p) * (w + 2 * p)
    elif isinstance(layer, FilterBank):
        work = 2 * n_out + 2 * n_in
    else:
        work = n_in
    return out, n_out + work, layer.describe()


def _check_work(model: Layer, shape: Tuple[int, ...]) -> int:
    """The most values a leaf of `model` holds for one image of `shape`;
    a ValueError naming the layer beyond MAX_ACTIVATION (a model file can
    declare a 1x1 convolution with a million pixels of padding)."""
    _, peak, which = _values(model, tuple(int(v) for v in shape))
    if peak > MAX_ACTIVATION:
        raise fail("model", f"layers of at most {MAX_ACTIVATION:,} values per image "
                   "(MAX_ACTIVATION: output and workspace)",
                   f"{which} with {peak:,} on an input of shape {tuple(shape)}")
    return max(1, peak)


def accuracy(model: Sequential, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of images classified correctly.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import build_model, accuracy
    >>> 0.0 <= accuracy(build_model("digits"), np.zeros((4, 1, 8, 8)), np.arange(4)) <= 1.0
    True
    """
    return float((predict(model, x) == np.asarray(y)).mean())


# --------------------------------------------------------------------------
# model files: written and read by ._modelfile, which treats a file as
# untrusted input (see its docstring and the limits MAX_DEPTH, MAX_PARAMS...)

def save_model(path: str, model: Sequential, meta: Optional[Dict[str, Any]] = None) -> None:
    """Write `model` (architecture, parameters, running statistics) and
    `meta` (JSON-able) to an ``.npz`` file without pickles, atomically.

    The file passes every check of :func:`load_model`: a model it would
    refuse (a layer type it does not know, nesting deeper than
    ``MAX_DEPTH``, more than ``MAX_PARAMS`` parameters, NaN weights) is
    not written.

    Parameters
    ----------
    path : str
        The file to write (replaced atomically).
    model : Sequential
    meta : dict, optional
        JSON-able metadata (a JSON object in the file).

    Raises
    ------
    ValueError, TypeError
        For a model or metadata that :func:`load_model` would refuse.

    Examples
    --------
    >>> import os, tempfile
    >>> from filterkit.nn import build_model, save_model, load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(path, build_model("digits"), {"dataset": "digits"})
    >>> load_model(path)[1]["dataset"]
    'digits'
    """
    _modelfile.save(path, model, meta)


def load_model(path: str) -> Tuple[Sequential, Dict[str, Any]]:
    """Read a model written by :func:`save_model`: (model, meta).

    A model file is untrusted input: everything is checked before anything
    the file declares is allocated.  First the ``format`` marker (a small
    member; no other member is read before it); then the architecture,
    completely (the JSON type of every field, known layer types, nesting at
    most ``MAX_DEPTH`` levels, at most ``MAX_LAYERS`` layers, every size
    from 1 to ``MAX_SIZE``, at most ``MAX_PARAMS`` parameters) and that
    ``meta`` is a JSON object; then that the archive holds exactly the
    members the architecture needs, none larger (uncompressed, as the zip
    declares it) than its array; then every array's shape and dtype from
    its ``.npy`` header, before its data is read; the data must be finite.
    Pickles are never loaded.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : Sequential
        In evaluation mode.
    meta : dict

    Raises
    ------
    ValueError
        Naming the file and what is wrong, for anything that is not a
        complete filterkit model within the limits (another ``.npz``, a
        truncated or damaged archive, a missing or extra member, parameters
        that do not fit the architecture, NaN weights, a directory).
    TypeError
        For a field of the wrong JSON type (``meta`` not an object, a size
        that is not an integer), or a `path` that is not a file name.
    FileNotFoundError, PermissionError
        When the file cannot be opened.

    Examples
    --------
    >>> import os, tempfile
    >>> from filterkit.nn import build_model, save_model, load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(path, build_model("faces", "learned"))
    >>> model, meta = load_model(path)
    >>> model.output_shape((1, 25, 25)), meta
    ((2,), {})
    """
    return _modelfile.load(path)


def first_layer_masks(model: Sequential) -> Tuple[List[np.ndarray], str]:
    """The first layer's masks (fixed or learned) and which kind they are.

    Examples
    --------
    >>> from filterkit.nn import build_model, first_layer_masks
    >>> masks, kind = first_layer_masks(build_model("digits", "fixed"))
    >>> len(masks), kind
    (5, 'fixed')
    """
    if not model.layers:  # an empty model (a model file may hold one)
        return [], "none"
    first = model.layers[0]
    if isinstance(first, FilterBank):
        return [m.copy() for m in first.masks], "fixed"
    if isinstance(first, Conv2D) and first.in_channels == 1 and first.out_channels <= 8:
        weight = first.params[first.param_names.index("weight")]
        return [w[0].astype(np.float64) for w in weight], "learned"
    return [], "none"


def normalise(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return ((np.asarray(x, dtype=np.float32) - np.float32(mean)) / np.float32(std)).astype(np.float32)


def train_dataset(dataset: str, *, first_layer: str = "fixed", epochs: Optional[int] = None,
                  seed: int = 0, callback: Optional[Callable[[int, float, float], None]] = None
                  ) -> Tuple[Sequential, Dict[str, Any]]:
    """Load, split, build and train the reference model of a dataset.

    Returns the model and its metadata (dataset, split seed, normalisation,
    test accuracy, training seconds and per-epoch history).

    Examples
    --------
    >>> from filterkit.nn import train_dataset
    >>> model, meta = train_dataset("digits", epochs=1)   # doctest: +SKIP
    >>> meta["test_accuracy"] > 0.5                        # doctest: +SKIP
    True
    """
    data = load_dataset(dataset)
    train, test = split(data.y, seed=seed)
    mean, std = float(data.x[train].mean()), float(data.x[train].std())
    xtr, xte = normalise(data.x[train], mean, std), normalise(data.x[test], mean, std)
    model = build_model(dataset, first_layer, seed=seed, n_classes=len(data.classes))
    epochs = epochs if epochs is not None else DEFAULT_EPOCHS[dataset]
    hist = fit(model, xtr, data.y[train], epochs=epochs, seed=seed, callback=callback,
               lr=LEARNING_RATE[dataset])
    acc = accuracy(model, xte, data.y[test])
    meta = {"dataset": dataset, "first_layer": first_layer, "seed": seed, "epochs": epochs,
            "mean": mean, "std": std, "classes": list(data.classes), "input_shape": list(data.x.shape[1:]),
            "test_accuracy": acc, "train_seconds": hist.seconds,
            "history": {"loss": hist.loss, "accuracy": hist.accuracy}}
    return model, meta


def evaluate_dataset(model: Sequential, meta: Dict[str, Any], dataset: Optional[str] = None) -> float:
    """Test-split accuracy of a trained model on its dataset (same split seed).

    Raises ``ValueError`` when the dataset's input shape or class count is
    not the model's.

    Examples
    --------
    >>> from filterkit.nn import train_dataset, evaluate_dataset
    >>> model, meta = train_dataset("faces", epochs=2)        # doctest: +SKIP
    >>> evaluate_dataset(model, meta) == meta["test_accuracy"]  # doctest: +SKIP
    True
    """
    dataset = dataset or meta_value(meta, "dataset")
    data = load_dataset(str(dataset))
    want = tuple(meta_value(meta, "input_shape", data.x.shape[1:]))
    classes = meta_value(meta, "classes", data.classes)
    if tuple(data.x.shape[1:]) != want or len(data.classes) != len(classes):
        raise ValueError(f"the model was trained on {meta.get('dataset')!r} "
                         f"(input {tuple(want)}, {len(meta.get('classes', []))} classes); "
                         f"{dataset!r} has input {tuple(data.x.shape[1:])} and {len(data.classes)} classes")
    # the model itself (not only its metadata) must fit the data: one score per class
    out = model.output_shape(data.x.shape[1:])
    if tuple(out) != (len(data.classes),):
        raise fail("model", f"one score per class of {dataset!r}, output shape "
                   f"({len(data.classes)},) for an input {tuple(data.x.shape[1:])}",
                   f"output shape {tuple(out)}")
    _, test = split(data.y, seed=meta_value(meta, "seed", 0))
    x = normalise(data.x[test], meta_value(meta, "mean", 0.0), meta_value(meta, "std", 1.0))
    return accuracy(model, x, data.y[test])


_NO_DEFAULT = object()


def meta_value(meta: Any, key: str, default: Any = _NO_DEFAULT) -> Any:
    """A field of a model's metadata, checked: metadata comes from a model
    file, untrusted.

    Parameters
    ----------
    meta : dict
        The metadata (``load_model(path)[1]``).
    key : {'dataset', 'seed', 'mean', 'std', 'input_shape', 'classes'}
    default : optional
        Returned when `meta` has no `key`; without it, a missing key is a
        ValueError.

    Returns
    -------
    str, int, float, tuple or list
        ``dataset`` a name, ``seed`` a non-negative integer, ``mean`` a
        finite float, ``std`` a finite positive float, ``input_shape`` a
        tuple of three positive integers, ``classes`` a list.

    Raises
    ------
    ValueError, TypeError
        Naming the field: "`meta['seed']` must be ...; got ...".

    Examples
    --------
    >>> from filterkit.nn.train import meta_value
    >>> meta_value({"seed": 3}, "seed"), meta_value({}, "std", 1.0)
    (3, 1.0)
    """
    if not isinstance(meta, dict):
        raise fail("meta", "a dict (a JSON object)", describe(meta), TypeError)
    name = f"meta[{key!r}]"
    if key not in meta:
        if default is _NO_DEFAULT:
            what = " (or name the dataset: --dataset)" if key == "dataset" else ""
            raise fail(name, f"given{what}", "no such field")
        return default
    v = meta[key]
    if key == "dataset":
        if not isinstance(v, str):
            raise fail(name, f"one of {', '.join(map(repr, DATASETS))}", describe(v), TypeError)
        return v
    if key == "seed":
        if isinstance(v, bool) or not isinstance(v, int):
            raise fail(name, "a non-negative integer", describe(v), TypeError)
        if v < 0:
            raise fail(name, "a non-negative integer", repr(v))
        return v
    if key in ("mean", "std"):
        need = "a finite number" if key == "mean" else "a finite positive number"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise fail(name, need, describe(v), TypeError)
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f) or (key == "std" and f <= 0):
            raise fail(name, need, repr(v))
        return f
    if key == "input_shape":
        if (not isinstance(v, (list, tuple)) or len(v) != 3
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in v)):
            raise fail(name, "three positive integers (C, H, W)", describe(v),
                       TypeError if not isinstance(v, (list, tuple)) else ValueError)
        return tuple(v)
    if key == "classes":
        if not isinstance(v, (list, tuple)):
            raise fail(name, "a list of class names", describe(v), TypeError)
        return list(v)
    raise fail("key", "one of 'dataset', 'seed', 'mean', 'std', 'input_shape', 'classes'", repr(key))


DEFAULT_EPOCHS = {"digits": 15, "faces": 30}
LEARNING_RATE = {"digits": 2e-3, "faces": 1e-3}


def feature_maps(model: Sequential, image: np.ndarray) -> np.ndarray:
    """The first layer's output (k, H, W) for one image (1, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import build_model, feature_maps
    >>> feature_maps(build_model("digits"), np.zeros((1, 8, 8))).shape
    (5, 8, 8)
    """
    if not model.layers:
        raise fail("model", "a model with a first layer", "an empty model")
    image = np.asarray(image, dtype=np.float32)
    _check_work(model.layers[0], image.shape)  # a crafted first layer: refused, not allocated
    return model.layers[0].forward(image[None])[0]


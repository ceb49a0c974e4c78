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

import json
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .layers import (AvgPool2D, BatchNorm2D, Conv2D, Dense, FilterBank, Flatten, Layer,
                     MaxPool2D, ReLU, Residual, Sequential, SoftmaxCrossEntropy)
from .optim import Adam

DATASETS = ("digits", "faces")
FIRST_LAYERS = ("fixed", "learned", "none")
FORMAT = "filterkit.nn model 1"


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

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import build_model, predict
    >>> predict(build_model("digits"), np.zeros((3, 1, 8, 8))).shape
    (3,)
    """
    model.eval()
    x = np.asarray(x, dtype=np.float32)
    return np.concatenate([model.forward(x[i:i + batch_size]).argmax(axis=1)
                           for i in range(0, len(x), batch_size)]) if len(x) else np.zeros(0, int)


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
# model files

_LAYER_TYPES = {cls.__name__: cls for cls in (FilterBank, Conv2D, ReLU, MaxPool2D, AvgPool2D,
                                              Flatten, Dense, BatchNorm2D)}


def _arch(layer: Layer) -> Dict[str, Any]:
    if isinstance(layer, Sequential):
        return {"type": type(layer).__name__, "layers": [_arch(sub) for sub in layer.layers]}
    return {"type": type(layer).__name__, "config": layer.config()}


def _from_arch(spec: Any) -> Layer:
    kind = spec["type"]
    if kind in ("Sequential", "Residual"):
        cls = Sequential if kind == "Sequential" else Residual
        return cls(*[_from_arch(s) for s in spec["layers"]])
    if kind not in _LAYER_TYPES:
        raise ValueError(f"unknown layer type {kind!r}")
    cfg = dict(spec.get("config", {}))
    if kind == "FilterBank":
        return FilterBank([np.array(m, dtype=np.float64) for m in cfg.pop("masks")], **cfg)
    if kind == "Conv2D":
        return Conv2D(cfg.pop("in_channels"), cfg.pop("out_channels"), cfg.pop("size"), **cfg)
    if kind == "Dense":
        return Dense(cfg.pop("in_features"), cfg.pop("out_features"), **cfg)
    if kind == "BatchNorm2D":
        return BatchNorm2D(cfg.pop("channels"), **cfg)
    return _LAYER_TYPES[kind](**cfg)


def _leaves(layer: Layer) -> List[Layer]:
    if isinstance(layer, Sequential):
        return [leaf for sub in layer.layers for leaf in _leaves(sub)]
    return [layer]


def save_model(path: str, model: Sequential, meta: Optional[Dict[str, Any]] = None) -> None:
    """Write `model` (architecture, parameters, running statistics) and
    `meta` (JSON-able) to an ``.npz`` file without pickles, atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> from filterkit.nn import build_model, save_model, load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> save_model(path, build_model("digits"), {"dataset": "digits"})
    >>> load_model(path)[1]["dataset"]
    'digits'
    """
    arrays: Dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "arch": np.array(json.dumps(_arch(model))),
        "meta": np.array(json.dumps(meta or {})),
    }
    for i, leaf in enumerate(_leaves(model)):
        for key, value in leaf.params.items():
            arrays[f"layer{i}.param.{key}"] = value
        for key, value in leaf.state().items():
            arrays[f"layer{i}.state.{key}"] = value
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_model(path: str) -> Tuple[Sequential, Dict[str, Any]]:
    """Read a model written by :func:`save_model`: (model, meta).

    Raises ``ValueError`` naming the file for anything that is not a
    complete filterkit model (another ``.npz``, a truncated file, parameters
    that do not fit the architecture).

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
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        raise ValueError(f"{path}: not a filterkit model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except Exception as exc:  # zipfile, pickle refusal, truncated archives: all "not a model"
        raise ValueError(f"{path}: not a filterkit model file ({type(exc).__name__}: {exc})") from None
    if str(data.get("format", "")) != FORMAT:
        raise ValueError(f"{path}: not a filterkit model file (no '{FORMAT}' marker)")
    try:
        model = _from_arch(json.loads(str(data["arch"])))
        meta = json.loads(str(data["meta"]))
        if not isinstance(model, Sequential):
            model = Sequential(model)
        for i, leaf in enumerate(_leaves(model)):
            for key, value in leaf.params.items():
                stored = data.pop(f"layer{i}.param.{key}")
                if stored.shape != value.shape:
                    raise ValueError(f"layer {i} ({leaf.name}) parameter {key!r} has shape "
                                     f"{stored.shape}, the architecture needs {value.shape}")
                value[...] = stored
            for key in leaf.state():
                setattr(leaf, key, np.array(data.pop(f"layer{i}.state.{key}"), dtype=leaf.dtype))  # type: ignore[attr-defined]
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: a damaged or mismatched filterkit model file ({exc})") from None
    extra = [k for k in data if k.startswith("layer")]
    if extra:
        raise ValueError(f"{path}: a mismatched filterkit model file (parameters without a layer: "
                         f"{', '.join(sorted(extra)[:3])})")
    model.eval()
    return model, meta


def first_layer_masks(model: Sequential) -> Tuple[List[np.ndarray], str]:
    """The first layer's masks (fixed or learned) and which kind they are.

    Examples
    --------
    >>> from filterkit.nn import build_model, first_layer_masks
    >>> masks, kind = first_layer_masks(build_model("digits", "fixed"))
    >>> len(masks), kind
    (5, 'fixed')
    """
    first = model.layers[0]
    if isinstance(first, FilterBank):
        return [m.copy() for m in first.masks], "fixed"
    if isinstance(first, Conv2D) and first.in_channels == 1 and first.out_channels <= 8:
        return [w[0].astype(np.float64) for w in first.params["weight"]], "learned"
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
    dataset = dataset or meta.get("dataset")
    data = load_dataset(str(dataset))
    want = tuple(meta.get("input_shape", data.x.shape[1:]))
    if tuple(data.x.shape[1:]) != want or len(data.classes) != len(meta.get("classes", data.classes)):
        raise ValueError(f"the model was trained on {meta.get('dataset')!r} "
                         f"(input {tuple(want)}, {len(meta.get('classes', []))} classes); "
                         f"{dataset!r} has input {tuple(data.x.shape[1:])} and {len(data.classes)} classes")
    _, test = split(data.y, seed=int(meta.get("seed", 0)))
    x = normalise(data.x[test], float(meta.get("mean", 0.0)), float(meta.get("std", 1.0)))
    return accuracy(model, x, data.y[test])


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
    return model.layers[0].forward(np.asarray(image, dtype=np.float32)[None])[0]


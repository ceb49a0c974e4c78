"""Optimisers: they update the parameter arrays in place from their gradients.

An optimiser takes the layer protocol's two lists, ``model.params`` and
``model.grads`` (see :class:`filterkit.nn.Layer`), and keeps the arrays
themselves: every ``backward`` overwrites the gradient arrays in place and
every ``step`` updates the parameter arrays in place, so the optimiser is
built once, before the first step.
"""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np


def _arrays(params: Sequence[Any], grads: Sequence[Any], owner: str) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    params, grads = list(params), list(grads)
    if len(params) != len(grads):
        raise ValueError(f"{owner}: `params` and `grads` must be lists of the same length; "
                         f"got {len(params)} and {len(grads)}.")
    for i, (p, g) in enumerate(zip(params, grads)):
        if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray) or p.shape != g.shape:
            raise ValueError(f"{owner}: `params[{i}]` and `grads[{i}]` must be arrays of one shape; "
                             f"got {getattr(p, 'shape', type(p).__name__)} and "
                             f"{getattr(g, 'shape', type(g).__name__)}.")
    return params, grads


def _rate(lr: Any, owner: str) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) \
            or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"{owner}: `lr` must be a positive number; got {lr!r}.")
    return float(lr)


class SGD:
    """Stochastic gradient descent with momentum (PyTorch's convention):
    ``v = momentum * v + g``, ``p -= lr * v``.

    Parameters
    ----------
    params, grads : lists of arrays
        ``model.params`` (updated in place) and ``model.grads`` (read on
        every step), aligned.
    lr : float, optional
    momentum : float, optional
        0 (default) is plain SGD: ``p -= lr * g``.

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import SGD
    >>> p, g = np.array([1.0]), np.array([0.5])
    >>> SGD([p], [g], lr=0.1).step(); p
    array([0.95])
    >>> from filterkit.nn import Dense
    >>> layer = Dense(3, 2, dtype=np.float64)
    >>> opt = SGD(layer.params, layer.grads, lr=0.1)   # once, before training
    >>> y = layer.forward(np.ones((1, 3)))
    >>> dx = layer.backward(np.ones((1, 2)))          # overwrites layer.grads
    >>> opt.step(); layer.params[1]                   # bias -= 0.1 * its gradient
    array([-0.1, -0.1])
    """

    def __init__(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], *,
                 lr: float = 0.01, momentum: float = 0.0) -> None:
        self.params, self.grads = _arrays(params, grads, "SGD")
        self.lr = _rate(lr, "SGD")
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"SGD: `momentum` must be in [0, 1); got {momentum!r}.")
        self.momentum = float(momentum)
        self._v = [np.zeros_like(p) for p in self.params]

    def step(self) -> None:
        """Apply one update to every parameter."""
        for p, g, v in zip(self.params, self.grads, self._v):
            if self.momentum:
                v *= self.momentum
                v += g
                p -= self.lr * v
            else:
                p -= self.lr * g


class Adam:
    """Adam (Kingma and Ba) with bias correction.

    Parameters
    ----------
    params, grads : lists of arrays
        ``model.params`` (updated in place) and ``model.grads`` (read on
        every step), aligned.
    lr : float, optional
    betas : (float, float), optional
    eps : float, optional

    Examples
    --------
    >>> import numpy as np
    >>> from filterkit.nn import Adam
    >>> p, g = np.array([1.0]), np.array([0.5])
    >>> Adam([p], [g], lr=0.1).step(); p       # the first step moves by lr
    array([0.9])
    """

    def __init__(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray], *,
                 lr: float = 1e-3, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.grads = _arrays(params, grads, "Adam")
        self.lr = _rate(lr, "Adam")
        b1, b2 = (float(b) for b in betas)
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: `betas` must be two numbers in [0, 1); got {betas!r}.")
        if not float(eps) > 0:
            raise ValueError(f"Adam: `eps` must be positive; got {eps!r}.")
        self.betas, self.eps = (b1, b2), float(eps)
        self._m = [np.zeros_like(p) for p in self.params]
        self._v = [np.zeros_like(p) for p in self.params]
        self.t = 0

    def step(self) -> None:
        """Apply one update to every parameter."""
        self.t += 1
        b1, b2 = self.betas
        c1 = 1.0 - b1 ** self.t
        c2 = 1.0 - b2 ** self.t
        for p, g, m, v in zip(self.params, self.grads, self._m, self._v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= (self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)).astype(p.dtype, copy=False)

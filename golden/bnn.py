"""A binarized fully connected network on the sklearn digits, trained in numpy (SPEC section 4).

Training follows BinaryNet (Courbariaux et al. 2016): float "latent" weights clipped to
``[-1, 1]`` are binarized with ``sign`` in the forward pass and updated through the
straight-through estimator (STE); each hidden layer is ``sign(BN(dot))``, the sign's gradient
passes where ``|BN(dot)| <= 1`` (the hardtanh STE). Adam (Kingma & Ba 2015) does the updates.

Every layer is an XNOR-popcount layer, inputs included: the pixels are binarized to bits
(1 = +1, 0 = -1, the encoding of :mod:`lowbit.golden.binary`), so integer inference needs only
:func:`~lowbit.golden.binary.bmvu_golden`. For inference each hidden layer's batch norm and sign
fold into one integer threshold per neuron (FINN, Umuroglu et al. 2017) through
:func:`~lowbit.golden.binary.fold_batchnorm`. The last layer has no batch norm and no
thresholds: the class is the argmax of its raw XNOR dot products. Training scales those dot
products by one learned positive scalar before the softmax, which leaves the argmax unchanged.

Decisions at exact ties:

- hidden neuron: ``BN(dot) >= 0`` gives bit 1 (+1), as :func:`~lowbit.golden.binary.binarize`
  and the folded threshold ``dot >= ceil(tau)`` do. The float reference
  (:func:`bnn_float_forward`) rounds ``BN(dot)``, the fold rounds ``tau``; the two can only
  disagree when ``BN(dot)`` is within rounding error (~1e-12) of 0.
- class: the lowest index among the largest dot products (``np.argmax``).
"""

import contextlib
import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .binary import BMVUParams, _check_int, bmvu_golden, fold_batchnorm

__all__ = [
    "PIXEL_THRESHOLD", "N_TRAIN", "BN_EPS", "DIGITS_SEED", "DIGITS_EPOCHS", "DigitsBits",
    "BNNLayer", "BNN", "load_digits_bits", "train_bnn", "bnn_forward", "bnn_float_forward",
    "accuracy", "trained_digits_bnn",
]

#: A digits pixel (0..16) becomes bit 1 (+1) iff it is >= this, else bit 0 (-1).
PIXEL_THRESHOLD = 8
#: The first ``N_TRAIN`` of the 1797 digits train, the remaining 397 test.
N_TRAIN = 1400
#: Batch-norm epsilon, the same in training and in :func:`fold_batchnorm`.
BN_EPS = 1e-5
#: Seed and epochs of :func:`trained_digits_bnn`.
DIGITS_SEED = 0
DIGITS_EPOCHS = 100
# Vectors per bmvu_golden call: xnor_dot materializes a (vectors, H, W) int64 array.
_CHUNK = 128


class DigitsBits(NamedTuple):
    """The binarized digits, split: bits (n, 64) uint8 and labels (n,) int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=1)
def load_digits_bits():
    """The 8x8 scikit-learn digits as bits, with a fixed train/test split.

    A pixel (0..16) becomes 1 (+1) iff it is ``>= PIXEL_THRESHOLD`` (8), else 0 (-1); the
    64 pixels are in row-major order, as in ``load_digits().data``. The split is positional:
    the first ``N_TRAIN`` (1400) images train, the last 397 test. The arrays are read-only
    (the result is cached).

    Returns
    -------
    DigitsBits
        ``(x_train, y_train, x_test, y_test)``.
    """
    from sklearn.datasets import load_digits  # only the data needs scikit-learn

    digits = load_digits()
    x = (np.asarray(digits.data) >= PIXEL_THRESHOLD).astype(np.uint8)
    y = np.asarray(digits.target, dtype=np.int64)
    parts = (x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:])
    return DigitsBits(*(_frozen(p) for p in parts))


def _frozen(a):
    a = np.array(a)  # a private copy
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class BNNLayer:
    """One XNOR-popcount layer of a :class:`BNN`.

    Parameters
    ----------
    weights : (H, W) uint8
        Binary weights, 1 = +1, 0 = -1.
    thresholds : (H, 1) int64 or None
        Folded batch norm + sign of a hidden layer (``fold_batchnorm(levels=1, length=W)``);
        None for the output layer.
    invert : (H,) bool or None
        Inverted neurons (negative batch-norm scale) of a hidden layer; None for the output.
    gamma, beta, mean, var : (H,) float64 or None
        The batch norm the thresholds came from (population statistics of the training set);
        None for the output layer.
    """

    weights: np.ndarray
    thresholds: np.ndarray | None = None
    invert: np.ndarray | None = None
    gamma: np.ndarray | None = None
    beta: np.ndarray | None = None
    mean: np.ndarray | None = None
    var: np.ndarray | None = None

    @property
    def rows(self):
        return int(self.weights.shape[0])

    @property
    def cols(self):
        return int(self.weights.shape[1])

    @property
    def hidden(self):
        return self.thresholds is not None

    @property
    def params(self):
        """The fully folded (PE = SIMD = 1) :class:`BMVUParams` that computes this layer."""
        return BMVUParams(rows=self.rows, cols=self.cols, pe=1, simd=1,
                          thresholds=1 if self.hidden else 0)


@dataclass(frozen=True, eq=False)
class BNN:
    """A trained binarized fully connected network (arrays read-only).

    Parameters
    ----------
    layers : tuple of BNNLayer
        Hidden layers (with thresholds) then the output layer (without).
    eps : float
        Batch-norm epsilon used in training and folding.
    seed, epochs : int
        How it was trained.
    """

    layers: tuple
    eps: float = BN_EPS
    seed: int = 0
    epochs: int = 0

    @property
    def sizes(self):
        """``(inputs, hidden..., classes)``."""
        return (self.layers[0].cols,) + tuple(layer.rows for layer in self.layers)


def _check_sizes(sizes):
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least inputs and classes, not {sizes!r}")
    for i, s in enumerate(sizes):
        _check_int(f"sizes[{i}]", s, 1, 1 << 16)
    if sizes[-1] < 2:
        raise ValueError(f"sizes[-1] (classes) must be >= 2, not {sizes[-1]!r}")
    return sizes


def _check_bits(name, x, cols):
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != cols:
        raise ValueError(f"{name} must have shape (vectors, {cols}), not {x.shape}")
    if x.size and not np.all((x == 0) | (x == 1)):
        raise ValueError(f"{name} must hold bits 0 and 1 only")
    return x.astype(np.uint8)


def _check_labels(labels, n, classes):
    y = np.asarray(labels)
    if y.shape != (n,) or (y.size and not np.issubdtype(y.dtype, np.integer)):
        raise ValueError(f"labels must be {n} integers, not shape {y.shape} of {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise ValueError(f"labels must be in 0..{classes - 1}, not {y.min()}..{y.max()}")
    return y.astype(np.int64)


def _pm(bits):
    """Bits to float64 ±1."""
    return 2.0 * np.asarray(bits, dtype=np.float64) - 1.0


def _sign_bits(y):
    """BinaryNet's sign with sign(0) = +1, as bits (the same rule as binarize)."""
    return (y >= 0).astype(np.uint8)


def _batchnorm(z, gamma, beta, mean, var, eps):
    """``gamma * (z - mean) / sqrt(var + eps) + beta``, the formula fold_batchnorm inverts."""
    return gamma * ((z - mean) / np.sqrt(var + eps)) + beta


def _adam(eps=1e-8, b1=0.9, b2=0.999):
    """An Adam optimizer over a list of arrays, updated in place."""
    state = {"t": 0, "m": None, "v": None}

    def step(params, grads, lr):
        if state["m"] is None:
            state["m"] = [np.zeros_like(p) for p in params]
            state["v"] = [np.zeros_like(p) for p in params]
        state["t"] += 1
        t = state["t"]
        for p, g, m, v in zip(params, grads, state["m"], state["v"]):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)

    return step


def _one_blas_thread():
    """Run BLAS on one thread: the matrices are small, and a multi-threaded OpenBLAS on a busy
    machine (parallel tests) was measured 30x slower; it also keeps the rounding fixed."""
    try:
        from threadpoolctl import threadpool_limits  # comes with scikit-learn
    except ImportError:  # pragma: no cover - numpy alone still trains, maybe slower
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def train_bnn(sizes=(64, 256, 10), *, seed=DIGITS_SEED, epochs=DIGITS_EPOCHS, batch_size=50,
              lr=0.03, lr_end=0.0005, flip=0.05, data=None):
    """Train a binarized fully connected network, BinaryNet-style, in numpy.

    Parameters
    ----------
    sizes : tuple of int
        ``(inputs, hidden..., classes)``; every layer is binary, inputs included.
    seed : int
        Seeds ``np.random.default_rng``: the initial latent weights and the batch order.
    epochs : int
        Passes over the training set.
    batch_size : int
        Vectors per Adam step; the remainder of an epoch's permutation is dropped (a batch of
        one has no batch-norm variance).
    lr, lr_end : float
        Adam step size, decayed exponentially from ``lr`` to ``lr_end`` over the epochs.
    flip : float
        Input noise for training: each input bit of a batch flips with this probability
        (0 <= flip < 0.5). On the digits it gains about two points of test accuracy.
    data : (x_bits (n, inputs), labels (n,)) or None
        Training data; default the training part of :func:`load_digits_bits`.

    Returns
    -------
    BNN
        Binary weights, and for hidden layers batch norm with population statistics of the
        whole training set (computed once after training) folded into integer thresholds.
    """
    sizes = _check_sizes(sizes)
    _check_int("seed", seed, 0)
    _check_int("epochs", epochs, 0)
    _check_int("batch_size", batch_size, 2)
    if not 0 < lr_end <= lr:
        raise ValueError(f"learning rates must be 0 < lr_end <= lr, not {lr_end!r}, {lr!r}")
    if not 0 <= flip < 0.5:
        raise ValueError(f"flip must be >= 0 and < 0.5, not {flip!r}")
    if data is None:
        data = load_digits_bits()[:2]
    x = _check_bits("x_bits", data[0], sizes[0])
    y = _check_labels(data[1], x.shape[0], sizes[-1])
    n = x.shape[0]
    if n < batch_size:
        raise ValueError(f"batch_size must be <= {n} training vectors, not {batch_size!r}")
    with _one_blas_thread():
        return _train(sizes, x, y, seed=seed, epochs=epochs, batch_size=batch_size, lr=lr,
                      lr_end=lr_end, flip=flip)


def _train(sizes, x, y, *, seed, epochs, batch_size, lr, lr_end, flip):
    n = x.shape[0]
    rng = np.random.default_rng(seed)
    n_hidden = len(sizes) - 2
    # Latent weights in [-1, 1]; only their signs reach the forward pass.
    latent = [rng.uniform(-1.0, 1.0, size=(sizes[i + 1], sizes[i]))
              for i in range(len(sizes) - 1)]
    gamma = [np.ones(h) for h in sizes[1:-1]]
    beta = [np.zeros(h) for h in sizes[1:-1]]
    # logits = exp(log_scale) * dot: a positive scale, so argmax(logits) == argmax(dot).
    log_scale = np.array([-0.5 * np.log(sizes[-2])])
    params = latent + gamma + beta + [log_scale]
    adam = _adam()
    a_in = _pm(x)
    onehot = np.eye(sizes[-1])[y]
    eps = BN_EPS

    for epoch in range(epochs):
        step = lr * (lr_end / lr) ** (epoch / max(1, epochs - 1))
        order = rng.permutation(n)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = order[start:start + batch_size]
            wb = [np.where(w >= 0, 1.0, -1.0) for w in latent]
            xb = a_in[idx]
            if flip:  # input noise: each bit flips with probability `flip`
                xb = np.where(rng.random(xb.shape) < flip, -xb, xb)
            acts, caches = [xb], []
            for k in range(n_hidden):
                z = acts[-1] @ wb[k].T
                mu, var = z.mean(axis=0), z.var(axis=0)
                sigma = np.sqrt(var + eps)
                zhat = (z - mu) / sigma
                bn = gamma[k] * zhat + beta[k]
                caches.append((zhat, sigma, bn))
                acts.append(np.where(bn >= 0, 1.0, -1.0))
            dots = acts[-1] @ wb[-1].T
            scale = np.exp(log_scale[0])
            logits = scale * dots
            logits -= logits.max(axis=1, keepdims=True)
            prob = np.exp(logits)
            prob /= prob.sum(axis=1, keepdims=True)
            dlogits = (prob - onehot[idx]) / batch_size  # softmax cross-entropy

            g_log_scale = np.array([np.sum(dlogits * dots) * scale])
            dz = dlogits * scale
            g_w = [None] * len(latent)
            g_gamma, g_beta = [None] * n_hidden, [None] * n_hidden
            for k in range(len(latent) - 1, -1, -1):
                g_w[k] = dz.T @ acts[k]
                if k == 0:
                    break
                da = dz @ wb[k]
                zhat, sigma, bn = caches[k - 1]
                dbn = da * (np.abs(bn) <= 1.0)  # straight-through sign (hardtanh)
                g_gamma[k - 1] = np.sum(dbn * zhat, axis=0)
                g_beta[k - 1] = np.sum(dbn, axis=0)
                dzhat = dbn * gamma[k - 1]
                dz = (dzhat - dzhat.mean(axis=0)
                      - zhat * np.mean(dzhat * zhat, axis=0)) / sigma
            adam(params, g_w + g_gamma + g_beta + [g_log_scale], step)
            for w in latent:
                np.clip(w, -1.0, 1.0, out=w)

    # Inference batch norm: population statistics over the training set, final weights.
    weight_bits = [(w >= 0).astype(np.uint8) for w in latent]
    layers = []
    a = a_in
    for k in range(n_hidden):
        z = a @ _pm(weight_bits[k]).T
        mean, var = z.mean(axis=0), z.var(axis=0)
        a = _pm(_sign_bits(_batchnorm(z, gamma[k], beta[k], mean, var, eps)))
        t, inv = fold_batchnorm(gamma[k], beta[k], mean, var, eps=eps, levels=1,
                                length=sizes[k])
        layers.append(BNNLayer(weights=_frozen(weight_bits[k]), thresholds=_frozen(t),
                               invert=_frozen(inv), gamma=_frozen(gamma[k]),
                               beta=_frozen(beta[k]), mean=_frozen(mean), var=_frozen(var)))
    layers.append(BNNLayer(weights=_frozen(weight_bits[-1])))
    return BNN(layers=tuple(layers), eps=eps, seed=seed, epochs=epochs)


def bnn_forward(bnn, x_bits):
    """Integer inference with :func:`~lowbit.golden.binary.bmvu_golden` only.

    Each layer is ``bmvu_golden(layer.params, ...)`` with ``BMVUParams(rows=H, cols=W, pe=1,
    simd=1, thresholds=1)`` for a hidden layer (folded batch norm + sign) and
    ``thresholds=0`` (raw dot products) for the output layer.

    Returns
    -------
    outputs : list of arrays
        Per layer: (V, H) uint8 bits for hidden layers, (V, classes) int64 dot products last.
    classes : (V,) int64
        ``argmax`` of the last dot products; ties go to the lowest index.
    """
    a = _check_bits("x_bits", x_bits, bnn.sizes[0])
    outputs = []
    for layer in bnn.layers:
        p = layer.params
        parts = [bmvu_golden(p, layer.weights, a[i:i + _CHUNK], layer.thresholds, layer.invert)
                 for i in range(0, max(1, a.shape[0]), _CHUNK)]
        out = np.concatenate(parts, axis=0)
        a = out.astype(np.uint8) if layer.hidden else out.astype(np.int64)
        outputs.append(a)
    return outputs, np.argmax(outputs[-1], axis=1).astype(np.int64)


def bnn_float_forward(bnn, x_bits):
    """The training network's binarized forward pass, in float64 (the reference).

    Hidden layers are ``sign(BN(dot))`` with the stored batch norm (not the folded
    thresholds); same return shape and dtypes as :func:`bnn_forward`, plus the float
    pre-sign values: ``(outputs, classes, pre)`` with ``pre[k]`` the (V, H) ``BN(dot)`` of
    hidden layer ``k``.
    """
    x = _check_bits("x_bits", x_bits, bnn.sizes[0])
    a = _pm(x)
    outputs, pre = [], []
    for layer in bnn.layers:
        z = a @ _pm(layer.weights).T  # exact: small integers in float64
        if layer.hidden:
            bn = _batchnorm(z, layer.gamma, layer.beta, layer.mean, layer.var, bnn.eps)
            pre.append(bn)
            bits = _sign_bits(bn)
            outputs.append(bits)
            a = _pm(bits)
        else:
            outputs.append(np.rint(z).astype(np.int64))
    return outputs, np.argmax(outputs[-1], axis=1).astype(np.int64), pre


def accuracy(bnn, x_bits, labels):
    """Fraction of ``labels`` that the integer inference (:func:`bnn_forward`) predicts."""
    _, classes = bnn_forward(bnn, x_bits)
    y = _check_labels(labels, classes.shape[0], bnn.sizes[-1])
    if y.size == 0:
        raise ValueError("accuracy needs at least one vector")
    return float(np.mean(classes == y))


@functools.lru_cache(maxsize=1)
def trained_digits_bnn():
    """The 64-256-10 digits BNN with the fixed seed ``DIGITS_SEED`` (trained once, cached)."""
    return train_bnn((64, 256, 10), seed=DIGITS_SEED, epochs=DIGITS_EPOCHS)

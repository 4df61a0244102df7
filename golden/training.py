"""Gupta et al. 2015's experiment on lowbit's arithmetic: a fully connected network trained
with SGD where every matrix product, forward and backward, and every weight update is fixed
point ``<IL, FL>`` with one rounding mode (SPEC section 9), against float32.

The data: the scikit-learn 8x8 digits, pixels / 16, split as :mod:`lowbit.golden.bnn` splits
them (the first 1400 images train, the last 397 test). The network: 64 inputs, one hidden
layer of ReLUs, 10 outputs, softmax cross-entropy; each layer's bias is a weight row fed by a
constant 1. Gupta et al. trained 784-1000-1000-10 on MNIST; no package lowbit uses ships
MNIST, so this is the digits' version of their figure 2.

One step on a batch ``X`` (codes of ``<IL, FL>``), all in ``<IL, FL>`` (``WL = IL + FL``):

- forward: ``Z1 = gemm(X, W1)``, ``H = relu(Z1)``, ``Z2 = gemm(H, W2)``;
- the loss gradient ``dZ2 = (softmax(Z2) - Y) / B`` from the fixed-point logits, converted
  to ``<IL, FL>`` with the rounding mode (the softmax is the one float step, as in the paper);
- backward: ``dW2 = gemm(H^T, dZ2)``, ``dH = gemm(dZ2, W2^T)``, ``dZ1 = dH * [Z1 > 0]``,
  ``dW1 = gemm(X^T, dZ1)``;
- update: ``W <- convert(W - lr dW)`` with ``lr = 2^-lr_shift``: the exact difference has
  ``FL + lr_shift`` fraction bits and is rounded to ``FL`` with the mode (one LFSR lane a
  weight), then saturated.

Every ``gemm`` is :func:`lowbit.golden.gemm.gemm_golden` on a ``rows x cols`` array with its
lanes' LFSRs carried from product to product, so the stochastic random numbers are the
hardware's. With ``nearest``, an update smaller than half an ``eps`` is lost; with
``stochastic`` it survives on average: the paper's point.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from .fixed import ROUNDING_MODES
from .gemm import LaneLFSRs, SystolicParams, gemm_golden, round_array, saturate_array
from .lfsr import lane_seeds

__all__ = ["TrainConfig", "train", "load_digits_real", "FLOAT"]

#: The rounding "mode" of the float32 baseline.
FLOAT = "float32"


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Parameters
    ----------
    mode : str
        A rounding mode of :data:`lowbit.golden.fixed.ROUNDING_MODES`, or ``"float32"``.
    wl, fl : int
        Word length and fraction bits of every tensor (``IL = wl - fl``).
    hidden, epochs, batch, lr_shift, seed : int
        Hidden units, passes over the 1400 training images, batch size, the learning rate
        ``2^-lr_shift``, and the seed of the initial weights, the batch order and the LFSRs.
    rows, cols : int
        The array the GEMMs run on (their lanes' LFSRs).
    r_bits : int
        Random bits R of each stochastic rounding.
    """

    mode: str = "stochastic"
    wl: int = 16
    fl: int = 12
    hidden: int = 64
    epochs: int = 20
    batch: int = 20
    lr_shift: int = 4
    seed: int = 1
    rows: int = 8
    cols: int = 8
    r_bits: int = 8

    def __post_init__(self):
        if self.mode not in (*ROUNDING_MODES, FLOAT):
            raise ValueError(f"mode must be one of {', '.join((*ROUNDING_MODES, FLOAT))}, "
                             f"not {self.mode!r}")
        if not 2 <= self.wl <= 32 or not 0 <= self.fl < self.wl:
            raise ValueError(f"need 2 <= wl <= 32 and 0 <= fl < wl, not wl={self.wl}, "
                             f"fl={self.fl}")

    @property
    def il(self):
        return self.wl - self.fl

    def gemm_params(self):
        il, fl = self.il, self.fl
        return SystolicParams(rows=self.rows, cols=self.cols, il_a=il, fl_a=fl, il_b=il,
                              fl_b=fl, il_o=il, fl_o=fl, guard=16,
                              rounding=self.mode if self.mode != FLOAT else "nearest",
                              lfsr_width=16, r_bits=self.r_bits, seed=self.seed)


def load_digits_real():
    """``(x_train, y_train, x_test, y_test)``: the digits' pixels / 16 (float64), split as
    :func:`lowbit.golden.bnn.load_digits_bits` splits them."""
    from sklearn.datasets import load_digits

    from .bnn import N_TRAIN

    d = load_digits()
    x = np.asarray(d.data, dtype=np.float64) / 16.0
    y = np.asarray(d.target, dtype=np.int64)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def _with_ones(x):
    return np.concatenate([x, np.ones((x.shape[0], 1), dtype=x.dtype)], axis=1)


def _softmax_grad(z, y):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)


class _Fixed:
    """The fixed-point arithmetic of one run: conversions and GEMMs with their LFSRs."""

    def __init__(self, cfg, shapes):
        self.cfg = cfg
        self.p = cfg.gemm_params()
        self.gemm_lanes = self.p.lfsrs()
        self.record = None  # a list: every GEMM's (A, B, C) goes into it
        self.scale = 1 << cfg.fl
        self.lo, self.hi = -(1 << (cfg.wl - 1)), (1 << (cfg.wl - 1)) - 1
        # One lane a weight for the updates, one a gradient element for the loss gradient.
        self.update_lanes = {name: LaneLFSRs(16, cfg.r_bits, lane_seeds(
            cfg.seed + 1 + i, int(np.prod(shape)), 16)) for i, (name, shape) in
            enumerate(shapes.items())}

    def quantize(self, x, lanes=None):
        """Real values to codes: exact to 2^-(fl + 24) (float64 holds that), then rounded."""
        extra = 24
        v = np.floor(np.asarray(x, dtype=np.float64) * (1 << (self.cfg.fl + extra)))
        r = None
        if self.cfg.mode == "stochastic":
            r = lanes.draw(1).reshape(v.shape)
        y = round_array(v.astype(np.int64), extra, self.cfg.mode, r, self.cfg.r_bits)
        return np.clip(y, self.lo, self.hi)

    def gemm(self, a, b):
        c = gemm_golden(self.p, a, b, self.gemm_lanes)[0]
        if self.record is not None:
            self.record.append((a, b, c))
        return c

    def update(self, name, w, dw):
        """``convert(w - 2^-lr_shift dw)``."""
        s = self.cfg.lr_shift
        exact = (w << s) - dw  # FL + s fraction bits
        r = None
        if self.cfg.mode == "stochastic":
            r = self.update_lanes[name].draw(1).reshape(w.shape)
        y = round_array(exact, s, self.cfg.mode, r, self.cfg.r_bits)
        return saturate_array(y, self.cfg.wl)[0]


def train(cfg, data=None, *, log=None, record=None, max_steps=None):
    """Train one network; returns ``{"config", "train_error", "test_error", "epochs": [...]}``
    with the test error (fraction) after every epoch, and for fixed point
    ``logits_saturated``: the fraction of the training logits (``Z2``) at the ends of the
    format, an epoch.

    ``record`` (a list, fixed point only) receives every GEMM's ``(A, B, C)`` codes in the
    order they ran (their lanes' random numbers follow each other in that order);
    ``max_steps`` stops after that many training steps and returns ``None`` (for running a
    step's GEMMs through the RTL)."""
    x_tr, y_tr, x_te, y_te = data or load_digits_real()
    rng = np.random.default_rng(cfg.seed)
    n_in, n_out = x_tr.shape[1] + 1, 10
    w1 = rng.normal(0, np.sqrt(2 / n_in), size=(n_in, cfg.hidden))
    w2 = rng.normal(0, np.sqrt(2 / (cfg.hidden + 1)), size=(cfg.hidden + 1, n_out))
    w1[-1], w2[-1] = 0.0, 0.0
    orders = [rng.permutation(len(y_tr)) for _ in range(cfg.epochs)]
    history = []
    if cfg.mode == FLOAT:
        w1, w2 = w1.astype(np.float32), w2.astype(np.float32)
        lr = np.float32(2.0 ** -cfg.lr_shift)

        def predict(x):
            h = np.maximum(_with_ones(x.astype(np.float32)) @ w1, 0)
            return (_with_ones(h) @ w2).argmax(axis=1)
        for order in orders:
            for k in range(0, len(order) - cfg.batch + 1, cfg.batch):
                idx = order[k:k + cfg.batch]
                x = _with_ones(x_tr[idx].astype(np.float32))
                z1 = x @ w1
                h = _with_ones(np.maximum(z1, 0))
                dz2 = _softmax_grad(h @ w2, y_tr[idx]).astype(np.float32)
                dh = (dz2 @ w2.T)[:, :-1] * (z1 > 0)
                w2 -= lr * (h.T @ dz2)
                w1 -= lr * (x.T @ dh)
            history.append(float((predict(x_te) != y_te).mean()))
            if log:
                log(f"{cfg.mode}: epoch {len(history)}: test error {history[-1]:.4f}")
        train_error = float((predict(x_tr) != y_tr).mean())
    else:
        fx = _Fixed(cfg, {"w1": w1.shape, "w2": w2.shape, "dz2": (cfg.batch, n_out)})
        steps = 0
        init = LaneLFSRs(16, cfg.r_bits, lane_seeds(cfg.seed + 100, w1.size + w2.size, 16))
        both = fx.quantize(np.concatenate([w1.reshape(-1), w2.reshape(-1)]), init)
        w1, w2 = both[:w1.size].reshape(w1.shape), both[w1.size:].reshape(w2.shape)
        one = fx.scale
        xq_tr = fx.quantize(x_tr, LaneLFSRs(16, cfg.r_bits, lane_seeds(
            cfg.seed + 200, x_tr.size, 16)))
        xq_te = fx.quantize(x_te, LaneLFSRs(16, cfg.r_bits, lane_seeds(
            cfg.seed + 300, x_te.size, 16)))

        def ones(x):
            return np.concatenate([x, np.full((x.shape[0], 1), one, dtype=np.int64)], axis=1)

        def predict(xq):
            h = np.maximum(fx.gemm(ones(xq), w1), 0)
            return fx.gemm(ones(h), w2).argmax(axis=1)
        saturated = []  # the fraction of logits at the ends of the format, an epoch
        for order in orders:
            clipped = total = 0
            for k in range(0, len(order) - cfg.batch + 1, cfg.batch):
                if steps == max_steps:
                    return None
                steps += 1
                fx.record = record
                idx = order[k:k + cfg.batch]
                x = ones(xq_tr[idx])
                z1 = fx.gemm(x, w1)
                h = ones(np.maximum(z1, 0))
                z2 = fx.gemm(h, w2)
                clipped += int(((z2 == fx.lo) | (z2 == fx.hi)).sum())
                total += z2.size
                dz2 = fx.quantize(_softmax_grad(z2 / one, y_tr[idx]),
                                  fx.update_lanes["dz2"])
                dh = fx.gemm(dz2, w2.T)[:, :-1] * (z1 > 0)
                dw2 = fx.gemm(h.T, dz2)
                dw1 = fx.gemm(x.T, dh)
                w2 = fx.update("w2", w2, dw2)
                w1 = fx.update("w1", w1, dw1)
                fx.record = None
            history.append(float((predict(xq_te) != y_te).mean()))
            saturated.append(clipped / total)
            if log:
                log(f"{cfg.mode} <{cfg.il},{cfg.fl}>: epoch {len(history)}: test error "
                    f"{history[-1]:.4f}")
        train_error = float((predict(xq_tr) != y_tr).mean())
    out = {"config": dataclasses.asdict(cfg), "il": cfg.il, "test_error": history[-1],
           "train_error": train_error, "epochs": history}
    if cfg.mode != FLOAT:
        out["logits_saturated"] = saturated
    return out

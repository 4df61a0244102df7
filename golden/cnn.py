"""A small CNN on the scikit-learn digits whose layers are lowbit's units (issue 14): two 3x3
conv layers (``conv2d``, requantized outputs with a bias a channel and ReLU, SPEC section 8)
and a dense layer (a matrix product on the bit-serial engine), trained in numpy.

The float network: ``x`` (8x8 pixels / 16) -> conv 3x3 ``same`` (K1 filters) + bias, ReLU ->
conv 3x3 ``same`` (K2) + bias, ReLU -> dense (64 K2 -> 10) + bias; softmax cross-entropy, SGD
with momentum.

In integers (post-training quantization, calibrated on the training images):

- the input codes are the pixels, 0..16 (scale 1/16);
- a layer's weights are ``round(W / s_w)`` with ``s_w = max|W| / (2^(w_bits-1) - 1)``,
  ``w_bits`` signed bits;
- a conv layer computes ``acc = correlate(a, Wq) + round(b / (s_in s_w))`` exactly, then the
  requantizer's ``(acc >> shift)`` rounded to nearest, saturated to ``a_bits`` signed bits and
  ReLU'd: codes ``0 .. 2^(a_bits-1) - 1`` with scale ``s_in s_w 2^shift``; ``shift`` is the
  smallest that keeps the calibration images' largest activation in range;
- the dense layer is ``a @ Wq`` exact (unsigned ``a_bits - 1``-bit activations by signed
  ``w_bits``-bit weights on the bit-serial engine), plus ``round(b / (s_in s_w))`` on the host;
  the class is the argmax.

The golden model (:meth:`QuantCNN.forward`) is direct correlation
(:func:`lowbit.golden.winograd.correlate_filters`), :meth:`Conv2dParams.requantize` and a numpy
integer product: it never runs the Winograd path or the HDL it checks.
"""

from dataclasses import dataclass, field

import numpy as np

from .checks import check_int
from .winograd import Conv2dParams, correlate_filters

__all__ = ["CNNConfig", "QuantCNN", "train_cnn", "im2col"]


@dataclass(frozen=True)
class CNNConfig:
    """The network's shape, bits and training: ``filters`` of the two conv layers, signed
    weight bits ``w_bits``, activation bits ``a_bits`` (the conv layers' output width),
    epochs, batch, learning rate, seed."""

    filters: tuple = (8, 8)
    w_bits: int = 8
    a_bits: int = 8
    epochs: int = 30
    batch: int = 32
    lr: float = 0.05
    seed: int = 1

    def __post_init__(self):
        if len(self.filters) != 2:
            raise ValueError(f"filters must be two counts (the conv layers'), not "
                             f"{self.filters!r}")
        for k in self.filters:
            check_int("filters", k, 1, 64)
        check_int("w_bits", self.w_bits, 2, 8)
        check_int("a_bits", self.a_bits, 3, 8)


def im2col(x):
    """``(N, C, H, W)`` -> ``(N, H W, 9 C)``: each pixel's 3x3xC window of the ``same``-padded
    image, column ``c * 9 + i * 3 + j`` holding ``x[c, y + i - 1, x + j - 1]``."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=2)
    return cols.reshape(n, c * 9, h * w).transpose(0, 2, 1)


def _col2im(dcols, shape):
    n, c, h, w = shape
    d = dcols.transpose(0, 2, 1).reshape(n, c, 9, h, w)
    dx = np.zeros((n, c, h + 2, w + 2))
    for k in range(9):
        i, j = divmod(k, 3)
        dx[:, :, i:i + h, j:j + w] += d[:, :, k]
    return dx[:, :, 1:-1, 1:-1]


class _Float:
    """The float network's parameters and its forward / backward passes."""

    def __init__(self, cfg, rng):
        k1, k2 = cfg.filters
        self.W = [rng.normal(0, np.sqrt(2 / 9), size=(k1, 1, 3, 3)),
                  rng.normal(0, np.sqrt(2 / (9 * k1)), size=(k2, k1, 3, 3)),
                  rng.normal(0, np.sqrt(2 / (64 * k2)), size=(64 * k2, 10))]
        self.b = [np.zeros(k1), np.zeros(k2), np.zeros(10)]

    def forward(self, x):
        """Logits and the cache for :meth:`backward`; ``x`` (N, 1, 8, 8) in [0, 1]."""
        cache, a = [], x
        for layer in range(2):
            cols = im2col(a)
            k = self.W[layer].shape[0]
            z = cols @ self.W[layer].reshape(k, -1).T + self.b[layer]     # (N, 64, K)
            cache.append((a.shape, cols, z))
            a = np.maximum(z, 0).transpose(0, 2, 1).reshape(len(x), k, 8, 8)
        flat = a.reshape(len(x), -1)
        cache.append(flat)
        return flat @ self.W[2] + self.b[2], cache

    def backward(self, dlogits, cache):
        flat = cache[2]
        grads = [None, None, (flat.T @ dlogits, dlogits.sum(axis=0))]
        da = (dlogits @ self.W[2].T).reshape(len(flat), -1, 8, 8)
        for layer in (1, 0):
            shape, cols, z = cache[layer]
            k = self.W[layer].shape[0]
            dz = da.reshape(len(flat), k, 64).transpose(0, 2, 1) * (z > 0)   # (N, 64, K)
            grads[layer] = ((dz.reshape(-1, k).T @ cols.reshape(-1, cols.shape[2]))
                            .reshape(self.W[layer].shape), dz.sum(axis=(0, 1)))
            if layer:
                da = _col2im(dz @ self.W[layer].reshape(k, -1), shape)
        return grads


@dataclass
class QuantCNN:
    """The network in integers (module docstring): per conv layer the weight codes (K, C, 3,
    3), the bias codes (K,) and the requantizer's shift; the dense layer's weight codes
    (64 K2, 10) and bias codes (10,)."""

    cfg: CNNConfig
    conv_weights: list
    conv_biases: list
    shifts: list
    dense_weights: np.ndarray
    dense_bias: np.ndarray
    float_accuracy: float = field(default=float("nan"))

    def conv_params(self, layer, **more):
        """Layer ``layer``'s :class:`Conv2dParams` (8x8, ``same``, requantized to ``a_bits``
        with a bias and ReLU), with ``more`` on top (``engine``, ``parallel``, ...)."""
        k, c = self.conv_weights[layer].shape[:2]
        data_bits = 6 if layer == 0 else self.cfg.a_bits   # pixels 0..16
        return Conv2dParams(data_width=data_bits, weight_width=self.cfg.w_bits, channels=c,
                            filters=k, height=8, width=8, padding="same",
                            out_width=self.cfg.a_bits, shift=self.shifts[layer],
                            rounding="nearest", relu=True, bias=True, **more)

    def conv(self, layer, images):
        """Conv layer ``layer`` in the golden model: direct correlation, then the layer's
        requantizer; ``images`` (N, C, 8, 8) codes -> (N, K, 8, 8) codes."""
        params = self.conv_params(layer)
        maps = correlate_filters(images, self.conv_weights[layer], "same")
        return params.requantize(maps, self.conv_biases[layer].tolist())

    def dense(self, acts, matmul=None):
        """The logits (N, 10) of the flattened activations ``acts`` (N, K2, 8, 8):
        ``matmul(a, w)`` (default numpy int64) then the bias."""
        a = np.asarray(acts, dtype=np.int64).reshape(len(acts), -1)
        prod = (matmul or (lambda x, w: x @ w))(a, self.dense_weights)
        return np.asarray(prod, dtype=np.int64) + self.dense_bias

    def forward(self, images):
        """Logits (N, 10) of pixel codes ``images`` (N, 1, 8, 8), every layer golden."""
        return self.dense(self.conv(1, self.conv(0, images)))


def _quantize(W, bits):
    s = float(np.abs(W).max()) / ((1 << (bits - 1)) - 1) or 1.0
    return np.rint(W / s).astype(np.int64), s


def train_cnn(cfg, images, labels, n_train):
    """Train ``cfg`` on the first ``n_train`` of ``images`` (N, 1, 8, 8) pixel codes 0..16
    with ``labels``; quantize; returns ``(QuantCNN, history)``, the float model's test error
    an epoch, and the float test accuracy in ``QuantCNN.float_accuracy``."""
    rng = np.random.default_rng(cfg.seed)
    x = np.asarray(images, dtype=np.float64) / 16.0
    y = np.asarray(labels, dtype=np.int64)
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    net = _Float(cfg, rng)
    vel = [[np.zeros_like(p) for p in (w, b)] for w, b in zip(net.W, net.b)]
    history = []
    for _ in range(cfg.epochs):
        order = rng.permutation(n_train)
        for k in range(0, n_train, cfg.batch):
            idx = order[k:k + cfg.batch]
            logits, cache = net.forward(x_tr[idx])
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y_tr[idx]] -= 1
            for layer, (gw, gb) in enumerate(net.backward(p / len(idx), cache)):
                for v, param, g in zip(vel[layer], (net.W[layer], net.b[layer]), (gw, gb)):
                    v *= 0.9
                    v -= cfg.lr * g
                    param += v
        history.append(float((net.forward(x_te)[0].argmax(axis=1) != y_te).mean()))

    # Post-training quantization, scales calibrated on the training images.
    top = (1 << (cfg.a_bits - 1)) - 1
    s_in, a = 1.0 / 16, x_tr
    codes, biases, shifts = [], [], []
    for layer in range(2):
        wq, s_w = _quantize(net.W[layer], cfg.w_bits)
        unit = s_in * s_w                      # the accumulator's scale
        k = wq.shape[0]
        z = im2col(a) @ net.W[layer].reshape(k, -1).T + net.b[layer]
        peak = max(float(z.max()), unit)
        shift = max(0, int(np.ceil(np.log2(peak / (top * unit)))))
        codes.append(wq)
        biases.append(np.rint(net.b[layer] / unit).astype(np.int64))
        shifts.append(shift)
        s_in = unit * (1 << shift)
        a = np.maximum(z, 0).transpose(0, 2, 1).reshape(len(a), k, 8, 8)
    wq, s_w = _quantize(net.W[2], cfg.w_bits)
    qnet = QuantCNN(cfg, codes, biases, shifts, wq,
                    np.rint(net.b[2] / (s_in * s_w)).astype(np.int64),
                    float(1.0 - history[-1]) if history else float("nan"))
    return qnet, history

"""TWN and DoReFa networks (SPEC section 8) whose matrix products are the bit-serial engine's:
golden quantizers, training in numpy, and inference in integers.

- **TWN** (Li & Liu 2016, "Ternary Weight Networks"): a layer's weights become ``alpha T``
  with ``T`` in {-1, 0, +1}: ``T = sign(W)`` where ``|W| > delta``, ``delta = 0.7 E|W|``, and
  ``alpha`` the mean of ``|W|`` over those weights. Here the activations are DoReFa's ``k``-bit
  ones (below), so that both operands of every product are small integers.
- **DoReFa** (Zhou et al. 2016): activations clipped to [0, 1] and quantized to ``k`` bits,
  ``round(x (2^k - 1)) / (2^k - 1)``; ``k``-bit weights ``2 q - 1`` with ``q`` the ``k``-bit
  quantization of ``tanh(W) / (2 max |tanh W|) + 1/2``, and 1-bit weights ``sign(W) E|W|``.

In integers (what the engine multiplies): activation codes ``a`` in ``0 .. 2^k - 1``
(unsigned ``k`` bits, value ``a / (2^k - 1)``); TWN weight codes in {-1, 0, 1} (2 bits
signed, value ``alpha c``); DoReFa ``k``-bit weight codes ``c = 2 q - (2^k - 1)``, odd, in
``-(2^k - 1) .. 2^k - 1`` (``k + 1`` bits signed, value ``c / (2^k - 1)``); 1-bit weight codes
in {-1, 1} (2 bits signed, value ``E|W| c``). A layer's pre-activation is ``(a @ c) s + b``
with the product exact in integers and ``s`` the two scales' product; the bias ``b`` and the
scaling stay in float on the host, as does the next activation's quantization.

The network: 64 inputs (the digits' pixels / 16, quantized as activations), a hidden layer,
10 outputs (the last layer's products are integers too; its argmax is the class). Trained
with straight-through gradients (the quantizers' gradient is 1, the clip's is 0 outside
[0, 1]) and SGD with momentum.
"""

from dataclasses import dataclass

import numpy as np

from .checks import check_choice

__all__ = ["QuantNetConfig", "twn_ternarize", "dorefa_activation", "dorefa_weights",
           "train_quantnet", "QuantNet", "KINDS"]

KINDS = ("twn", "dorefa")


def twn_ternarize(W):
    """``(codes, alpha)``: ``W``'s ternary codes (int64, -1/0/1) and the layer's scale."""
    W = np.asarray(W, dtype=np.float64)
    delta = 0.7 * np.abs(W).mean()
    mask = np.abs(W) > delta
    codes = (np.sign(W) * mask).astype(np.int64)
    alpha = float(np.abs(W)[mask].mean()) if mask.any() else 0.0
    return codes, alpha


def dorefa_activation(x, k):
    """``k``-bit activation codes (int64, ``0 .. 2^k - 1``) of ``clip(x, 0, 1)``; the value
    of a code is ``code / (2^k - 1)``."""
    n = (1 << k) - 1
    return np.rint(np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) * n).astype(np.int64)


def dorefa_weights(W, k):
    """``(codes, scale)``: DoReFa's ``k``-bit weights as integer codes and the scale that
    makes them values (``value = codes * scale``)."""
    W = np.asarray(W, dtype=np.float64)
    if k == 1:
        return np.where(W >= 0, 1, -1).astype(np.int64), float(np.abs(W).mean())
    n = (1 << k) - 1
    t = np.tanh(W)
    q = np.rint((t / (2 * np.abs(t).max()) + 0.5) * n).astype(np.int64)
    return 2 * q - n, 1.0 / n


@dataclass(frozen=True)
class QuantNetConfig:
    """A TWN or DoReFa network: ``kind``, activation bits ``a_bits``, weight bits ``w_bits``
    (DoReFa; TWN's are ternary), hidden units, epochs, batch, learning rate and seed."""

    kind: str = "dorefa"
    a_bits: int = 4
    w_bits: int = 2
    hidden: int = 64
    epochs: int = 80
    batch: int = 32
    lr: float = 0.01
    seed: int = 1

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        if not 1 <= self.a_bits <= 8 or not 1 <= self.w_bits <= 7:
            raise ValueError(f"need 1 <= a_bits <= 8 and 1 <= w_bits <= 7, not "
                             f"{self.a_bits}, {self.w_bits}")

    @property
    def weight_code_bits(self):
        """Bits of a signed weight code on the engine."""
        if self.kind == "twn" or self.w_bits == 1:
            return 2
        return self.w_bits + 1


def _quantize_weights(cfg, W):
    if cfg.kind == "twn":
        return twn_ternarize(W)
    return dorefa_weights(W, cfg.w_bits)


@dataclass
class QuantNet:
    """A trained network in integers: per layer the weight codes (``K x N``), their scale,
    and the float bias; :meth:`forward` runs it with any matrix product."""

    cfg: QuantNetConfig
    codes: list
    scales: list
    biases: list

    def inputs(self, x):
        """The input layer's activation codes for pixels / 16 in [0, 1]."""
        return dorefa_activation(x, self.cfg.a_bits)

    def forward(self, x_codes, matmul=None):
        """Logits (float) for activation codes ``x_codes`` (``M x 64``). ``matmul(a, c, layer)``
        multiplies activation codes by a layer's weight codes (default: numpy, int64); the
        rest (scales, biases, the next activation's quantization) is here."""
        matmul = matmul or (lambda a, c, layer: a.astype(np.int64) @ c)
        n = (1 << self.cfg.a_bits) - 1
        a = np.asarray(x_codes, dtype=np.int64)
        for layer, (c, s, b) in enumerate(zip(self.codes, self.scales, self.biases)):
            acc = np.asarray(matmul(a, c, layer), dtype=np.int64)
            z = acc * (s / n) + b
            if layer == len(self.codes) - 1:
                return z
            a = dorefa_activation(z, self.cfg.a_bits)
        raise AssertionError("no layers")


def train_quantnet(cfg, data):
    """Train ``cfg`` on ``data`` = ``(x_train, y_train, x_test, y_test)`` (pixels / 16);
    returns ``(QuantNet, history)`` with the float-simulated test error an epoch."""
    x_tr, y_tr, x_te, y_te = data
    rng = np.random.default_rng(cfg.seed)
    sizes = [x_tr.shape[1], cfg.hidden, 10]
    W = [rng.normal(0, np.sqrt(2 / sizes[i]), size=(sizes[i], sizes[i + 1]))
         for i in range(2)]
    b = [np.zeros(sizes[i + 1]) for i in range(2)]
    vW = [np.zeros_like(w) for w in W]
    vb = [np.zeros_like(x) for x in b]
    n = (1 << cfg.a_bits) - 1

    def quantized():
        out = []
        for w in W:
            c, s = _quantize_weights(cfg, w)
            out.append((c, s))
        return out

    def forward(x, q):
        acts, pre = [dorefa_activation(x, cfg.a_bits) / n], []
        for layer, (c, s) in enumerate(q):
            z = acts[-1] @ (c * s) + b[layer]
            pre.append(z)
            if layer < len(q) - 1:
                acts.append(dorefa_activation(z, cfg.a_bits) / n)
        return acts, pre

    history = []
    for _ in range(cfg.epochs):
        order = rng.permutation(len(y_tr))
        for k in range(0, len(order), cfg.batch):
            idx = order[k:k + cfg.batch]
            q = quantized()
            acts, pre = forward(x_tr[idx], q)
            z = pre[-1] - pre[-1].max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), y_tr[idx]] -= 1
            delta = p / len(idx)
            for layer in (1, 0):
                c, s = q[layer]
                gW = acts[layer].T @ delta  # straight through the weight quantizer
                gb = delta.sum(axis=0)
                if layer:
                    delta = (delta @ (c * s).T) * ((pre[0] > 0) & (pre[0] < 1))
                vW[layer] = 0.9 * vW[layer] - cfg.lr * gW
                vb[layer] = 0.9 * vb[layer] - cfg.lr * gb
                W[layer] += vW[layer]
                b[layer] += vb[layer]
        q = quantized()
        history.append(float((forward(x_te, q)[1][-1].argmax(axis=1) != y_te).mean()))
    q = quantized()
    net = QuantNet(cfg, [c for c, _ in q], [s for _, s in q], [x.copy() for x in b])
    return net, history

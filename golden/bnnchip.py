"""A whole binarized network on chip (FINN's dataflow style): parameters, golden model, adapter.

The network is a chain of XNOR-popcount layers (SPEC section 4; :mod:`lowbit.golden.bnn`):
every hidden layer a binary activation through one folded threshold a neuron, the last layer
raw ±1 dot products, and the class their argmax (ties to the lowest index, as
``np.argmax``). On chip each layer is a ``bmvu`` with its weights and thresholds generated
into its memories, so an image goes in as bits and a class comes out; the parameters carry
the network itself, so a build (and its host link's signature) names the network it runs.

The network comes from a file (``-p network=FILE.npz``, :func:`load_network`), from a trained
:class:`~lowbit.golden.bnn.BNN` (:meth:`BNNChipParams.from_bnn`), or, when none is given, is a
random one drawn from ``seed`` (random weights, thresholds and invert bits: every path of the
datapath, for tests and sweeps). Plain numpy, no HDL.
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .binary import BMVUParams, _bits, bmvu_rows, threshold_width
from .checks import UsageError, check_choice, check_int, check_product
from .job import Comparison, Job
from .payload import PLAIN

__all__ = ["BNNChipParams", "ChipLayer", "bnn_chip_golden", "bnn_chip_job", "bnn_chip_compare",
           "load_network", "save_network", "encode_network", "BNN_OUTPUTS", "MAX_LAYERS",
           "MAX_NETWORK_BITS"]

BNN_OUTPUTS = ("class", "scores")
#: Layers a chip may have, and the weight bits of all of them (4 Mi: the bmvu's 1 Mi a layer
#: bounds each; the generated Verilog holds them all).
MAX_LAYERS = 8
MAX_NETWORK_BITS = 1 << 22
#: The parallelism of a layer without a given pe / simd: up to 4 neurons and 32 input bits a
#: cycle. At the digits network's sizes (64-256-10) the first layer then takes 128 cycles an
#: image, against about 320 cycles (12 MHz) for the image's 8 bytes to cross a 3 Mbaud link.
AUTO_PE, AUTO_SIMD = 4, 32


@dataclass(frozen=True, eq=False)
class ChipLayer:
    """One layer of the chip's network: ``weights`` (rows, cols) bits; for a hidden layer
    ``thresholds`` (rows, 1) ints and ``invert`` (rows,) bools, else both None."""

    weights: np.ndarray
    thresholds: np.ndarray | None
    invert: np.ndarray | None


def _ints(name, text, count=None):
    """A dash list of integers (``64-256-10``: dashes, so a sweep's commas stay free)."""
    try:
        values = tuple(int(v, 0) for v in str(text).split("-"))
    except ValueError:
        raise ValueError(f"{name} must be integers joined by dashes (such as 64-256-10), "
                         f"not {text!r}") from None
    if count is not None and len(values) != count:
        raise ValueError(f"{name} must list {count} values (one a layer), not {len(values)}: "
                         f"{text!r}")
    return values


def _hex_bits(name, text, n):
    """A hex string (little-endian bit order: bit i of the integer is element i) -> n bits."""
    try:
        value = int(text, 16) if text else 0
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a hex string of bits") from None
    if value >> n:
        raise ValueError(f"{name} holds more than {n} bits")
    raw = np.frombuffer(value.to_bytes(-(-n // 8) or 1, "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:n].copy()


def _bits_hex(bits):
    bits = np.asarray(bits, dtype=np.uint8).reshape(-1)
    return format(int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little"), "x")


def _tuples(value):
    """JSON lists back to (nested) tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_tuples(v) for v in value)
    return value


@dataclass(frozen=True)
class BNNChipParams:
    """A binarized network on chip: one bmvu a layer, weights resident, the class out.

    Parameters
    ----------
    sizes : str
        ``inputs-hidden...-classes`` (``64-256-10``): the layers' widths.
    pe, simd : str
        One value a layer, joined by dashes (``4-2``): neurons and input bits a cycle (``""``: up to
        :data:`AUTO_PE` and :data:`AUTO_SIMD`, at most the layer's rows and columns).
    output : str
        ``class``: one beat an image, the argmax; ``scores``: the last layer's dot products,
        ``pe`` of them a beat (as the bmvu gives them).
    seed : int
        The random network used when ``network`` is empty.
    spacing : int
        Register spacing of the popcount trees (the bmvu's).
    network : tuple
        The network, one ``(rows, cols, weights hex, thresholds, invert hex)`` a layer (bits
        row-major, little-endian; the last layer's thresholds ``()`` and invert ``""``),
        checked against ``sizes``; empty: random from ``seed``. From a file: ``-p
        network=FILE.npz`` (:func:`load_network`).
    """

    sizes: str = field(default="64-256-10", metadata={
        "help": f"layer widths inputs-hidden...-classes (2..{MAX_LAYERS + 1} values, each "
                f"1..4096, classes >= 2)"})
    pe: str = field(default="", metadata={
        "help": f"neurons a cycle, one a layer (such as 4-2; default up to {AUTO_PE})"})
    simd: str = field(default="", metadata={
        "help": f"input bits a cycle, one a layer (such as 32-16; default up to {AUTO_SIMD})"})
    output: str = field(default="class", metadata={
        "help": "class (the argmax, one beat an image) or scores (the last layer's dots)"})
    seed: int = field(default=1, metadata={
        "help": "seed of the random network used when no network is given"})
    spacing: int = field(default=2, metadata={
        "help": "popcount register spacing (0..16)"})
    network: tuple = field(default=(), metadata={
        "help": "the trained network: -p network=FILE.npz (w0.., t0.., inv0.. arrays; "
                "default: random from seed)",
        "convert": lambda text: encode_network(load_network(text, "-p network"))})

    def __post_init__(self):
        object.__setattr__(self, "network", _tuples(self.network))
        sizes = _ints("sizes", self.sizes)
        if not 2 <= len(sizes) <= MAX_LAYERS + 1:
            raise ValueError(f"sizes must list 2 to {MAX_LAYERS + 1} widths (inputs, "
                             f"hidden..., classes), not {len(sizes)}")
        for k, s in enumerate(sizes):
            check_int(f"sizes[{k}]", s, 1, 4096)
        if sizes[-1] < 2:
            raise ValueError(f"the last size (classes) must be >= 2, not {sizes[-1]}")
        check_product("the network's weight bits", sum(a * b for a, b in zip(sizes, sizes[1:])),
                      MAX_NETWORK_BITS, "every layer's rows x cols")
        n = len(sizes) - 1
        for name in ("pe", "simd"):
            if getattr(self, name):
                _ints(name, getattr(self, name), n)
        check_choice("output", self.output, BNN_OUTPUTS)
        check_int("seed", self.seed, 0, (1 << 32) - 1)
        check_int("spacing", self.spacing, 0, 16)
        self.layer_params  # validates every layer's bmvu  # noqa: B018
        if self.network:
            self.layers  # validates the network against the sizes  # noqa: B018

    @property
    def widths(self):
        return _ints("sizes", self.sizes)

    @functools.cached_property
    def layer_params(self):
        """Each layer's :class:`BMVUParams` (hidden: one threshold; last: raw dots)."""
        sizes = self.widths
        n = len(sizes) - 1
        pe = _ints("pe", self.pe, n) if self.pe else tuple(min(AUTO_PE, r) for r in sizes[1:])
        simd = (_ints("simd", self.simd, n) if self.simd
                else tuple(min(AUTO_SIMD, c) for c in sizes[:-1]))
        out = []
        for k in range(n):
            try:
                out.append(BMVUParams(rows=sizes[k + 1], cols=sizes[k], pe=pe[k], simd=simd[k],
                                      thresholds=int(k < n - 1), spacing=self.spacing))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"layer {k} ({sizes[k]} -> {sizes[k + 1]}): {exc}") from None
        return tuple(out)

    @functools.cached_property
    def layers(self):
        """The network as :class:`ChipLayer` s: decoded from :attr:`network`, or random."""
        if not self.network:
            return _random_layers(self.layer_params, self.seed)
        if len(self.network) != len(self.layer_params):
            raise ValueError(f"the network has {len(self.network)} layers; sizes "
                             f"{self.sizes!r} need {len(self.layer_params)}")
        out = []
        for k, (entry, p) in enumerate(zip(self.network, self.layer_params)):
            if not (isinstance(entry, tuple) and len(entry) == 5):
                raise ValueError(f"network layer {k} must be (rows, cols, weights, thresholds, "
                                 f"invert)")
            rows, cols, w_hex, t, inv_hex = entry
            if (rows, cols) != (p.rows, p.cols):
                sizes = [self.network[0][1]] + [e[0] for e in self.network]
                raise ValueError(f"the network's layer {k} is {cols} -> {rows}, but sizes "
                                 f"{self.sizes!r} make it {p.cols} -> {p.rows}: give -p "
                                 f"sizes={'-'.join(map(str, sizes))}")
            w = _hex_bits(f"network layer {k} weights", w_hex, p.rows * p.cols)
            w = w.reshape(p.rows, p.cols)
            if not p.thresholds:
                if t or inv_hex:
                    raise ValueError(f"network layer {k} is the output layer: no thresholds")
                out.append(ChipLayer(w, None, None))
                continue
            if len(t) != p.rows or not all(isinstance(v, int) for v in t):
                raise ValueError(f"network layer {k} needs {p.rows} integer thresholds, not "
                                 f"{len(t)}")
            tw = threshold_width(p.cols)
            lo, hi = -(1 << (tw - 1)), (1 << (tw - 1)) - 1
            if min(t) < lo or max(t) > hi:
                raise ValueError(f"network layer {k}: thresholds must lie in [{lo}, {hi}] for "
                                 f"{p.cols} inputs")
            inv = _hex_bits(f"network layer {k} invert", inv_hex, p.rows).astype(bool)
            out.append(ChipLayer(w, np.array(t, dtype=np.int64)[:, None], inv))
        return tuple(out)

    @property
    def classes(self):
        return self.widths[-1]

    @property
    def inputs(self):
        return self.widths[0]

    @property
    def class_width(self):
        return max(1, (self.classes - 1).bit_length())

    @property
    def cycles_per_image(self):
        """The chain's steady-state interval: the slowest layer's cycles a vector (``nf x
        sf``; a layer after the first takes at least ``sf + 1``, its feeder leaving a cycle
        between vectors; with ``output=class`` the last at least ``2 nf``, the argmax taking
        a beat every other cycle)."""
        last = len(self.layer_params) - 1
        return max(max(p.cycles_per_vector,
                       p.sf + 1 if k else 0,
                       2 * p.nf if k == last and self.output == "class" else 0)
                   for k, p in enumerate(self.layer_params))

    @property
    def beats_per_image(self):
        """Input beats an image: ``ceil(inputs / simd[0])`` chunks."""
        return self.layer_params[0].sf

    @classmethod
    def from_bnn(cls, bnn, **options):
        """The chip of a trained :class:`~lowbit.golden.bnn.BNN` (one threshold a hidden
        neuron), with other parameters from ``options``."""
        sizes = "-".join(str(s) for s in bnn.sizes)
        layers = [ChipLayer(layer.weights, layer.thresholds, layer.invert)
                  for layer in bnn.layers]
        return cls(sizes=sizes, network=encode_network(layers), **options)


def encode_network(layers):
    """:class:`ChipLayer` s (or anything with ``weights``, ``thresholds``, ``invert``) ->
    the :attr:`BNNChipParams.network` tuple."""
    out = []
    for layer in layers:
        rows, cols = np.shape(layer.weights)
        w_hex = _bits_hex(layer.weights)
        if layer.thresholds is None:
            out.append((rows, cols, w_hex, (), ""))
            continue
        t = np.asarray(layer.thresholds, dtype=np.int64)
        if t.ndim == 2:
            if t.shape[1] != 1:
                raise ValueError(f"a hidden layer on chip has one threshold a neuron, not "
                                 f"{t.shape[1]}")
            t = t[:, 0]
        inv = (np.zeros(t.shape[0], dtype=bool) if layer.invert is None
               else np.asarray(layer.invert, dtype=bool))
        out.append((rows, cols, w_hex, tuple(int(v) for v in t), _bits_hex(inv)))
    return tuple(out)


def _random_layers(layer_params, seed):
    """A random network: uniform weight and invert bits, thresholds uniform within two
    standard deviations of a random dot product (so activations are mixed)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in layer_params:
        w = rng.integers(0, 2, size=(p.rows, p.cols), dtype=np.uint8)
        if not p.thresholds:
            out.append(ChipLayer(w, None, None))
            continue
        spread = int(2 * np.sqrt(p.cols)) + 1
        tw = threshold_width(p.cols)
        lo, hi = -(1 << (tw - 1)), (1 << (tw - 1)) - 1
        t = np.clip(rng.integers(-spread, spread + 1, size=(p.rows, 1)), lo, hi)
        out.append(ChipLayer(w, t.astype(np.int64), rng.integers(0, 2, p.rows).astype(bool)))
    return tuple(out)


def save_network(layers, path):
    """Write ``layers`` (a :class:`~lowbit.golden.bnn.BNN`'s, or :class:`ChipLayer` s) to
    ``path`` (``.npz``: ``w<k>`` (rows, cols) bits, and for hidden layers ``t<k>`` (rows,)
    ints and ``inv<k>`` (rows,) bools), the file ``-p network=`` reads."""
    arrays = {}
    for k, layer in enumerate(getattr(layers, "layers", layers)):
        arrays[f"w{k}"] = np.asarray(layer.weights, dtype=np.uint8)
        if layer.thresholds is not None:
            arrays[f"t{k}"] = np.asarray(layer.thresholds, dtype=np.int64).reshape(-1)
            arrays[f"inv{k}"] = (np.zeros(arrays[f"w{k}"].shape[0], dtype=bool)
                                 if layer.invert is None else np.asarray(layer.invert, bool))
    np.savez(path, **arrays)


def load_network(path, option="network"):
    """The layers in ``path`` (:func:`save_network`'s format), checked: UsageError naming
    the file and what is wrong."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise UsageError(f"cannot read {option} {path}: no such file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"{option} {path} is not a network file (.npz of w0, t0, inv0, ... "
                         f"arrays): {exc}") from None
    n = sum(1 for k in arrays if k.startswith("w"))
    want = {f"w{k}" for k in range(n)} | {f"{a}{k}" for k in range(n - 1) for a in ("t", "inv")}
    if n < 2 or set(arrays) != want:
        raise UsageError(f"{option} {path} must hold arrays w0..w<L-1> and t<k>, inv<k> for "
                         f"every layer but the last (L >= 2), not {sorted(arrays)}")
    layers = []
    for k in range(n):
        w = arrays[f"w{k}"]
        if w.ndim != 2 or not np.isin(w, (0, 1)).all():
            raise UsageError(f"{option} {path}: w{k} must be a (rows, cols) array of bits")
        if k and w.shape[1] != layers[-1].weights.shape[0]:
            raise UsageError(f"{option} {path}: w{k} has {w.shape[1]} columns; layer {k - 1} "
                             f"has {layers[-1].weights.shape[0]} rows")
        if k == n - 1:
            layers.append(ChipLayer(w.astype(np.uint8), None, None))
            continue
        t, inv = arrays[f"t{k}"], arrays[f"inv{k}"]
        if t.shape != (w.shape[0],) or not np.issubdtype(t.dtype, np.integer):
            raise UsageError(f"{option} {path}: t{k} must be {w.shape[0]} integers (one "
                             f"threshold a neuron), not shape {t.shape} of {t.dtype}")
        if inv.shape != (w.shape[0],) or not np.isin(inv, (0, 1)).all():
            raise UsageError(f"{option} {path}: inv{k} must be {w.shape[0]} booleans")
        layers.append(ChipLayer(w.astype(np.uint8), t.astype(np.int64)[:, None],
                                inv.astype(bool)))
    return tuple(layers)


def bnn_chip_golden(params, x_bits):
    """The chip's outputs for images ``x_bits`` (V, inputs): ``(scores (V, classes) int64,
    classes (V,) int64)``. Hidden layer: bit 1 iff ``s * dot >= t`` (``s = -1`` for an
    inverted neuron); class: the lowest index of the largest score."""
    a = np.asarray(x_bits, dtype=np.int64)
    for layer in params.layers:
        dots = (2 * a - 1) @ (2 * layer.weights.astype(np.int64) - 1).T
        if layer.thresholds is None:
            return dots, np.argmax(dots, axis=1).astype(np.int64)
        s = np.where(layer.invert, -1, 1)
        a = (dots * s >= layer.thresholds[:, 0]).astype(np.int64)
    raise AssertionError("a network ends with its output layer")  # pragma: no cover


def _check_images(params, x_bits, what="images"):
    x = np.asarray(x_bits)
    if x.ndim != 2 or x.shape[1] != params.inputs or x.shape[0] == 0:
        raise ValueError(f"{what} must have shape (images, {params.inputs}), not {x.shape}")
    if not np.isin(x, (0, 1)).all():
        raise ValueError(f"{what} must hold bits 0 (-1) and 1 (+1)")
    return x.astype(np.uint8)


def bnn_chip_job(params, x_bits, *, pad_rng=None):
    """The chip's adapter: images (V, inputs) bits as ``ceil(inputs / simd[0])`` chunks each
    (element ``j`` of chunk ``s`` at bit ``j``: input ``s * simd + j``); the result is the
    classes (V,) or, with ``output=scores``, the scores (V, classes). Inputs past ``inputs``
    in each last chunk are zero, or seeded random bits from ``pad_rng`` (the chip masks
    them)."""
    p0 = params.layer_params[0]
    x = _check_images(params, x_bits)
    v = x.shape[0]
    width = p0.sf * p0.simd
    padded = np.zeros((v, width), dtype=np.uint8)
    padded[:, :p0.cols] = x
    if pad_rng is not None:
        padded[:, p0.cols:] = pad_rng.integers(0, 2, size=(v, width - p0.cols))
    packed = np.packbits(padded.reshape(v * p0.sf, p0.simd), axis=1, bitorder="little")
    beats = [int.from_bytes(row.tobytes(), "little") for row in packed]
    last = [(i + 1) * p0.sf - 1 for i in range(v)]
    # A bound for a simulation: every image at the chain's interval, the chain filled, and
    # each layer's pipeline.
    n = len(params.layer_params)
    cycles = (v + n) * params.cycles_per_image + 64 * n + 1000
    if params.output == "class":
        def decode(out):
            cls = np.asarray(out["cls"], dtype=np.int64)
            return cls if len(cls) == v else None

        return Job({PLAIN: beats}, v, decode, last_beats=last, cycles=cycles)
    pl = params.layer_params[-1]
    return Job({PLAIN: beats}, v * pl.nf, lambda out: bmvu_rows(pl, out, v), cycles=cycles)


def bnn_chip_compare(params, arr, **_):
    """``lowbit compare bnn``: ``arr`` (images, inputs) bits (or reals, binarized at 0)."""
    if arr.ndim != 2 or arr.shape[1] != params.inputs or arr.shape[0] == 0:
        raise UsageError(f"--input for bnn must have shape (images, {params.inputs}), not "
                         f"{arr.shape}")
    x = _bits(arr, "--input")
    scores, classes = bnn_chip_golden(params, x)
    job = bnn_chip_job(params, x)
    if params.output == "class":
        return Comparison(job, [int(c) for c in classes], list,
                          extra={"shape": list(classes.shape)})
    return Comparison(job, [int(s) for s in scores.reshape(-1)],
                      lambda got: [int(s) for s in np.asarray(got).reshape(-1)],
                      extra={"shape": list(scores.shape)})

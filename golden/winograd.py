"""Winograd F(2,3) convolution: parameters and the bit-exact model.

Lavin & Gray 2016, "Fast Algorithms for Convolutional Neural Networks" (SPEC section 3).
"Convolution" here is what CNNs compute, correlation: ``y[i] = sum_k d[i + k] g[k]``.
::

    B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]
    G   = [[1,0,0],[1/2,1/2,1/2],[1/2,-1/2,1/2],[0,0,1]]        G' = 2G (integers)
    A^T = [[1,1,1,0],[0,1,-1,-1]]
    1-D: y' = A^T [(G' g) * (B^T d)] = 2y,              y = y' >> 1
    2-D: Y' = A^T [(G' g G'^T) * (B^T d B)] A = 4Y,     Y = Y' >> 2

The shifts are exact (the low bits of ``y'`` / ``Y'`` are zero) because ``y'`` is exactly
twice the correlation, so the hardware needs no rounding. With ``C`` input channels the
elementwise products are summed over channels in the transform domain and transformed back once.

The range analysis (the exact minimum, maximum and signed width of every stage) is in
:mod:`lowbit.golden.winograd_ranges`; the matrices are in :mod:`lowbit.golden.winograd_matrices`.
"""

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .checks import UsageError, checked, int_codes, unless_given
from .checks import check_bool as _check_bool
from .checks import check_choice as _check_choice
from .checks import check_int as _check_int
from .checks import check_product as _check_product
from .checks import int_array as _int_array
from .fixed import ROUNDING_MODES, requantize
from .job import Comparison, Job, results_of
from .lfsr import LFSRModel, LFSRParams, check_lfsr
from .winograd_matrices import A_T, B_T, G_SCALED, G
from .winograd_ranges import (
    MAX_CHANNELS,
    MAX_WIDTH,
    MIN_WIDTH,
    STAGES_1D,
    STAGES_2D,
    StageRange,
    WorstCase,
    _box,
    direct_stage_ranges,
    signed_width,
    stage_ranges,
    worst_case_patterns,
)

__all__ = [
    "B_T", "G", "G_SCALED", "A_T", "MIN_WIDTH", "MAX_WIDTH", "MAX_CHANNELS", "MAX_PIPELINE",
    "MAX_IMAGE", "FILTER_TRANSFORMS", "PADDINGS", "STAGES_1D", "STAGES_2D",
    "transform_input_1d", "transform_input_2d", "transform_filter_1d", "transform_filter_2d",
    "transform_output_1d", "transform_output_2d", "winograd_stages_1d", "winograd_stages_2d",
    "winograd_1d", "winograd_1d_channels", "winograd_2d", "winograd_2d_channels",
    "direct_1d", "direct_1d_channels", "direct_2d", "direct_2d_channels",
    "correlate2d", "correlate_filters", "winograd_correlate2d", "output_shape",
    "signed_width", "StageRange", "WorstCase", "stage_ranges", "direct_stage_ranges",
    "worst_case_patterns", "check_filter_shape",
    "Winograd1DParams", "Winograd2DParams", "Direct3x3Params", "Conv2dParams",
    "tiles_job", "conv2d_job", "tiles_compare", "conv2d_compare", "conv2d_shape_params",
]

MAX_PIPELINE = 6
MAX_IMAGE = 4096
#: The conv layer's line buffers, three rows of width x channels x data_width bits: at most
#: 4 Mi, above the block RAM of the largest supported device (ECP5-85F: 3.7 Mbit).
MAX_LINE_BUFFER_BITS = 1 << 22
#: Output channels a conv layer computes (``filters``).
MAX_FILTERS = 256
FILTER_TRANSFORMS = ("offline", "onchip")
CONV_ENGINES = ("winograd", "direct")
PADDINGS = ("valid", "same")


# ---------------------------------------------------------------------------------------------
# Integer arrays: int64 when the worst case provably fits, Python ints (object) otherwise.

def _max_abs(a):
    return max((abs(int(v)) for v in (a.min(), a.max())), default=0) if a.size else 0


def _promote(d, g, growth):
    """d and g as int64 if ``max|d| * max|g| * growth`` fits in 62 bits, else as object."""
    if (d.dtype == np.int64 and g.dtype == np.int64
            and _max_abs(d) * _max_abs(g) * growth < (1 << 62)):
        return d, g
    return d.astype(object), g.astype(object)


def _like(m, a):
    return m if a.dtype == m.dtype else m.astype(a.dtype)


def _check_last(name, a, tail):
    if a.shape[a.ndim - len(tail):] != tail or a.ndim < len(tail):
        shape = "(..., " + ", ".join(map(str, tail)) + ")"
        raise ValueError(f"{name} must have shape {shape}, not {a.shape}")


def _check_channels(d, g, nd):
    if d.ndim < nd + 1 or g.ndim < nd + 1 or d.shape[-nd - 1] != g.shape[-nd - 1]:
        raise ValueError(f"d and g must have the same channel axis (..., C, ...), "
                         f"not {d.shape} and {g.shape}")


# ---------------------------------------------------------------------------------------------
# Transforms (on the last axes; leading axes broadcast).

def _transform(name, x, tail, mat):
    """``mat x`` along the last axis (``x @ mat^T``), or ``mat x mat^T`` on the last two when
    ``tail`` is 2-D; ``x`` checked as an integer array ending in ``tail``."""
    x = _int_array(name, x)
    _check_last(name, x, tail)
    m = _like(mat, x)
    return x @ m.T if len(tail) == 1 else (m @ x) @ m.T


def transform_input_1d(d):
    """``V = B^T d`` for 4-input tiles ``d (..., 4)``."""
    return _transform("d", d, (4,), B_T)


def _input_pass1(d):
    return _like(B_T, d) @ d


def transform_input_2d(d):
    """``V = B^T d B`` for 4x4 tiles ``d (..., 4, 4)``."""
    return _transform("d", d, (4, 4), B_T)


def transform_filter_1d(g):
    """``U' = G' g = 2U`` for 3-tap filters ``g (..., 3)``."""
    return _transform("g", g, (3,), G_SCALED)


def _filter_pass1(g):
    return _like(G_SCALED, g) @ g


def transform_filter_2d(g):
    """``U' = G' g G'^T = 4U`` for 3x3 filters ``g (..., 3, 3)``."""
    return _transform("g", g, (3, 3), G_SCALED)


def transform_output_1d(m):
    """``y' = A^T m`` for ``m (..., 4)``; not shifted (``y = y' >> 1``)."""
    return _transform("m", m, (4,), A_T)


def transform_output_2d(m):
    """``Y' = A^T m A`` for ``m (..., 4, 4)``; not shifted (``Y = Y' >> 2``)."""
    return _transform("m", m, (4, 4), A_T)


# ---------------------------------------------------------------------------------------------
# The Winograd path, stage by stage, and the direct correlation it must equal.

def _prepare(d, g, dtail, gtail, nd):
    d, g = _int_array("d", d), _int_array("g", g)
    _check_last("d", d, dtail)
    _check_last("g", g, gtail)
    _check_channels(d, g, nd)
    channels = d.shape[-nd - 1]
    return _promote(d, g, 324 * max(channels, 1))


def winograd_stages_1d(d, g):
    """Every intermediate of 1-D F(2,3) with channels: ``d (..., C, 4)``, ``g (..., C, 3)``.

    Returns a dict keyed by :data:`STAGES_1D`: per-channel stages have shape ``(..., C, 4)``,
    ``channel_sum`` ``(..., 4)``, ``output_transform`` (``y'``) and ``output`` (``y``)
    ``(..., 2)``.
    """
    d, g = _prepare(d, g, (4,), (3,), 1)
    v = d @ _like(B_T, d).T
    u = g @ _like(G_SCALED, g).T
    m = u * v
    s = m.sum(axis=-2)
    yt = s @ _like(A_T, s).T
    return {"input_transform": v, "filter_transform": u, "product": m, "channel_sum": s,
            "output_transform": yt, "output": yt >> 1}


def winograd_stages_2d(d, g):
    """Every intermediate of 2-D F(2x2,3x3) with channels: ``d (..., C, 4, 4)``,
    ``g (..., C, 3, 3)``.

    Returns a dict keyed by :data:`STAGES_2D`. The two-pass transforms are computed left
    first: ``input_transform_pass1 = B^T d``, ``filter_transform_pass1 = G' g`` (4x3),
    ``output_transform_pass1 = A^T S`` (2x4).
    """
    d, g = _prepare(d, g, (4, 4), (3, 3), 2)
    v1 = _input_pass1(d)
    v = v1 @ _like(B_T, d).T
    u1 = _filter_pass1(g)
    u = u1 @ _like(G_SCALED, g).T
    m = u * v
    s = m.sum(axis=-3)
    y1 = _like(A_T, s) @ s
    yt = y1 @ _like(A_T, s).T
    return {"input_transform_pass1": v1, "input_transform": v, "filter_transform_pass1": u1,
            "filter_transform": u, "product": m, "channel_sum": s,
            "output_transform_pass1": y1, "output_transform": yt, "output": yt >> 2}


def winograd_1d_channels(d, g):
    """2 outputs from ``d (..., C, 4)`` and ``g (..., C, 3)``, channels summed before A^T."""
    return winograd_stages_1d(d, g)["output"]


def winograd_2d_channels(d, g):
    """2x2 outputs from ``d (..., C, 4, 4)`` and ``g (..., C, 3, 3)``, one output transform."""
    return winograd_stages_2d(d, g)["output"]


def winograd_1d(d, g):
    """2 outputs of a 3-tap filter ``g (..., 3)`` over 4 inputs ``d (..., 4)``."""
    d, g = _int_array("d", d), _int_array("g", g)
    _check_last("d", d, (4,))
    _check_last("g", g, (3,))
    return winograd_1d_channels(d[..., None, :], g[..., None, :])


def winograd_2d(d, g):
    """2x2 outputs of a 3x3 filter ``g (..., 3, 3)`` over a 4x4 tile ``d (..., 4, 4)``."""
    d, g = _int_array("d", d), _int_array("g", g)
    _check_last("d", d, (4, 4))
    _check_last("g", g, (3, 3))
    return winograd_2d_channels(d[..., None, :, :], g[..., None, :, :])


def direct_1d(d, g):
    """Direct correlation ``y[i] = sum_k d[i+k] g[k]``: ``d (..., 4)``, ``g (..., 3)`` -> 2."""
    d, g = _int_array("d", d), _int_array("g", g)
    _check_last("d", d, (4,))
    _check_last("g", g, (3,))
    d, g = _promote(d, g, 3)
    return (sliding_window_view(d, 3, axis=-1) * g[..., None, :]).sum(axis=-1)


def direct_1d_channels(d, g):
    """Direct correlation summed over channels: ``d (..., C, 4)``, ``g (..., C, 3)``."""
    d, g = _prepare(d, g, (4,), (3,), 1)
    return direct_1d(d, g).sum(axis=-2)


def direct_2d(d, g):
    """Direct 2-D correlation: ``d (..., 4, 4)``, ``g (..., 3, 3)`` -> ``(..., 2, 2)``."""
    d, g = _int_array("d", d), _int_array("g", g)
    _check_last("d", d, (4, 4))
    _check_last("g", g, (3, 3))
    d, g = _promote(d, g, 9)
    windows = sliding_window_view(d, (3, 3), axis=(-2, -1))
    return (windows * g[..., None, None, :, :]).sum(axis=(-2, -1))


def direct_2d_channels(d, g):
    """Direct 2-D correlation summed over channels: ``d (..., C, 4, 4)``, ``g (..., C, 3, 3)``."""
    d, g = _prepare(d, g, (4, 4), (3, 3), 2)
    return direct_2d(d, g).sum(axis=-3)


def check_filter_shape(filt, expected, name="filter"):
    """``filt`` as an integer array of shape ``expected``; ValueError naming both shapes."""
    a = _int_array(name, filt)
    if a.shape != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, not {a.shape}")
    return a


def _check_padding(padding):
    if padding not in PADDINGS:
        allowed = ", ".join(map(repr, PADDINGS))
        raise ValueError(f"padding must be one of {allowed}, not {padding!r}")


def output_shape(height, width, padding):
    """Output size of a 3x3 correlation: ``(H - 2, W - 2)`` for valid, ``(H, W)`` for same."""
    _check_padding(padding)
    return (height, width) if padding == "same" else (height - 2, width - 2)


def _prepare_image(image, filt, padding):
    _check_padding(padding)
    image = _int_array("image", image)
    if image.ndim != 3:
        raise ValueError(f"image must have shape (C, H, W), not {image.shape}")
    c, h, w = image.shape
    filt = check_filter_shape(filt, (c, 3, 3))
    if padding == "valid" and (h < 3 or w < 3):
        raise ValueError(f"image of {h}x{w} is smaller than the 3x3 filter (padding='valid')")
    image, filt = _promote(image, filt, 324 * max(c, 1))
    if padding == "same":
        image = np.pad(image, ((0, 0), (1, 1), (1, 1)))
    return image, filt, output_shape(h, w, padding)


def correlate2d(image, filt, padding="valid"):
    """Direct multi-channel 3x3 correlation: ``image (C, H, W)``, ``filt (C, 3, 3)``.

    ``out[y, x] = sum_{c, i, j} image[c, y + i, x + j] * filt[c, i, j]``, with one ring of
    zeros around the image for ``padding="same"`` (output ``H x W``; ``valid``: ``H-2 x W-2``).
    """
    x, filt, (ho, wo) = _prepare_image(image, filt, padding)
    out = np.zeros((ho, wo), dtype=x.dtype)
    for i in range(3):
        for j in range(3):
            out += (filt[:, i, j][:, None, None] * x[:, i:i + ho, j:j + wo]).sum(axis=0)
    return out


def correlate_filters(images, filters, padding="valid"):
    """:func:`correlate2d` of each image ``(N, C, H, W)`` with each filter ``(K, C, 3, 3)``:
    ``(N, K, Ho, Wo)``, a conv layer's exact output."""
    return np.array([[correlate2d(im, f, padding) for f in filters] for im in images])


def winograd_correlate2d(image, filt, padding="valid"):
    """:func:`correlate2d` computed as F(2x2,3x3) tiles: equal to it bit for bit.

    The output is cut into 2x2 tiles read from 4x4 input tiles at stride 2; for odd output
    sizes the image is extended by zeros and the extra row/column is dropped.
    """
    x, filt, (ho, wo) = _prepare_image(image, filt, padding)
    th, tw = -(-ho // 2), -(-wo // 2)
    x = np.pad(x, ((0, 0), (0, 2 * th + 2 - x.shape[1]), (0, 2 * tw + 2 - x.shape[2])))
    tiles = sliding_window_view(x, (4, 4), axis=(1, 2))[:, ::2, ::2]   # (C, th, tw, 4, 4)
    u = _filter_pass1(filt) @ _like(G_SCALED, filt).T                  # (C, 4, 4)
    v = _input_pass1(tiles) @ _like(B_T, tiles).T
    s = (u[:, None, None] * v).sum(axis=0)                             # (th, tw, 4, 4)
    y = ((_like(A_T, s) @ s) @ _like(A_T, s).T) >> 2                   # (th, tw, 2, 2)
    return y.transpose(0, 2, 1, 3).reshape(2 * th, 2 * tw)[:ho, :wo]


# ---------------------------------------------------------------------------------------------
# Parameter objects.

def _check_values(name, a, width, width_name):
    lo, hi = _box(width)
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        bad = next(int(v) for v in a.flat if not lo <= int(v) <= hi)
        raise ValueError(f"{name} values must lie in [{lo}, {hi}] ({width_name} = {width}), "
                         f"not {bad}")
    return a


@dataclass(frozen=True)
class _EngineParams:
    data_width: int = field(default=8, metadata={
        "help": f"signed data bits Wd ({MIN_WIDTH}..{MAX_WIDTH})"})
    weight_width: int = field(default=8, metadata={
        "help": f"signed weight bits Wg ({MIN_WIDTH}..{MAX_WIDTH})"})
    channels: int = field(default=1, metadata={
        "help": f"input channels C summed into each output (1..{MAX_CHANNELS})"})
    pipeline: int = field(default=1, metadata={
        "help": f"extra register stages 0..{MAX_PIPELINE} (latency only, same results)"})

    def __post_init__(self):
        _check_int("data_width", self.data_width, MIN_WIDTH, MAX_WIDTH)
        _check_int("weight_width", self.weight_width, MIN_WIDTH, MAX_WIDTH)
        _check_int("channels", self.channels, 1, MAX_CHANNELS)
        _check_int("pipeline", self.pipeline, 0, MAX_PIPELINE)

    def check_data(self, d):
        """``d`` as an int array of shape ``(C, *tile)`` with ``data_width``-bit values."""
        a = check_filter_shape(d, (self.channels, *self.tile_shape), name="data")
        return _check_values("data", a, self.data_width, "data_width")

    def check_filter(self, g):
        """``g`` as an int array of shape ``(C, 3[, 3])`` with ``weight_width``-bit values."""
        a = check_filter_shape(g, (self.channels, *self.filter_shape))
        return _check_values("filter", a, self.weight_width, "weight_width")


@dataclass(frozen=True)
class _WinogradParams(_EngineParams):
    filter_transform: str = field(default="offline", metadata={
        "help": "offline: load U' = G' g G'^T computed by the generator; onchip: load g"})

    def __post_init__(self):
        super().__post_init__()
        _check_choice("filter_transform", self.filter_transform, FILTER_TRANSFORMS)

    @property
    def stages(self):
        """``{name: StageRange}``, exact (see :func:`stage_ranges`)."""
        return stage_ranges(self.dim, data_width=self.data_width,
                            weight_width=self.weight_width, channels=self.channels)

    @property
    def stage_widths(self):
        return {name: r.width for name, r in self.stages.items()}

    @property
    def input_transform_width(self):
        return self.stage_widths["input_transform"]

    @property
    def filter_transform_width(self):
        return self.stage_widths["filter_transform"]

    @property
    def product_width(self):
        return self.stage_widths["product"]

    @property
    def channel_sum_width(self):
        return self.stage_widths["channel_sum"]

    @property
    def output_transform_width(self):
        """Width of ``y'`` / ``Y'`` before the shift."""
        return self.stage_widths["output_transform"]

    @property
    def output_width(self):
        """Width of the result ``y = y' >> 1`` / ``Y = Y' >> 2``."""
        return self.stage_widths["output"]

    @property
    def filter_word_width(self):
        """Width of one loaded filter word: U' (offline) or the raw weight (onchip)."""
        if self.filter_transform == "offline":
            return self.filter_transform_width
        return self.weight_width

    @property
    def multiplies(self):
        """Multiplies per output tile: 4 (1-D) or 16 (2-D) per channel."""
        return 4 ** self.dim * self.channels

    def worst_case_patterns(self):
        return worst_case_patterns(self.dim, data_width=self.data_width,
                                   weight_width=self.weight_width, channels=self.channels)


@dataclass(frozen=True)
class Winograd1DParams(_WinogradParams):
    """One object for the 1-D F(2,3) engine: 2 outputs of a 3-tap filter from 4 inputs.

    Parameters
    ----------
    data_width, weight_width : int
        Signed data and weight bits (2..16).
    channels : int
        Input channels C (1..1024), accumulated in the transform domain.
    pipeline : int
        Extra register stages (0..6); latency only.
    filter_transform : str
        ``offline`` (the generator computes ``U' = G' g`` and loads it) or ``onchip``.

    Tiles are ``(C, 4)``, filters ``(C, 3)``, outputs ``(2,)``; ``y = (A^T sum_c U'_c V_c) >> 1``.
    """

    dim = 1
    tile_shape = (4,)
    filter_shape = (3,)
    output_shape = (2,)

    def transform_filter(self, g):
        """``U' = G' g`` for the offline load, ``(C, 4)``."""
        return transform_filter_1d(self.check_filter(g))

    def compute(self, d, g):
        """The 2 outputs for tile ``d (C, 4)`` and filter ``g (C, 3)``."""
        return winograd_1d_channels(self.check_data(d), self.check_filter(g))


@dataclass(frozen=True)
class Winograd2DParams(_WinogradParams):
    """One object for the 2-D F(2x2,3x3) engine: a 2x2 output tile of a 3x3 filter.

    Parameters
    ----------
    data_width, weight_width : int
        Signed data and weight bits (2..16).
    channels : int
        Input channels C (1..1024), accumulated in the transform domain.
    pipeline : int
        Extra register stages (0..6); latency only.
    filter_transform : str
        ``offline`` (the generator computes ``U' = G' g G'^T`` and loads it) or ``onchip``.

    Tiles are ``(C, 4, 4)``, filters ``(C, 3, 3)``, outputs ``(2, 2)``;
    ``Y = (A^T (sum_c U'_c * V_c) A) >> 2``. 16 multiplies per channel, direct needs 36.
    """

    dim = 2
    tile_shape = (4, 4)
    filter_shape = (3, 3)
    output_shape = (2, 2)

    def transform_filter(self, g):
        """``U' = G' g G'^T`` for the offline load, ``(C, 4, 4)``."""
        return transform_filter_2d(self.check_filter(g))

    def compute(self, d, g):
        """The 2x2 outputs for tile ``d (C, 4, 4)`` and filter ``g (C, 3, 3)``."""
        return winograd_2d_channels(self.check_data(d), self.check_filter(g))


@dataclass(frozen=True)
class Direct3x3Params(_EngineParams):
    """The baseline: a direct 3x3 engine with the Winograd 2-D engine's tile interface.

    Parameters
    ----------
    data_width, weight_width : int
        Signed data and weight bits (2..16).
    channels : int
        Input channels C (1..1024).
    pipeline : int
        Extra register stages (0..6); latency only.

    It has no filter transform: the weights are loaded as they are (like Winograd's
    ``onchip`` option). Tiles ``(C, 4, 4)``, filters ``(C, 3, 3)``, outputs ``(2, 2)``.
    """

    dim = 2
    tile_shape = (4, 4)
    filter_shape = (3, 3)
    output_shape = (2, 2)

    @property
    def stages(self):
        """``product`` and ``sum`` (9 C products), exact."""
        return direct_stage_ranges(data_width=self.data_width, weight_width=self.weight_width,
                                   channels=self.channels)

    @property
    def product_width(self):
        return self.stages["product"].width

    @property
    def output_width(self):
        """Width of the exact sum, the same as the Winograd engine's output."""
        return self.stages["sum"].width

    @property
    def multiplies(self):
        """Multiplies per 2x2 output tile: 36 per channel."""
        return 36 * self.channels

    def compute(self, d, g):
        return direct_2d_channels(self.check_data(d), self.check_filter(g))


@dataclass(frozen=True)
class Conv2dParams(_WinogradParams):
    """A whole-image 3x3 correlation built from F(2x2,3x3) tiles.

    Parameters
    ----------
    data_width, weight_width, channels, pipeline, filter_transform
        As :class:`Winograd2DParams`.
    height, width : int
        Image size (1..4096 each); at least 3 for ``padding="valid"``.
    padding : str
        ``valid`` (output ``H-2 x W-2``) or ``same`` (one ring of zeros, output ``H x W``).

    Outputs whose size is odd are computed from zero-extended tiles, extra row/column dropped.
    """

    height: int = field(default=8, metadata={"help": f"image height H (1..{MAX_IMAGE})"})
    width: int = field(default=8, metadata={
        "help": f"image width W (1..{MAX_IMAGE}; 3 x W x C x Wd <= {MAX_LINE_BUFFER_BITS:,})"})
    padding: str = field(default="same", metadata={
        "help": "valid: H-2 x W-2 outputs; same: zero ring, H x W outputs"})
    engine: str = field(default="winograd", metadata={
        "help": "the tile engine: winograd (F(2x2,3x3), 16 multiplies a channel) or direct "
                "(36, the baseline; it takes g as it is, so filter_transform does not apply)"})
    out_width: int = field(default=0, metadata={
        "help": "requantized output bits (2..32): (acc + bias) >> shift, rounded, saturated, "
                "ReLU; 0 (default): the exact accumulator"})
    shift: int = field(default=0, metadata={
        "help": "requantization: right shift (0..the accumulator's bits - 1)"})
    rounding: str = field(default="nearest", metadata={
        "help": "requantization rounding: truncate, nearest, nearest_even or stochastic"})
    relu: bool = field(default=False, metadata={"help": "requantization: ReLU after it"})
    bias: bool = field(default=False, metadata={
        "help": "requantization: a bias a channel (a memory), added before the shift"})
    r_bits: int = field(default=8, metadata={
        "help": "stochastic rounding: random bits a sample (1..lfsr_width)"})
    lfsr_width: int = field(default=16, metadata={
        "help": "stochastic rounding: LFSR width (2..64)"})
    seed: int = field(default=1, metadata={"help": "stochastic rounding: LFSR seed (nonzero)"})
    filters: int = field(default=1, metadata={
        "help": f"output channels K (1..{MAX_FILTERS}): K filters of C x 3 x 3, the output "
                f"streams H x W x K, channels innermost"})
    parallel: int = field(default=0, metadata={
        "help": "output channels computed at once, a divisor of filters (0, default: all): "
                "the engine has that many lanes of multipliers sharing one input transform; "
                "the rest are folded in time (filters / parallel passes a tile; up to four "
                "keep up with the input, more make the engine the bound)"})

    dim = 2
    tile_shape = (4, 4)
    filter_shape = (3, 3)

    def __post_init__(self):
        super().__post_init__()
        _check_int("height", self.height, 1, MAX_IMAGE)
        _check_int("width", self.width, 1, MAX_IMAGE)
        _check_choice("padding", self.padding, PADDINGS)
        _check_product("3 x width x channels x data_width",
                       3 * self.width * self.channels * self.data_width, MAX_LINE_BUFFER_BITS,
                       "the line buffers' bits")
        if self.padding == "valid":
            for name in ("height", "width"):
                if getattr(self, name) < 3:
                    raise ValueError(f"{name} must be >= 3 (the filter size) with "
                                     f"padding='valid', not {getattr(self, name)!r}")
        _check_choice("engine", self.engine, CONV_ENGINES)
        _check_int("filters", self.filters, 1, MAX_FILTERS)
        _check_int("parallel", self.parallel, 0, MAX_FILTERS)
        if self.parallel > self.filters or self.filters % self.lanes:
            divisors = [d for d in range(1, self.filters + 1) if self.filters % d == 0]
            raise ValueError(f"parallel must divide filters={self.filters} (0 for all of them): "
                             f"one of {', '.join(map(str, divisors))}, not {self.parallel}"
                             + (" (give -p filters=K for more filters)"
                                if self.parallel > self.filters else ""))
        _check_product("4 x width x filters x output_width",
                       4 * self.width * self.filters * self.output_width, MAX_LINE_BUFFER_BITS,
                       "the output buffers' bits")
        if self.engine == "direct" and self.filter_transform != "offline":
            raise ValueError("filter_transform is for engine=winograd: the direct engine "
                             "takes the filter as it is")
        self._check_requant()

    def _check_requant(self):
        _check_int("out_width", self.out_width, 0, 32)
        _check_int("shift", self.shift, 0, self.output_width - 1)
        _check_choice("rounding", self.rounding, ROUNDING_MODES)
        for name in ("relu", "bias"):
            _check_bool(name, getattr(self, name))
        check_lfsr(self.lfsr_width, self.r_bits, self.seed)
        if self.out_width == 0:
            given = [n for n, off in (("shift", 0), ("rounding", "nearest"), ("relu", False),
                                      ("bias", False)) if getattr(self, n) != off]
            if given:
                raise ValueError(f"{', '.join(given)} belong to the requantizer: give "
                                 f"out_width (2..32) too")
            return
        if self.out_width < 2:
            raise ValueError(f"out_width must be 0 (no requantization) or 2..32, not "
                             f"{self.out_width}")
        room = self.output_width + int(self.bias) - self.shift
        if self.out_width > room:
            raise ValueError(
                f"out_width must be <= {room}, not {self.out_width}: the accumulator's "
                f"{self.output_width} bits{' plus one for the bias' if self.bias else ''}, "
                f"shifted right by {self.shift}, fill no more")

    @property
    def lanes(self):
        """Output channels the engine computes at once (``parallel``, 0 meaning all)."""
        return self.parallel or self.filters

    @property
    def folds(self):
        """Passes of each tile through the engine: ``filters / lanes``."""
        return self.filters // self.lanes

    @property
    def result_width(self):
        """Bits of an output value: ``out_width``, or the exact accumulator's."""
        return self.out_width or self.output_width

    @property
    def lfsr(self):
        return LFSRParams(self.lfsr_width, self.r_bits, self.seed)

    def check_bias(self, bias):
        """The bias as ``filters`` ints in the accumulator's range (``output_width`` signed
        bits): one integer (every channel) or one per output channel."""
        half = 1 << (self.output_width - 1)
        b = _int_array("bias", bias)
        if b.ndim > 1 or b.size not in (1, self.filters):
            per = f" or {self.filters} (one per filter)" if self.filters > 1 else ""
            raise ValueError(f"bias must be one integer{per}, not shape {b.shape}")
        b = np.broadcast_to(b.reshape(-1), (self.filters,))
        for k, v in enumerate(b):
            _check_int(f"bias[{k}]" if b.size > 1 and self.filters > 1 else "bias", int(v),
                       -half, half - 1)
        if b.any() and not self.bias:
            raise ValueError("this conv2d has no bias (bias=no): give bias=0, or generate it "
                             "with -p bias=yes -p out_width=...")
        return [int(v) for v in b]

    def requantize(self, maps, bias=0):
        """The layer's outputs from the exact maps ``(N, K, Ho, Wo)``: requantized when
        ``out_width``, with channel ``k``'s bias and one LFSR sample an output value in stream
        order (images, then raster, then channels)."""
        maps = np.asarray(maps, dtype=np.int64)
        if not self.out_width:
            return maps
        stream = maps.transpose(0, 2, 3, 1)  # (N, Ho, Wo, K): the output's order
        samples = (LFSRModel(self.lfsr).samples(stream.size) if self.rounding == "stochastic"
                   else None)
        out = requantize(stream, shift=self.shift, out_width=self.out_width,
                         mode=self.rounding, bias=np.array(self.check_bias(bias), dtype=object),
                         relu=self.relu, samples=samples, r_bits=self.r_bits)
        return np.array(out.tolist(), dtype=np.int64).transpose(0, 3, 1, 2)

    def check_filters(self, filt):
        """``filt`` as an int array ``(K, C, 3, 3)``; with one filter, ``(C, 3, 3)`` (and
        ``(3, 3)`` with one channel too) is taken as it."""
        a = _int_array("filter", filt)
        one = [(self.channels, 3, 3)] + ([(3, 3)] if self.channels == 1 else [])
        if self.filters == 1 and a.shape in one:
            a = a.reshape(1, self.channels, 3, 3)
        a = check_filter_shape(a, (self.filters, self.channels, 3, 3))
        return _check_values("filter", a, self.weight_width, "weight_width")

    @property
    def output_shape(self):
        return output_shape(self.height, self.width, self.padding)

    @property
    def tiles(self):
        """2x2 output tiles per image: ``(ceil(Ho / 2), ceil(Wo / 2))``."""
        ho, wo = self.output_shape
        return -(-ho // 2), -(-wo // 2)

    @property
    def winograd(self):
        """The Winograd tile engine's parameters."""
        return Winograd2DParams(data_width=self.data_width, weight_width=self.weight_width,
                                channels=self.channels, pipeline=self.pipeline,
                                filter_transform=self.filter_transform)

    @property
    def engine_params(self):
        """The parameters of the tile engine the layer uses (``engine``)."""
        if self.engine == "direct":
            return Direct3x3Params(data_width=self.data_width, weight_width=self.weight_width,
                                   channels=self.channels, pipeline=self.pipeline)
        return self.winograd

    @property
    def filter_words(self):
        """Filter words a channel: 16 (``U'``, Winograd offline) or 9 (``g``)."""
        return 16 if self.engine == "winograd" and self.filter_transform == "offline" else 9

    @property
    def filter_word_width(self):
        """Width of one loaded filter word: ``U'`` (Winograd offline) or the raw weight."""
        return self.filter_transform_width if self.filter_words == 16 else self.weight_width

    @property
    def multiplies(self):
        """Multiplies per 2x2 output tile: 16 (Winograd) or 36 (direct) per channel."""
        return (16 if self.engine == "winograd" else 36) * self.channels

    @property
    def multipliers(self):
        """The engine's multipliers: 16 (Winograd) or 36 (direct) a lane."""
        return (16 if self.engine == "winograd" else 36) * self.lanes

    def check_image(self, image):
        a = check_filter_shape(image, (self.channels, self.height, self.width), name="image")
        return _check_values("image", a, self.data_width, "data_width")

    def filter_loads(self, filt):
        """The filter memory's writes for ``filt`` (:meth:`check_filters`): the engine's
        words for filter ``k``, channel ``c`` (``U'``, offline Winograd, or ``g``) row-major,
        word ``i`` in bits ``[i * fw, (i + 1) * fw)`` (``fw = filter_word_width``), two's
        complement, at ``f_addr = (k // lanes) * C + c`` of lane ``f_lane = k % lanes``."""
        g = self.check_filters(filt)
        fw, c_n, lanes = self.filter_word_width, self.channels, self.lanes
        mask = (1 << fw) - 1
        loads = []
        for k, filt_k in enumerate(g):
            words = self.winograd.transform_filter(filt_k) if self.filter_words == 16 else filt_k
            for c, w in enumerate(words):
                loads.append({"f_lane": k % lanes, "f_addr": (k // lanes) * c_n + c,
                              "f_data": sum((int(v) & mask) << (i * fw)
                                            for i, v in enumerate(w.flat)),
                              "f_en": 1})
        return loads

    def bias_loads(self, bias):
        """The bias memory's writes (``bias=yes``): channel ``k``'s bias at ``b_addr = k``."""
        return [{"b_addr": k, "b_data": b & ((1 << self.output_width) - 1), "b_en": 1}
                for k, b in enumerate(self.check_bias(bias))] if self.bias else []

    def compute(self, image, filt):
        """The correlation of ``image (C, H, W)`` with each filter: ``(K, Ho, Wo)`` for
        ``filt (K, C, 3, 3)``, ``(Ho, Wo)`` for one filter given as ``(C, 3, 3)``."""
        image = self.check_image(image)
        maps = np.stack([winograd_correlate2d(image, f, self.padding)
                         for f in self.check_filters(filt)])
        return maps if np.ndim(filt) == 4 else maps[0]


def tiles_job(params, tiles, filters):
    """The tile engines' adapter (``winograd1d``, ``winograd2d``, ``direct3x3``): ``tiles``
    (N, C, 4, 4) with ``filters`` (N, C, 3, 3), one sum over the C channels a tile (1-D:
    (N, C, 4) and (N, C, 3)); the result is (N, *output_shape). The filter words are
    ``U' = G' g G'^T`` for an offline Winograd engine, else the raw ``g``."""
    tiles = np.asarray(tiles, dtype=np.int64)
    filters = np.asarray(filters, dtype=np.int64)
    n, c = tiles.shape[:2]
    if tiles.shape[1:] != (params.channels, *params.tile_shape) or \
            filters.shape != (n, params.channels, *params.filter_shape):
        raise ValueError(f"tiles must have shape (N, {params.channels}, "
                         f"{', '.join(map(str, params.tile_shape))}) and filters (N, "
                         f"{params.channels}, {', '.join(map(str, params.filter_shape))}), "
                         f"not {tiles.shape} and {filters.shape}")
    offline = getattr(params, "filter_transform", None) == "offline"
    words = np.stack([params.transform_filter(f) for f in filters]) if offline else filters
    words = words.reshape(n * c, -1)
    flat = tiles.reshape(n * c, -1)
    beats = {f"d{k}": flat[:, k].tolist() for k in range(flat.shape[1])}
    beats.update({f"f{k}": words[:, k].tolist() for k in range(words.shape[1])})
    beats["first"] = [int(b % c == 0) for b in range(n * c)]
    beats["last"] = [int(b % c == c - 1) for b in range(n * c)]
    outs = int(np.prod(params.output_shape))

    def decode(out):
        if len(out["y0"]) != n:
            return None
        got = np.array([[int(out[f"y{k}"][i]) for k in range(outs)] for i in range(n)],
                       dtype=np.int64)
        return got.reshape(n, *params.output_shape)

    return Job(beats, n, decode, last_beats=[i * c + c - 1 for i in range(n)],
               calm_beats=3 * c + 8)  # calm long enough to see whole sums: exact latency


def conv2d_job(params, images, filt, bias=0):
    """The conv layer's adapter: load ``filt`` (K, C, 3, 3) (one filter: (C, 3, 3) too) into
    the filter memory and ``bias`` (``bias=yes``: one integer or K) into the bias memory,
    stream ``images`` (N, C, H, W) back to back, pixels in raster order with the channels
    innermost; the result is the feature maps (N, K, Ho, Wo), requantized when the layer is
    (``out_width``). The output streams pixels in raster order, channels innermost."""
    loads = params.filter_loads(filt) + params.bias_loads(bias)
    images = np.asarray(images, dtype=np.int64)
    shape = (params.channels, params.height, params.width)
    if images.ndim != 4 or images.shape[1:] != shape:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, shape))}), "
                         f"not {images.shape}")
    for im in images:
        params.check_image(im)
    n, k = len(images), params.filters
    flat = images.transpose(0, 2, 3, 1).reshape(-1)  # raster order, channels innermost
    ho, wo = params.output_shape

    def decode(out):
        got = results_of(out, "y", (n, ho, wo, k), [ho * wo * k] * n)
        return None if got is None else got.transpose(0, 3, 1, 2)

    return Job({"x": flat.tolist()}, n * ho * wo * k, decode, loads=loads, calm_beats=0)


def tiles_compare(params, arr, *, filt=None, unit="tile engine", **_):
    """``lowbit compare`` for the tile engines: ``arr`` (N, C, 4, 4) tiles (1-D: (N, C, 4));
    ``filt`` (C, 3, 3) for every tile or (N, C, 3, 3) one per tile (1-D: (C, 3) or
    (N, C, 3)). The golden model is direct correlation."""
    tile, fshape, c = params.tile_shape, params.filter_shape, params.channels
    if arr.ndim != 2 + len(tile) or arr.shape[1:] != (c, *tile) or arr.shape[0] == 0:
        raise UsageError(f"--input for {unit} must have shape (tiles, channels={c}, "
                         f"{', '.join(map(str, tile))}), not {arr.shape}")
    if filt is None:
        raise UsageError(f"{unit} needs --filter FILE.npy of shape "
                         f"({', '.join(map(str, (c, *fshape)))})")
    tiles, filt = int_codes(arr, "--input"), int_codes(filt, "--filter")
    if filt.shape == (c, *fshape):
        filt = np.broadcast_to(filt, (len(tiles), *filt.shape))
    elif filt.shape != (len(tiles), c, *fshape):
        raise UsageError(f"--filter for {unit} must have shape "
                         f"({', '.join(map(str, (c, *fshape)))}) or (tiles={len(tiles)}, "
                         f"{', '.join(map(str, (c, *fshape)))}), not {filt.shape}")
    direct = direct_1d_channels if params.dim == 1 else direct_2d_channels
    want = np.array([checked(lambda x: direct(params.check_data(x[0]), params.check_filter(x[1])),
                             "--input/--filter", (t, f)) for t, f in zip(tiles, filt)])
    return Comparison(tiles_job(params, tiles, filt), want.reshape(-1).tolist(),
                      lambda got: got.reshape(-1).tolist(), {"shape": list(want.shape)})


def conv2d_shape_params(arr, items, *, filt=None, **_):
    """``-p`` items for conv2d with ``channels``, ``height`` and ``width`` taken from the
    image's shape ((H, W), (C, H, W) or (N, C, H, W)), and ``filters`` from a (K, C, 3, 3)
    filter's, where the user did not give them."""
    if arr.ndim not in (2, 3, 4):
        raise UsageError(f"--input for conv2d must have shape (H, W), (C, H, W) or "
                         f"(images, C, H, W), not {arr.shape}")
    c, h, w = (1, *arr.shape) if arr.ndim == 2 else arr.shape[-3:]
    shape = {"channels": c, "height": h, "width": w}
    if filt is not None and np.ndim(filt) == 4:
        shape["filters"] = np.shape(filt)[0]
    return unless_given(items, shape)


def conv2d_compare(params, arr, *, filt=None, bias=None, **_):
    """``lowbit compare conv2d``: ``arr`` one image (H, W) or (C, H, W), or images
    (N, C, H, W); ``filt`` (K, C, 3, 3) (one filter: (C, 3, 3), or (3, 3) with one channel);
    ``bias`` one integer or K (a layer with ``bias=yes``). The golden model is direct
    correlation with the layer's padding, filter by filter, then the requantization
    (:func:`lowbit.golden.fixed.requantize`) when the layer has one."""
    shape = (params.channels, params.height, params.width)
    images = int_codes(arr, "--input")
    images = images.reshape(-1, *shape) if images.shape in (shape, shape[1:]) else images
    if images.ndim != 4 or images.shape[1:] != shape or images.shape[0] == 0:
        raise UsageError(f"--input for conv2d must have shape (C, H, W) = {shape} or "
                         f"(images, {', '.join(map(str, shape))}), not {arr.shape}")
    k, c = params.filters, params.channels
    one = f" or ({c}, 3, 3){' or (3, 3)' if c == 1 else ''}" if k == 1 else ""
    if filt is None:
        raise UsageError(f"conv2d needs --filter FILE.npy of shape ({k}, {c}, 3, 3){one}")
    filt = int_codes(filt, "--filter")
    if filt.shape not in [(k, c, 3, 3)] + ([(c, 3, 3)] + [(3, 3)] * (c == 1)) * (k == 1):
        raise UsageError(f"--filter for conv2d must have shape (filters={k}, channels={c}, "
                         f"3, 3){one}, not {filt.shape}")
    filt = filt.reshape(k, c, 3, 3)
    if bias is not None and not params.bias:
        raise UsageError("--bias is for a conv2d with a bias (-p bias=yes -p out_width=...)")
    if params.bias:
        if bias is None:
            raise UsageError(f"this conv2d has a bias memory: give --bias FILE.npy (one "
                             f"integer{f' or {k}, one per filter' if k > 1 else ''})")
        b = int_codes(bias, "--bias")
        if b.size not in (1, k) or b.ndim > 1:
            raise UsageError(f"--bias for conv2d holds one integer"
                             f"{f' or {k} (one per filter)' if k > 1 else ''}, not shape "
                             f"{b.shape}")
        bias = checked(params.check_bias, "--bias", b)
    bias = 0 if bias is None else bias
    want = checked(lambda x: correlate_filters([params.check_image(im) for im in x[0]],
                                               params.check_filters(x[1]), params.padding),
                   "--input/--filter", (images, filt))
    want = params.requantize(want, bias)

    def finish(got, resp, manifest):
        return {"values_per_cycle": round(images.size / max(resp["cycles"], 1), 4)}

    return Comparison(conv2d_job(params, images, filt, bias), want.reshape(-1).tolist(),
                      lambda got: got.reshape(-1).tolist(), {"shape": list(want.shape)},
                      finish=finish)

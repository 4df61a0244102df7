"""Tile streams for the Winograd and direct 3x3 engines, and their scoreboard."""

import numpy as np

from .payload import pack, port, unpack
from .runner import run_testbench

__all__ = ["run_tiles", "run_conv2d"]


def run_tiles(gen_dir, manifest, params, tiles, filters, *, sim="verilator", seed=1, idle=0.1,
              backpressure=0.1):
    """Stream ``tiles (N, C, 4, 4)`` with ``filters (N, C, 3, 3)``; return ``(N, 2, 2)``.
    (1-D engines: tiles ``(N, C, 4)``, filters ``(N, C, 3)``, results ``(N, 2)``.)

    The filter words are ``U' = G' g G'^T`` for an offline Winograd engine (computed by the
    golden model, as the generator would), else the raw ``g``.
    """
    tiles = np.asarray(tiles, dtype=np.int64)
    filters = np.asarray(filters, dtype=np.int64)
    n, c = tiles.shape[:2]
    offline = getattr(params, "filter_transform", None) == "offline"
    words = np.stack([params.transform_filter(f) for f in filters]) if offline else filters
    words = words.reshape(n * c, -1)
    flat = tiles.reshape(n * c, -1)
    fields = {f"d{k}": flat[:, k].tolist() for k in range(flat.shape[1])}
    fields.update({f"f{k}": words[:, k].tolist() for k in range(words.shape[1])})
    fields["first"] = [int(b % c == 0) for b in range(n * c)]
    fields["last"] = [int(b % c == c - 1) for b in range(n * c)]
    beats = pack(port(manifest, "i__payload"), **fields)
    spec = {"mode": "stream", "in": "i", "out": "o", "beats": beats, "expect": n,
            "seed": seed, "idle": idle, "backpressure": backpressure,
            "calm_beats": 3 * c + 8}  # calm long enough to see whole sums: exact latency
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    out = unpack(port(manifest, "o__payload"), resp["out"])
    words = len(out)
    got = np.array([[int(out[f"y{k}"][i]) for k in range(words)]
                    for i in range(len(resp["out"]))], dtype=np.int64)
    return got.reshape(-1, *params.output_shape), resp


def run_conv2d(gen_dir, manifest, params, images, filt, *, sim="verilator", seed=1, idle=0.1,
               backpressure=0.1):
    """Load ``filt (C, 3, 3)``, stream ``images (N, C, H, W)`` back to back through the
    Conv2dLayer; returns ``(feature maps (N, Ho, Wo), response)`` (``None`` for the maps if
    the count of pixels or the ``last`` flags are wrong: the caller reports the response)."""
    images = np.asarray(images, dtype=np.int64)
    n = len(images)
    words = params.filter_image(filt)
    drive = {"f_addr": list(range(len(words))), "f_data": words, "f_en": [1] * len(words)}
    flat = images.transpose(0, 2, 3, 1).reshape(-1)  # raster order, channels innermost
    beats = pack(port(manifest, "i__payload"), x=flat.tolist())
    ho, wo = params.output_shape
    spec = {"mode": "stream", "in": "i", "out": "o", "beats": beats, "expect": n * ho * wo,
            "seed": seed, "idle": idle, "backpressure": backpressure,
            "preload": {"drive": drive, "n": len(words)}}
    resp = run_testbench(gen_dir, manifest, spec, sim=sim, seed=seed)
    out = unpack(port(manifest, "o__payload"), resp["out"])
    if len(resp["out"]) != n * ho * wo:
        return None, resp
    lasts = np.flatnonzero(np.asarray(out["last"], dtype=np.int64))
    if not np.array_equal(lasts, np.arange(1, n + 1) * ho * wo - 1):
        return None, resp
    return np.asarray(out["y"], dtype=np.int64).reshape(n, ho, wo), resp

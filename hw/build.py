"""Verilog and manifest generation, written atomically, cached per parameter set."""

import dataclasses
import hashlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Const, Value
from amaranth.lib.wiring import In
from filelock import FileLock

from .ports import payload_fields
from .units import Unit, get_unit

__all__ = ["elaborate", "manifest", "write_outputs", "generated", "cache_root", "atomic_dir"]

# What the generated Verilog and manifest depend on: the hardware (the registry and this module
# included) and golden, whose parameter objects the hardware is built from. Golden also holds
# the adapters and compare front-ends, so editing one of those rebuilds too: safe, if slower.
_SOURCES = {"hw": ("*.py",), "golden": ("*.py",)}


def elaborate(unit, params):
    return unit.component(params)


def _port_entry(path, member, value, fields):
    value_cast = Value.cast(value)
    name = "__".join(str(p) for p in path)
    entry = {
        "name": name,
        "dir": "in" if member.flow == In else "out",
        "width": len(value_cast),
        "signed": value_cast.shape().signed,
    }
    if name in fields:
        entry["fields"] = fields[name]
    return entry


def manifest(unit, params, component, verilog_text):
    """What every consumer of a generated unit needs: params, ports, latency, widths."""
    # A purely combinational unit has no clock or reset port.
    ports = [{"name": name, "dir": "in", "width": 1, "signed": False}
             for name in ("clk", "rst") if f"input {name};" in verilog_text]
    fields = payload_fields(component)
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, Const):
            continue
        ports.append(_port_entry(path, member, value, fields))
    out = {
        "unit": unit.name,
        "top": unit.top,
        "verilog": f"{unit.top}.v",
        "params": dataclasses.asdict(params),
        "ports": ports,
        "source_hash": source_hash(),
    }
    for attr in ("latency", "widths", "stages"):
        if hasattr(component, attr):
            value = getattr(component, attr)
            out[attr] = list(value) if isinstance(value, tuple) else value
    if getattr(component, "unit_map", None) is not None:  # a unit behind the host link
        out["unit_map"] = component.unit_map.to_dict()
    return out


def source_hash():
    """Hash of the generator's own sources, so a cache never outlives a code change."""
    h = hashlib.sha256()
    for d, patterns in _SOURCES.items():
        base = Path(importlib.import_module(f"lowbit.{d}").__file__).parent
        for f in sorted({f for pattern in patterns for f in base.glob(pattern)}):
            h.update(f"{d}/{f.name}".encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class atomic_dir:
    """Context manager: build into a temporary sibling, then move each file into ``target``.

    Nothing lands in ``target`` unless the block finishes without an exception.
    """

    def __init__(self, target):
        self.target = Path(target)

    def __enter__(self):
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.target.mkdir(parents=True, exist_ok=True)
                for f in sorted(self.tmp.rglob("*")):
                    if f.is_file():
                        dest = self.target / f.relative_to(self.tmp)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(f, dest)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False


def write_outputs(unit, params, outdir):
    """Write ``<top>.v`` and ``<top>.json`` into ``outdir``; return the manifest."""
    component = elaborate(unit, params)
    text = verilog.convert(component, name=unit.top, emit_src=False)
    man = manifest(unit, params, component, text)
    with atomic_dir(outdir) as tmp:
        (tmp / man["verilog"]).write_text(text)
        (tmp / f"{unit.top}.json").write_text(json.dumps(man, indent=2) + "\n")
    return man


def cache_root():
    return Path(os.environ.get("LOWBIT_CACHE", Path.cwd() / ".lowbit-cache"))


def params_key(unit, params):
    blob = json.dumps({"unit": unit.name, "params": dataclasses.asdict(params),
                       "src": source_hash()}, sort_keys=True)
    return f"{unit.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def generated(unit_name, params):
    """The generated Verilog and manifest for one parameter set, built once and reused.

    ``unit_name`` is a unit's name or a :class:`~lowbit.hw.units.Unit` (such as
    :func:`~lowbit.hw.units.hosted_unit`'s). Returns ``(directory, manifest)``. Safe under
    pytest-xdist: a file lock serializes the first build of each key.
    """
    unit = unit_name if isinstance(unit_name, Unit) else get_unit(unit_name)
    d = cache_root() / "gen" / params_key(unit, params)
    man_path = d / f"{unit.top}.json"
    d.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(d) + ".lock"):
        if not man_path.exists():
            write_outputs(unit, params, d)
    return d, json.loads(man_path.read_text())

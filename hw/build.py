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

from .popcount import vendor_models
from .ports import payload_fields
from .units import Unit, get_unit

__all__ = ["elaborate", "manifest", "write_outputs", "generated", "cache_root", "atomic_dir",
           "scratch_dir", "process_tmp", "check_output_dir", "OUTPUT_MARK"]

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


#: The file every output directory lowbit writes holds: a re-run may replace such a directory
#: as a whole; a directory without it that holds files is the user's, and is refused.
OUTPUT_MARK = ".lowbit-output"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_orphans(folder, pattern, pid_of):
    """Remove the entries of ``folder`` matching ``pattern`` whose owner process is gone:
    ``pid_of(name)`` gives the owner's PID as text, or None for an entry that is not ours
    (a lowbit killed by SIGKILL or a power cut leaves such entries)."""
    try:
        entries = list(Path(folder).glob(pattern))
    except OSError:
        return
    for path in entries:
        pid = pid_of(path.name)
        if pid is not None and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _sweep_stale(parent, name):
    """Remove the temporary siblings ``.NAME.tmp-PID-*`` and ``.NAME.work-PID-*`` of processes
    that are gone."""
    def pid_of(entry):
        kind, _, rest = entry[len(name) + 2:].partition("-")
        return rest.partition("-")[0] if kind in ("tmp", "work") else None
    _remove_orphans(parent, f".{name}.*-*-*", pid_of)


def _lowbit_output(path):
    """Whether directory ``path`` is an earlier output of lowbit: it holds
    :data:`OUTPUT_MARK`, or (written before there was one) a synth report or a manifest."""
    if (path / OUTPUT_MARK).exists():
        return True
    for f in list(path.glob("*.json"))[:8]:
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and ("report_version" in info
                                       or {"source_hash", "ports"} <= info.keys()):
            return True
    return False


def check_output_dir(target, *, whole=True):
    """Refuse, as a :class:`~lowbit.golden.checks.UsageError`, an output directory that is a
    file, or (``whole``: lowbit replaces it as a whole) a directory that holds files lowbit did
    not write. Called before any work, so bad input costs nothing."""
    from ..golden.checks import UsageError

    target = Path(target)
    if target.exists() and not target.is_dir():
        raise UsageError(f"output directory {str(target)!r} is a file; give a directory")
    if whole and target.is_dir() and not _lowbit_output(target):
        try:
            foreign = next(target.iterdir(), None)
        except OSError as exc:
            raise UsageError(f"cannot use output directory {str(target)!r}: {exc}") from None
        if foreign is not None:
            raise UsageError(
                f"output directory {str(target)!r} holds files lowbit did not write (such as "
                f"{foreign.name!r}); a run replaces its output directory as a whole, so give a "
                f"new or empty one")
    for up in [target, *target.absolute().parents]:
        if up.exists():
            if not up.is_dir():
                raise UsageError(f"output directory {str(target)!r} cannot be made: "
                                 f"{str(up)!r} is a file")
            if not os.access(up, os.W_OK | os.X_OK):
                raise UsageError(f"output directory {str(target)!r} cannot be written: no "
                                 f"permission in {str(up)!r}")
            break


class atomic_dir:
    """Context manager: build into a temporary sibling, then put it in place of ``target``.

    Nothing lands in ``target`` unless the block finishes without an exception. ``whole``
    (the default): the new directory replaces ``target`` as a whole (a re-run leaves no file
    of the previous run behind), which must be absent, empty or an earlier output of lowbit
    (it holds :data:`OUTPUT_MARK`). ``whole=False`` (a directory shared with other outputs,
    such as ``bench/``): each file is moved in, after checking that nothing is in the way.
    The temporary sibling is named ``.TARGET.tmp-PID-*``; one left by a killed lowbit is
    removed by the next run beside it.
    """

    def __init__(self, target, *, whole=True):
        self.target = Path(target)
        self.whole = whole

    def __enter__(self):
        check_output_dir(self.target, whole=self.whole)
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from ..golden.checks import UsageError
            raise UsageError(f"cannot create output directory {str(self.target)!r}: "
                             f"{exc.strerror or exc}") from None
        _sweep_stale(self.target.parent, self.target.name)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-",
                                         dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                if self.whole:
                    self._swap()
                else:
                    self._merge()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return False

    def _swap(self):
        check_output_dir(self.target)
        (self.tmp / OUTPUT_MARK).write_text("written by lowbit: a re-run replaces this "
                                            "directory as a whole\n")
        os.chmod(self.tmp, 0o777 & ~_umask())
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-{os.getpid()}-",
                                        dir=self.target.parent))
            os.replace(self.target, old / "old")
            os.replace(self.tmp, self.target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.target)

    def _merge(self):
        from ..golden.checks import UsageError

        files = [f for f in sorted(self.tmp.rglob("*")) if f.is_file()]
        for f in files:  # all or nothing: check every destination before moving any
            dest = self.target / f.relative_to(self.tmp)
            for up in [dest, *dest.relative_to(self.target).parents]:
                p = self.target / up
                if p.exists() and (p.is_dir() if p == dest else not p.is_dir()):
                    raise UsageError(f"cannot write {str(dest)!r}: {str(p)!r} is in the way")
        self.target.mkdir(parents=True, exist_ok=True)
        for f in files:
            dest = self.target / f.relative_to(self.tmp)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dest)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


class process_tmp:
    """Context manager for a command's whole run: every temporary file of this process and
    of the tools it starts (``tempfile``, ``TMPDIR``) goes into one directory,
    ``lowbit-PID-*`` in the system's temporary folder, removed at the end. One left by a
    killed lowbit (SIGKILL) is removed by the next lowbit run."""

    def __enter__(self):
        base = Path(tempfile.gettempdir())
        _remove_orphans(base, "lowbit-*-*", lambda entry: entry.split("-")[1])
        self.path = Path(tempfile.mkdtemp(prefix=f"lowbit-{os.getpid()}-", dir=base))
        self.saved = tempfile.tempdir, os.environ.get("TMPDIR")
        tempfile.tempdir = str(self.path)
        os.environ["TMPDIR"] = str(self.path)
        return self.path

    def __exit__(self, *exc):
        tempfile.tempdir, old = self.saved
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old
        shutil.rmtree(self.path, ignore_errors=True)
        return False


class scratch_dir:
    """Context manager: a temporary work directory beside ``target`` (``.TARGET.work-PID-*``),
    removed on every exit (signals that lowbit turns into exceptions included; one left by a
    SIGKILL is removed by the next run beside it). Tools run with ``TMPDIR`` set to their
    working directory (:func:`lowbit.boards.toolchain.run_tool`), so their own scratch
    (YoWASP's) goes with it."""

    def __init__(self, target):
        self.target = Path(target)

    def __enter__(self):
        self.target.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale(self.target.parent, self.target.name)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.work-{os.getpid()}-",
                                          dir=self.target.parent))
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
        return False


def write_json(path, obj):
    """``obj`` as indented JSON at ``path``, written to a temporary file beside it and moved
    into place, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, default=str)
        f.write("\n")
    os.replace(tmp, path)


def write_outputs(unit, params, outdir):
    """Write ``<top>.v`` and ``<top>.json`` into ``outdir`` (and ``<top>_cells.v``, the
    simulation models of the vendor cells the Verilog instantiates, if any: the manifest's
    ``models``); return the manifest."""
    component = elaborate(unit, params)
    text = verilog.convert(component, name=unit.top, emit_src=False)
    man = manifest(unit, params, component, text)
    models = vendor_models(text)
    if models is not None:  # vendor cells (popcount="chain"): their simulation models
        man["models"] = [f"{unit.top}_cells.v"]
    with atomic_dir(outdir) as tmp:
        (tmp / man["verilog"]).write_text(text)
        if models is not None:
            (tmp / man["models"][0]).write_text(models)
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

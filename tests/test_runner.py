"""What every simulation's start costs (lowbit.sim.runner): the testbench's imports inside the
simulator, and the OBJCACHE hook that shares one precompiled header between Verilator builds.
No simulator runs here."""

import os
import subprocess
import sys

import pytest
from lowbit.sim.runner import _objcache_hook


def test_the_testbench_imports_neither_numpy_nor_the_driver():
    """lowbit.sim.tb runs in every simulation; numpy and the host driver (lowbit.host.device)
    were half a second of each run's start. The driver is still one import away."""
    code = ("import sys, lowbit.sim.tb; "
            "print(sorted(m for m in ('numpy', 'lowbit.host.device', 'lowbit.sim.runner') "
            "if m in sys.modules)); "
            "from lowbit.host import Device, LinkUnavailable; print(Device.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[:2] == ["[]", "lowbit.host.device"], out


def test_the_host_package_refuses_an_unknown_name():
    import lowbit.host

    with pytest.raises(AttributeError, match="has no attribute 'Devise'"):
        lowbit.host.Devise  # noqa: B018
    assert {"Device", "SerialTransport"} <= set(dir(lowbit.host))


def _hook(tmp_path):
    gen = tmp_path / "gen" / "unit-0"
    gen.mkdir(parents=True)
    hook = _objcache_hook(gen, "k")
    assert hook == _objcache_hook(gen, "k")  # written once, then reused
    return hook


def _run(hook, *args):
    # In the hook's directory: the fake compiler below writes its -o file where it runs.
    return subprocess.run([str(hook), *args], capture_output=True, text=True, check=True,
                          cwd=hook.parent).stdout.split()


def test_the_objcache_hook_s_path_is_absolute_and_plain(tmp_path, monkeypatch):
    """make runs the hook from the build directory, in a recipe that takes the path unquoted:
    a relative cache (LOWBIT_CACHE=.cache) gets an absolute path, a path with a character a
    shell would read gets no hook (the build as Verilator writes it)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel" / "gen" / "u").mkdir(parents=True)
    hook = _objcache_hook("rel/gen/u", "k")
    assert hook.is_absolute() and hook.exists()
    for name in ("o'neil", "x(1)", "a&b", "a$b", "a b"):
        (tmp_path / name / "gen" / "u").mkdir(parents=True)
        assert _objcache_hook(tmp_path / name / "gen" / "u", "k") is None, name


def test_make_gets_the_hook_through_makeflags(tmp_path, monkeypatch):
    from lowbit.sim.runner import _verilator_make_fix

    monkeypatch.setenv("MAKEFLAGS", "-s")
    with _verilator_make_fix("verilator", tmp_path / "objcache.sh"):
        flags = os.environ["MAKEFLAGS"].split()
    assert flags == ["-s", "CFG_CXXFLAGS_PCH_I=-include", "OPT_FAST=-O0",
                     f"OBJCACHE={tmp_path / 'objcache.sh'}"]
    assert os.environ["MAKEFLAGS"] == "-s"


def test_the_objcache_hook_adds_the_shared_header_to_plain_compiles_only(tmp_path):
    hook = _hook(tmp_path)
    header = str(hook.parent / "shared.h")
    (hook.parent / "shared.h.gch").write_text("")  # as if precompiled: nothing is built
    main = ["-O0", "-I.", "-MMD", "-DVM_TRACE=0", "-c", "-o", "verilator.o", "verilator.cpp"]
    assert _run(hook, "echo", *main) == ["-include", header, *main]
    # The model's own precompiled headers, the run-time objects (-Os), the linker, and the
    # precompiling of a header: as verilated.mk wrote them.
    for args in (["-O0", "-include", "Vtop__pch.h.fast", "-c", "Vtop__0.cpp"],
                 ["-Os", "-c", "-o", "verilated.o", "verilated.cpp"],
                 ["verilator.o", "Vtop__ALL.a", "-o", "top"],
                 ["-O0", "-x", "c++-header", "Vtop__pch.h", "-o", "Vtop__pch.h.fast.gch"]):
        assert _run(hook, "echo", *args) == args


def test_the_objcache_hook_precompiles_with_the_compile_s_own_flags(tmp_path):
    """The first plain compile precompiles the header with its flags but not its source,
    output and dependency file; a compiler that fails leaves no .gch (GCC then reads the
    header's text)."""
    hook = _hook(tmp_path)
    cxx = tmp_path / "cxx"
    # A compiler that records its arguments, and writes the file after -o.
    cxx.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n'
                   'while [ $# -gt 0 ]; do [ "$1" = -o ] && echo gch > "$2"; shift; done\n')
    cxx.chmod(0o755)
    _run(hook, str(cxx), "-O0", "-I.", "-MMD", "-DX=1", "-c", "-o", "a.o", "a.cpp")
    header = hook.parent / "shared.h"
    calls = (tmp_path / "calls").read_text().splitlines()
    pch_call = calls[0].split()
    assert pch_call[:-1] == ["-O0", "-I.", "-DX=1", "-x", "c++-header", str(header), "-o"]
    assert (hook.parent / "shared.h.gch").read_text() == "gch\n"
    assert calls[1].split() == ["-include", str(header), "-O0", "-I.", "-MMD", "-DX=1", "-c",
                                "-o", "a.o", "a.cpp"]
    assert [p.name for p in hook.parent.iterdir() if ".gch." in p.name] == []

    (hook.parent / "shared.h.gch").unlink()
    # A compiler that writes half a header and fails: neither the .gch nor its part stays.
    cxx.write_text('#!/bin/sh\nfor a do [ "$a" = -x ] && x=1; done\n'
                   'while [ $# -gt 0 ]; do [ "$1" = -o ] && echo half > "$2"; shift; done\n'
                   '[ -z "$x" ]\n')
    _run(hook, str(cxx), "-O0", "-c", "b.cpp")
    assert not [p.name for p in hook.parent.iterdir() if ".gch" in p.name]

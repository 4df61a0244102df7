"""Property-based tests (hypothesis) over the command line's parameter space and file inputs
(issue 15): whatever a user types or hands over, lowbit either accepts it or exits 2 with one
line naming what was wrong; nothing else is ever seen (no traceback, no other status).

Accepted inputs stop where the expensive work would start (a stand-in for the generator or
the simulator raises :class:`Reached`), so hundreds of cases take seconds; what happens after
is the other tests' business, and a small sample here runs for real through the RTL and must
match golden. Runs are derandomized (the same cases on every machine) and keep no example
database (nothing written into the checkout). ``FUZZ_CASES`` counts the cases each test ran:
``pytest tests/test_fuzz.py -s`` prints them.
"""

import dataclasses
import io
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lowbit.gen.cli import main
from lowbit.gen.compare import compare_units
from lowbit.hw.units import UNITS

SETTINGS = dict(database=None, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

FUZZ_CASES = {}


class Reached(Exception):
    """The input was accepted: the generator or the simulator was about to run."""


def _count(name, outcome):
    cases = FUZZ_CASES.setdefault(name, {"accepted": 0, "refused": 0})
    cases[outcome] += 1


def _outcome(argv, capsys):
    """``"accepted"`` or ``"refused"`` (exit 2, one line, no traceback); anything else fails."""
    try:
        status = main(argv)
    except Reached:
        capsys.readouterr()
        return "accepted"
    err = capsys.readouterr().err
    assert status == 2, (argv, status, err)
    assert err.count("\n") == 1 and ": error: " in err and "Traceback" not in err, (argv, err)
    return "refused"


# --- parameters -----------------------------------------------------------------------------

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " -_.=x", max_size=12)
_VALUES = st.one_of(
    st.integers(-3, 70).map(str),                        # around every small range's ends
    st.sampled_from([1023, 1024, 1025, 4095, 4096, 4097, 16384, 65535, 65536, 1 << 24,
                     (1 << 24) + 1, 2 ** 63, 2 ** 64 - 1, 2 ** 64, -2 ** 63]).map(str),
    st.integers(-10 ** 30, 10 ** 30).map(str),           # huge and negative
    st.sampled_from(["0x10", "0b101", "1_000", "true", "false", "yes", "off", "nan", "inf",
                     "1.5", "1e3", "", " 7 ", "nearest", "stochastic", "onchip", "valid",
                     "same", "plain", "tree", "packed"]),
    _TEXT,
)


#: The values of the string parameters (anything else is refused).
_CHOICES = {"rounding": ["truncate", "nearest", "nearest_even", "stochastic"],
            "style": ["tree", "plain", "packed"], "filter_transform": ["offline", "onchip"],
            "padding": ["valid", "same"], "popcount": ["tree", "packed"],
            "operands": ["words", "planes"]}


def _plausible(field):
    """Values near the field's default, mostly valid: what a user tuning a design types."""
    d = field.default
    if isinstance(d, bool):
        return st.sampled_from(["true", "false", "1", "0"])
    if isinstance(d, int):
        near = st.sampled_from([d, d, d + 1, max(d - 1, 0), d // 2, 2 * d])
        return st.one_of(near, near, near, st.integers(0, 2 * d + 4), st.integers(1, 64)).map(str)
    return st.sampled_from(_CHOICES.get(field.name, [d]))


def _items(unit):
    """A few ``key=value`` items: mostly each a distinct parameter with a plausible value,
    sometimes a value from anywhere, a repeated or unknown key, or junk."""
    fields = dataclasses.fields(UNITS[unit].params_cls)
    good = st.sampled_from(fields).flatmap(
        lambda f: st.one_of(_plausible(f), _plausible(f), _plausible(f), _VALUES)
        .map(lambda v, f=f: f"{f.name}={v}"))
    bad = st.one_of(st.builds(lambda k, v: f"{k}={v}",
                              st.sampled_from(["", "colour", fields[0].name.upper()]), _VALUES),
                    _TEXT)
    distinct = st.lists(good, max_size=4, unique_by=lambda item: item.partition("=")[0])
    return st.one_of(distinct, distinct, distinct, st.lists(st.one_of(good, bad), max_size=5))


@pytest.mark.parametrize("unit", list(UNITS))
def test_generate_parameters(unit, tmp_path, monkeypatch, capsys):
    """``lowbit generate UNIT -p ...`` with fuzzed items: accepted parameters reach the
    generator, every other set is refused in one line; the output folder stays empty."""
    def generator(unit, params, out):
        raise Reached

    monkeypatch.setattr("lowbit.hw.build.write_outputs", generator)
    out = tmp_path / "out"

    @settings(max_examples=40, **SETTINGS)
    @given(items=_items(unit))
    def run(items):
        argv = ["generate", unit, *[a for i in items for a in ("-p", i)], "-o", str(out)]
        _count(f"generate {unit}", _outcome(argv, capsys))
        assert not out.exists()

    run()


# --- input files ----------------------------------------------------------------------------

_DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
           "float16", "float32", "float64", "complex64", "<U3", "S2"]


@st.composite
def _arrays(draw, max_dims=4):
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=max_dims)))
    n = int(np.prod(shape))
    if dtype.kind in "US":
        return np.array(draw(st.lists(_TEXT, min_size=n, max_size=n)) or [""],
                        dtype=dtype)[:n].reshape(shape)
    if dtype.kind == "b":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                        dtype=bool).reshape(shape)
    if dtype.kind in "fc":
        values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32),
                           st.integers(-300, 300).map(float))
    else:
        info = np.iinfo(dtype)
        values = st.one_of(st.integers(int(info.min), int(info.max)),
                           st.integers(max(int(info.min), -2), 3))
    with np.errstate(all="ignore"):  # float32 values beyond float16: inf, as a user's file has
        return np.array(draw(st.lists(values, min_size=n, max_size=n)),
                        dtype=object).astype(dtype).reshape(shape)


@st.composite
def _files(draw):
    """Bytes of a ``.npy`` file: a fuzzed array, sometimes cut or with a byte changed."""
    buf = io.BytesIO()
    np.save(buf, draw(_arrays()), allow_pickle=False)
    data = buf.getvalue()
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "byte"]))
    if damage == "cut":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif damage == "byte":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    return data


def _ints(lo, hi, shape):
    n = int(np.prod(shape))
    return st.lists(st.integers(lo, hi), min_size=n, max_size=n).map(
        lambda v: np.array(v, dtype=np.int64).reshape(shape))


def _bits(shape):
    return _ints(0, 1, shape)


@st.composite
def _valid_like(draw, unit):
    """Arrays of the shapes and ranges the unit takes at its defaults (``"input"`` and the
    file options by flag), the values drawn: most of them valid."""
    n = draw(st.integers(1, 5))
    c = draw(st.integers(1, 2))
    small = (-8, 7)
    if unit == "mac":
        return {"input": draw(st.lists(st.floats(-4, 4), min_size=2 * n, max_size=2 * n)
                              .map(lambda v: np.array(v).reshape(n, 2)))}
    if unit == "popcount":
        return {"input": draw(_bits((n, 64)))}
    if unit == "xnor":
        return {"input": draw(_bits((n, 2, draw(st.integers(1, 40)))))}
    if unit == "bmvu":
        return {"input": draw(_bits((n, 64))), "--weights": draw(_bits((16, 64))),
                "--thresholds": draw(_ints(-64, 64, (16, 1))),
                "--invert": draw(_bits((16,)))}
    if unit == "bnn":
        return {"input": draw(_bits((n, 64)))}
    if unit == "winograd1d":
        return {"input": draw(_ints(*small, (n, c, 4))), "--filter": draw(_ints(*small, (c, 3)))}
    if unit in ("winograd2d", "direct3x3"):
        return {"input": draw(_ints(*small, (n, c, 4, 4))),
                "--filter": draw(_ints(*small, (c, 3, 3)))}
    if unit == "conv2d":
        h, w, k = draw(st.integers(3, 6)), draw(st.integers(3, 6)), draw(st.integers(1, 3))
        return {"input": draw(_ints(*small, (h, w))),
                "--filter": draw(_ints(*small, (k, 1, 3, 3) if k > 1 else (3, 3)))}
    if unit == "dpu":
        return {"input": draw(_bits((n, 2, 16))), "--shift": draw(_ints(0, 3, (n,))),
                "--negate": draw(_bits((n,)))}
    if unit == "p2s":
        return {"input": draw(_ints(0, 255, (n, 8)))}
    if unit == "bitserial":
        k = draw(st.integers(1, 8))
        return {"input": draw(_ints(*small, (n, k))), "--rhs": draw(_ints(*small, (k, c)))}
    if unit == "systolic":
        k = draw(st.integers(1, 8))
        return {"input": draw(st.lists(st.floats(-8, 8), min_size=n * k, max_size=n * k)
                              .map(lambda v: np.array(v).reshape(n, k))),
                "--rhs": draw(_ints(-(1 << 15), (1 << 15) - 1, (k, c)))}
    raise AssertionError(unit)


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


@pytest.mark.parametrize("unit", compare_units())
def test_compare_input_files(unit, tmp_path, monkeypatch, capsys):
    """``lowbit compare UNIT --input F [--filter G ...]`` with fuzzed files (any dtype and
    shape, extreme values, NaN, truncated or altered bytes): accepted input reaches the
    simulator with its golden results computed, every other is refused in one line."""
    def simulator(*args, **kwargs):
        raise Reached

    monkeypatch.setattr("lowbit.gen.compare.run_unit", simulator)

    @settings(max_examples=30, **SETTINGS)
    @given(arrays=_valid_like(unit), data=st.data())
    def run(arrays, data):
        argv = ["compare", unit]
        for k, (flag, arr) in enumerate(arrays.items()):
            # Each file: as drawn (mostly valid), left out, or replaced by a fuzzed one.
            what = data.draw(st.sampled_from(["kept"] * 6 + ["omitted", "fuzzed"]))
            if what == "omitted" and flag != "input":
                continue
            f = tmp_path / f"file{k}.npy"
            f.write_bytes(data.draw(_files()) if what == "fuzzed" else _npy(arr))
            argv += ["--input" if flag == "input" else flag, str(f)]
        _count(f"compare {unit}", _outcome(argv, capsys))

    run()


# --- accepted input, for real ---------------------------------------------------------------

@pytest.mark.sim
def test_a_sample_of_accepted_input_matches_golden(tmp_path, capsys):
    """A few fuzzed valid inputs through the RTL (popcount at its 64-bit default, so one
    simulation build serves them all): exit 0, no mismatch."""
    @settings(max_examples=4, **SETTINGS)
    @given(bits=st.lists(st.lists(st.integers(0, 1), min_size=64, max_size=64), min_size=1,
                         max_size=40),
           dtype=st.sampled_from(["bool", "uint8", "int64", "uint64"]))
    def run(bits, dtype):
        _count("compare popcount, through the RTL", "accepted")
        f = tmp_path / "bits.npy"
        np.save(f, np.array(bits).astype(dtype))
        assert main(["compare", "popcount", "--input", str(f)]) == 0
        assert "RTL vs golden mismatches: 0" in capsys.readouterr().out

    run()


def teardown_module():
    if FUZZ_CASES:
        total = sum(sum(c.values()) for c in FUZZ_CASES.values())
        print(f"\nfuzzed cases: {total}")
        for name, cases in FUZZ_CASES.items():
            print(f"  {name}: {cases['accepted']} accepted, {cases['refused']} refused")

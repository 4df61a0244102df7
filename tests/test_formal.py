"""Formal proofs that Popcount counts the ones of every input word, and that they can fail.

The reference is Verilog text written by :mod:`lowbit.sim.formal` (a ripple sum or a balanced
binary tree of the bits), never :mod:`lowbit.hw.popcount`. Each proof runs in its own
``tmp_path``; the logs named in a failure message are there.
"""

import pytest
from lowbit.golden.binary import PopcountParams
from lowbit.hw.build import generated
from lowbit.sim.formal import (
    ProofResult,
    prove_combinational,
    prove_pipeline,
    prove_popcount,
    reference_verilog,
)

pytestmark = [pytest.mark.sim, pytest.mark.binary, pytest.mark.rtl]

# Widths: 1, powers of two, +-1 around them, odd ones, and two beyond 64 (STYLE 8).
TREE_N = [1, 2, 3, 5, 7, 8, 9, 16, 31, 32, 33, 63, 64, 100, 128]
PLAIN_N = [1, 7, 32, 33, 64]
# (n, spacing): spacings 1 to 3, latencies 1 to 5 (n=33, spacing=1).
PIPELINED = [(2, 1), (3, 1), (9, 2), (33, 1), (64, 2), (64, 3), (100, 3)]


def _check(result):
    assert isinstance(result, ProofResult)
    assert result.proved, result.summary()


@pytest.mark.parametrize("n", TREE_N, ids=[f"n{n}" for n in TREE_N])
def test_tree_combinational_proved(n, tmp_path):
    _check(prove_popcount(PopcountParams(n=n, spacing=0), tmp_path))


@pytest.mark.parametrize("n", PLAIN_N, ids=[f"n{n}" for n in PLAIN_N])
def test_plain_proved(n, tmp_path):
    _check(prove_popcount(PopcountParams(n=n, style="plain"), tmp_path))


# style="packed": the smallest packed widths (6: one 6:3 counter; 8, 9: one chain with a
# carry-in guard), odd ones and wider ones with several guards a chain.
# At spacing 1 the pair counts' register moves to the count (hw.popcount.popcount_packed).
PACKED_N = [(6, 2), (8, 2), (9, 2), (12, 2), (13, 2), (17, 2), (33, 2), (64, 2), (100, 2),
            (9, 1), (33, 1)]


@pytest.mark.parametrize("n,spacing", PACKED_N, ids=[f"n{n}-s{s}" for n, s in PACKED_N])
def test_packed_proved(n, spacing, tmp_path):
    """Pair counts, 6:3 counters and packed carry chains count every input word, and the
    pipelined packed tree equals the combinational one."""
    result = prove_popcount(PopcountParams(n=n, spacing=spacing, style="packed"), tmp_path)
    _check(result)
    assert [s.status for s in result.steps] == ["proved", "proved"], result.summary()


@pytest.mark.parametrize("n,spacing", PIPELINED, ids=[f"n{n}-s{s}" for n, s in PIPELINED])
def test_pipelined_proved(n, spacing, tmp_path):
    params = PopcountParams(n=n, spacing=spacing)
    result = prove_popcount(params, tmp_path)
    _check(result)
    # Both steps ran: the tree for all inputs, then the pipeline against it.
    assert [s.status for s in result.steps] == ["proved", "proved"], result.summary()
    assert generated("popcount", params)[1]["latency"] >= 1


@pytest.mark.parametrize("n,spacing", [(8, 1), (33, 2)], ids=["n8-s1", "n33-s2"])
def test_back_pressure_bounded(n, spacing, tmp_path):
    latency = generated("popcount", PopcountParams(n=n, spacing=spacing))[1]["latency"]
    result = prove_popcount(PopcountParams(n=n, spacing=spacing), tmp_path,
                            stall_depth=latency + 3)
    _check(result)
    assert len(result.steps) == 3, result.summary()


@pytest.mark.parametrize("n", [5, 16])
def test_engines_agree(n, tmp_path):
    gen_dir, man = generated("popcount", PopcountParams(n=n, spacing=0))
    for engine in ("sat", "bdd"):
        _check(prove_combinational(gen_dir, man, tmp_path / engine, engine=engine))


@pytest.mark.parametrize("n", [9, 64])
def test_balanced_reference_proved(n, tmp_path):
    ref = reference_verilog(n, structure="balanced")
    _check(prove_popcount(PopcountParams(n=n, spacing=0), tmp_path, reference=ref))


# -- the proofs can fail ------------------------------------------------------------------------

def test_fails_on_one_wrong_word(tmp_path):
    # Wrong for 1 word in 2**64: no random simulation would find it, the proof must.
    word = 0xDEAD_BEEF_CAFE_1234
    result = prove_popcount(PopcountParams(n=64, spacing=0), tmp_path,
                            reference=reference_verilog(64, wrong_word=word))
    assert result.status == "failed", result.summary()
    cex = result.counterexample
    assert cex["inputs"]["i__payload"] == word, result.summary()
    # Replayed on the netlist without ABC: the unit is right, the reference is one too many.
    assert cex["dut"] == bin(word).count("1"), result.summary()
    assert cex["reference"] == cex["dut"] + 1, result.summary()
    assert "FAIL" in result.tail


@pytest.mark.parametrize("engine", ["bdd", "sat"])
def test_fails_on_reference_missing_a_bit(engine, tmp_path):
    n, bit = 33, 17
    gen_dir, man = generated("popcount", PopcountParams(n=n, spacing=0))
    result = prove_combinational(gen_dir, man, tmp_path, engine=engine,
                                 reference=reference_verilog(n, ignore_bit=bit))
    assert result.status == "failed", result.summary()
    word = result.counterexample["inputs"]["i__payload"]
    assert word >> bit & 1, result.summary()
    assert result.counterexample["dut"] == bin(word).count("1"), result.summary()
    assert result.counterexample["reference"] == bin(word).count("1") - 1, result.summary()


def _mutant(tmp_path, params, old, new, count=1):
    """A copy of the generated unit with ``old`` replaced (``count`` times; -1: all)."""
    gen_dir, man = generated("popcount", params)
    text = (gen_dir / man["verilog"]).read_text()
    assert old in text, f"mutation target {old!r} not in the generated Verilog"
    out = tmp_path / "mutant"
    out.mkdir()
    (out / man["verilog"]).write_text(text.replace(old, new, count))
    return out, man


def test_fails_on_wrong_hardware(tmp_path):
    # Bit 4 counted twice, bit 5 never: right for every word with bits 4 and 5 equal.
    mut_dir, man = _mutant(tmp_path, PopcountParams(n=16, spacing=0),
                           "i__payload[5]", "i__payload[4]")
    result = prove_combinational(mut_dir, man, tmp_path / "proof")
    assert result.status == "failed", result.summary()
    word = result.counterexample["inputs"]["i__payload"]
    assert (word >> 4 & 1) != (word >> 5 & 1), result.summary()
    assert result.counterexample["dut"] != result.counterexample["reference"]


@pytest.mark.parametrize("delta", [1, -1], ids=["late", "early"])
def test_fails_on_wrong_latency(delta, tmp_path):
    params = PopcountParams(n=33, spacing=1)
    gen_dir, man = generated("popcount", params)
    comb_dir, comb_man = generated("popcount", PopcountParams(n=33, spacing=0))
    result = prove_pipeline(gen_dir, man, comb_dir, comb_man, tmp_path,
                            latency=man["latency"] + delta)
    assert result.status == "failed", result.summary()
    assert result.counterexample["trace"].endswith(".vcd")


def test_stall_check_catches_ignored_back_pressure(tmp_path):
    # Registers that advance every cycle: right while o.ready is high, wrong under a stall.
    # The stream proof must pass and the bounded back-pressure check must fail.
    params = PopcountParams(n=9, spacing=1)
    mut_dir, man = _mutant(tmp_path, params, "if (i__ready) begin", "if (1'h1) begin", -1)
    comb_dir, comb_man = generated("popcount", PopcountParams(n=9, spacing=0))
    stream = prove_pipeline(mut_dir, man, comb_dir, comb_man, tmp_path / "stream")
    assert stream.proved, stream.summary()
    stall = prove_pipeline(mut_dir, man, comb_dir, comb_man, tmp_path / "stall", mode="stall")
    assert stall.status == "failed", stall.summary()


def test_combinational_proof_refuses_registers(tmp_path):
    gen_dir, man = generated("popcount", PopcountParams(n=8, spacing=1))
    result = prove_combinational(gen_dir, man, tmp_path)
    assert result.status == "error", result.summary()
    assert "has registers" in result.tail and "selection is not empty" in result.tail, \
        result.summary()


def test_summary_shows_log_tail(tmp_path):
    result = prove_popcount(PopcountParams(n=8, spacing=0), tmp_path,
                            reference=reference_verilog(8, ignore_bit=0))
    text = result.summary()
    assert "FAILED" in text and "last lines of the log" in text and "i__payload=" in text


@pytest.mark.parametrize("kwargs,message", [
    ({"n": 0}, "n must be an integer >= 1, not 0"),
    ({"n": 8, "width": 3}, "width must hold a count up to n = 8, not 3"),
    ({"n": 8, "structure": "wallace"}, "structure must be 'chain' or 'balanced', not 'wallace'"),
    ({"n": 8, "ignore_bit": 8}, "ignore_bit must be between 0 and 7, not 8"),
    ({"n": 4, "wrong_word": 16}, "wrong_word must be a word of 4 bits, not 16"),
])
def test_reference_parameters_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        reference_verilog(**kwargs)


def test_prove_parameters_checked(tmp_path):
    gen_dir, man = generated("popcount", PopcountParams(n=8, spacing=0))
    with pytest.raises(ValueError, match="engine must be one of 'bdd', 'sat', not 'cdcl'"):
        prove_combinational(gen_dir, man, tmp_path, engine="cdcl")
    with pytest.raises(ValueError, match="stall_depth must be an integer >= 0, not -1"):
        prove_popcount(PopcountParams(n=8), tmp_path, stall_depth=-1)
    with pytest.raises(ValueError, match="mode must be 'stream' or 'stall', not 'both'"):
        prove_pipeline(gen_dir, man, gen_dir, man, tmp_path, mode="both")


def test_timeout_reported(tmp_path):
    gen_dir, man = generated("popcount", PopcountParams(n=8, spacing=0))
    result = prove_combinational(gen_dir, man, tmp_path, timeout=0.01)
    assert result.status == "timeout", result.summary()
    assert not result.proved

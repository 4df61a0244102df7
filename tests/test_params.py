"""Every parameter rule has a test that asserts its message."""

import pytest
from lowbit.golden import LFSRParams, MACParams
from lowbit.golden.checks import UsageError, parse_params
from lowbit.hw.units import get_unit


@pytest.mark.parametrize("kwargs,message", [
    ({"il_a": 0}, "il_a must be >= 1 (it counts the sign bit), not 0"),
    ({"il_b": -3}, "il_b must be >= 1 (it counts the sign bit), not -3"),
    ({"il_o": 0}, "il_o must be >= 1"),
    ({"fl_a": -1}, "fl_a must be >= 0, not -1"),
    ({"fl_o": -2}, "fl_o must be >= 0, not -2"),
    ({"il_a": 20, "fl_a": 13}, "word length il_a + fl_a must be <= 32, not 20 + 13 = 33"),
    ({"il_o": 1, "fl_o": 32}, "word length il_o + fl_o must be <= 32"),
    ({"rounding": "up"}, "rounding must be one of 'truncate', 'nearest', 'nearest_even', "
                         "'stochastic', not 'up'"),
    ({"guard": 33}, "guard must be between 0 and 32, not 33"),
    ({"guard": -1}, "guard must be between 0 and 32, not -1"),
    ({"pipeline": 5}, "pipeline must be between 0 and 4, not 5"),
    ({"carry_chain": 3}, "carry_chain must be 0 (no cut) or between 4 and 128, not 3"),
    ({"carry_chain": -1}, "carry_chain must be 0 (no cut) or between 4 and 128, not -1"),
    ({"lfsr_width": 1}, "lfsr_width must be between 2 and 64, not 1"),
    ({"lfsr_width": 65}, "lfsr_width must be between 2 and 64, not 65"),
    ({"lfsr_width": 8, "r_bits": 9}, "r_bits must be between 1 and lfsr_width = 8"),
    ({"r_bits": 0}, "r_bits must be between 1 and lfsr_width = 16"),
    ({"seed": 0}, "seed must not be 0: the all-zero LFSR state locks up"),
    ({"lfsr_width": 4, "r_bits": 4, "seed": 16},
     "seed must be between 1 and 2**lfsr_width - 1 = 15"),
])
def test_mac_param_rules(kwargs, message):
    with pytest.raises(ValueError) as exc:
        MACParams(**kwargs)
    assert message in str(exc.value)


@pytest.mark.parametrize("kwargs,message", [
    ({"il_a": 1.5}, "il_a must be an integer, not 1.5"),
    ({"guard": "8"}, "guard must be an integer, not '8'"),
    ({"round_products": 1}, "round_products must be a boolean, not 1"),
])
def test_mac_param_types(kwargs, message):
    with pytest.raises(TypeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        MACParams(**kwargs)


def test_lfsr_param_rules():
    with pytest.raises(ValueError, match="width must be between 2 and 64, not 70"):
        LFSRParams(width=70)
    with pytest.raises(ValueError, match="seed must not be 0"):
        LFSRParams(seed=0)
    with pytest.raises(ValueError, match="r_bits must be between 1 and width = 8"):
        LFSRParams(width=8, r_bits=12)


def test_parse_params_from_cli_strings():
    unit = get_unit("mac")
    p = parse_params(unit, ["il_a=2", "fl_a=0x6", "rounding=stochastic", "saturate=false"])
    assert (p.il_a, p.fl_a, p.rounding, p.saturate) == (2, 6, "stochastic", False)


@pytest.mark.parametrize("items,message", [
    (["bogus=1"], "unknown parameter 'bogus' for unit mac; allowed: il_a, fl_a"),
    (["il_a"], "parameter 'il_a' must be written key=value"),
    (["il_a=four"], "parameter il_a must be an integer, not 'four'"),
    (["saturate=maybe"], "parameter saturate must be true or false, not 'maybe'"),
    (["seed=0"], "mac: seed must not be 0"),
])
def test_parse_params_errors(items, message):
    with pytest.raises(UsageError) as exc:
        parse_params(get_unit("mac"), items)
    assert message in str(exc.value)


def test_unknown_unit():
    with pytest.raises(UsageError, match="unknown unit 'conv'; choose one of: mac, lfsr"):
        get_unit("conv")

"""``lowbit compare``: a user's data through the RTL simulation and the golden model.

Unit by unit, the registry says how the data is read (:attr:`lowbit.hw.units.Unit.compare`,
a :class:`~lowbit.golden.job.UserData`): its ``prepare`` checks the arrays, computes the golden
results and makes the :class:`~lowbit.golden.job.Job`; this module runs the job in simulation
and reports, the same way for every unit.
"""

import dataclasses

import numpy as np

from ..golden.checks import UsageError
from ..hw.units import UNITS
from ..sim.runner import run_unit
from ..sim.score import score

__all__ = ["compare", "compare_units", "shape_params", "check_options", "OPTIONS",
           "OPTION_FLAGS"]

#: Every option some unit's compare takes, with the units that take it.
OPTIONS = {opt: tuple(n for n, u in UNITS.items() if u.compare and opt in u.compare.options)
           for opt in dict.fromkeys(o for u in UNITS.values() if u.compare
                                    for o in u.compare.options)}

#: The command-line spelling of options whose name is not ``--<name>``.
OPTION_FLAGS = {"filt": "--filter", "a_signed": "--a-signed/--a-unsigned",
                "b_signed": "--b-signed/--b-unsigned", "beats_per_sum": "--beats-per-sum"}

#: A result that never arrived (lost, or its ``last`` flag misplaced): every one mismatches.
_LOST = np.iinfo(np.int64).min


def compare_units():
    """The units ``lowbit compare`` takes."""
    return [name for name, u in UNITS.items() if u.compare is not None]


def shape_params(unit, arr, items, **files):
    """The ``-p`` items for ``unit`` with the parameters its input's shape implies added where
    the user did not give them (:attr:`~lowbit.golden.job.UserData.shape_params`); ``files``
    are the other loaded arrays by option name (``rhs=``...)."""
    hook = unit.compare.shape_params if unit.compare else None
    return hook(arr, list(items), **files) if hook else list(items)


def compare(unit, params, arr, *, sim="verilator", seed=1, **options):
    """Run the user's ``arr`` (and the other arrays and options of ``options``) through the
    generated RTL of ``unit`` and through its golden model; returns the report dict."""
    prep = unit.compare.prepare(params, arr, unit=unit.name, seed=seed, **options)
    decoded, _, resp, man = run_unit(unit, params, prep.job, sim=sim, seed=seed)
    got = None if decoded is None else prep.results(decoded)
    board = score(prep.job, got if got is not None else [_LOST] * len(prep.want), prep.want,
                  resp, latency=man.get("latency") if prep.latency else None)
    report = {"unit": unit.name, "params": dataclasses.asdict(params), "results": board.total,
              "mismatches_rtl_vs_golden": len(board.mismatches),
              "first_mismatches": board.mismatches[:5],
              "rtl_values": [] if got is None else
              [list(g) if isinstance(g, tuple) else int(g) for g in got],
              "cycles": resp["cycles"], "simulator": sim, **prep.extra}
    if prep.finish:
        report.update(prep.finish(got, resp, man))
    return report


def check_options(unit, given):
    """Refuse an option ``unit`` does not take: ``given`` maps option names to the values
    the user gave (``None``: not given)."""
    for opt, units in OPTIONS.items():
        if given.get(opt) is not None and unit.name not in units:
            name = OPTION_FLAGS.get(opt, f"--{opt}")
            raise UsageError(f"{name} applies to {', '.join(sorted(units))}, not {unit.name}")


"""One run of a unit as plain data: the one encoding of user data that every consumer shares.

A unit's adapter (its registry entry's ``adapter``, beside its parameters in ``golden``) turns
numpy arrays into a :class:`Job`: the columns of its input stream's payload fields, the memory
writes before the stream, the side inputs held during it, and how to decode the output
stream's fields back into numpy. The simulator (:func:`lowbit.sim.runner.run_job`), ``lowbit
compare`` and the host driver (:meth:`lowbit.host.Device.run`) all run jobs; none encodes a
unit's data its own way (STYLE 13).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Job", "chain", "lasts_at", "results_of", "Comparison", "UserData"]


@dataclass
class Job:
    """One run of unit ``unit``.

    Parameters
    ----------
    beats : dict
        ``{field: column}`` of the input stream ``i``'s payload, one entry per beat. A payload
        without named fields is the one column ``"payload"``
        (:func:`lowbit.golden.payload.pack_fields`).
    expect : int
        Output beats the run produces.
    decode : callable
        ``decode({field: column})`` of the output stream ``o``'s beats -> the result (numpy),
        or ``None`` when their count or ``last`` flags are wrong (results lost or duplicated).
    hold : dict
        Side inputs held for the whole run (run-time configuration): ``{port: value}``.
    loads : list of dict
        Memory writes before the stream, in order: ``{port: value}`` each (address, data and
        the ``*_en`` strobe). The simulator drives one a cycle; the driver writes the ports'
        registers, the strobe last.
    beat_ports : dict
        ``{port: [value per beat]}``: side inputs that change with the beats, for runs of
        different configurations back to back (:func:`chain`); the unit samples them with a
        run's first beat.
    last_beats : list of int, optional
        The input beat that completes each result (for the latency seen in simulation).
    labels : list of str, optional
        A name for each result, for mismatch reports.
    calm_beats : int
        Beats at the start that simulation drives with neither idle cycles nor back-pressure,
        so the latency of their results is exact.
    cycles : int, optional
        A generous estimate of the run's cycles (bounds a simulation).
    unit : str, optional
        The unit's registry name, set by :meth:`lowbit.hw.units.Unit.job` (the host driver
        refuses a job for another unit).
    """

    beats: dict
    expect: int
    decode: Callable
    hold: dict = field(default_factory=dict)
    loads: list = field(default_factory=list)
    beat_ports: dict = field(default_factory=dict)
    last_beats: list | None = None
    labels: list | None = None
    calm_beats: int = 32
    cycles: int | None = None
    unit: str | None = None

    def __len__(self):
        """Input beats."""
        return len(next(iter(self.beats.values()))) if self.beats else 0

    def load_columns(self):
        """:attr:`loads` as ``{port: [value per cycle]}`` (ports a write does not name are 0
        in that cycle)."""
        ports = list(dict.fromkeys(p for w in self.loads for p in w))
        return {p: [int(w.get(p, 0)) for w in self.loads] for p in ports}


def lasts_at(flags, sizes):
    """Whether the ``last`` flags mark exactly the ends of consecutive results of ``sizes``."""
    ends = np.cumsum(sizes) - 1
    return np.array_equal(np.flatnonzero(np.asarray(flags, dtype=np.int64)), ends)


def results_of(out, name, shape, sizes=None):
    """Field ``name`` of the output beats as an int64 array of ``shape``, or ``None`` when
    the count or (with ``sizes``, the output beats of each result) the ``last`` flags are
    wrong."""
    col = np.asarray(out[name], dtype=np.int64)
    if col.size != int(np.prod(shape)):
        return None
    if sizes is not None and not lasts_at(out["last"], sizes):
        return None
    return col.reshape(shape)


def chain(jobs):
    """Jobs of one unit back to back in one stream: their beats follow each other, each job's
    :attr:`~Job.hold` values ride with its beats (:attr:`~Job.beat_ports`), and the decoded
    result is the list of each job's result (``None`` when any is ``None``)."""
    if not jobs:
        raise ValueError("chain needs at least one job")
    if len({j.unit for j in jobs}) != 1 or any(j.loads for j in jobs):
        raise ValueError("chain takes jobs of one unit without memory loads")
    fields = list(jobs[0].beats)
    ports = list(dict.fromkeys(p for j in jobs for p in (*j.hold, *j.beat_ports)))
    beats = {f: [v for j in jobs for v in j.beats[f]] for f in fields}
    side = {p: [v for j in jobs
                for v in (j.beat_ports[p] if p in j.beat_ports else [j.hold[p]] * len(j))]
            for p in ports}
    offsets = np.cumsum([0] + [len(j) for j in jobs])
    bounds = np.cumsum([0] + [j.expect for j in jobs])

    def decode(out):
        if len(next(iter(out.values()))) != bounds[-1]:
            return None
        parts = [j.decode({k: v[a:b] for k, v in out.items()})
                 for j, a, b in zip(jobs, bounds[:-1], bounds[1:])]
        return None if any(p is None for p in parts) else parts

    lasts = [b + o for j, o in zip(jobs, offsets) for b in (j.last_beats or [])]
    return Job(beats, int(bounds[-1]), decode, beat_ports=side, unit=jobs[0].unit,
               last_beats=lasts if all(j.last_beats for j in jobs) else None,
               labels=[x for j in jobs for x in (j.labels or [""] * j.expect)],
               calm_beats=jobs[0].calm_beats,
               cycles=sum(j.cycles or 0 for j in jobs) or None)


@dataclass
class Comparison:
    """A user's data prepared for ``lowbit compare``: the :class:`Job` to run, the golden
    results it must give, and the report's unit-specific parts.

    Parameters
    ----------
    job : Job
        The run (from the unit's adapter).
    want : list
        The golden results in output order (ints, or tuples such as ``(value, overflow)``),
        computed without the code under test.
    results : callable
        ``results(decoded)`` -> the list to compare with :attr:`want` (``decoded`` is never
        ``None`` here).
    extra : dict
        Report fields known before the run (``shape``, ``notes``, ...).
    finish : callable, optional
        ``finish(got, response, manifest)`` -> report fields that need the run (``got`` is
        the list :attr:`results` made, or ``None`` when results were lost).
    latency : bool
        Whether the run's observed latency must equal the manifest's.
    """

    job: Job
    want: list
    results: Callable = list
    extra: dict = field(default_factory=dict)
    finish: Callable | None = None
    latency: bool = False


@dataclass(frozen=True)
class UserData:
    """How ``lowbit compare`` takes a unit's data from files.

    Parameters
    ----------
    prepare : callable
        ``prepare(params, arr, **options)`` -> :class:`Comparison`; ``arr`` is the ``--input``
        array and ``options`` the loaded ``--weights``/``--filter``/... arrays and the
        run options, by :attr:`options` name (absent ones are ``None``), with ``unit`` (the
        unit's name) and ``seed`` (the simulation's). Bad data raises
        :class:`~lowbit.golden.checks.UsageError`.
    options : tuple of str
        The compare options this unit takes beyond ``--input`` (``"filter"``, ``"rhs"``...).
    shape_params : callable, optional
        ``shape_params(arr, items, **files)`` -> the ``-p`` items with the parameters the
        input's shape implies added where the user gave none.
    """

    prepare: Callable
    options: tuple = ()
    shape_params: Callable | None = None

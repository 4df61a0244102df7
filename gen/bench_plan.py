"""``lowbit bench``'s plan: the cases each section runs, as a list of steps with a prior guess
of their time (:class:`Bench`), and the results the steps fill in."""

import dataclasses
from dataclasses import dataclass

from ..golden.checks import UsageError
from ..hw.units import UNITS
from .bench_measure import (
    PRECISIONS,
    SUSTAINED_RUNS,
    Measurer,
    costmodel_entry,
    lost_entry,
    measure_point,
    precision_result,
    sustained_rows,
)

__all__ = ["Bench", "Step", "BISMO", "COSTMODEL_CHECKS", "MATRIX_EXCLUDE", "WINOGRAD_PIPELINE",
           "WINOGRAD_ENGINES", "POPCOUNT_N", "POPCOUNT_PNR_MAX_N", "QUICK_MATRIX_UNITS",
           "QUICK_POPCOUNT_N", "QUICK_COSTMODEL_CHECK"]

#: Units the matrix leaves out: the host link is the harness, not a unit under test.
MATRIX_EXCLUDE = ("link",)
#: Pipeline depth of the Winograd comparison (docs/numbers.md measured the same).
WINOGRAD_PIPELINE = 3
WINOGRAD_ENGINES = ("winograd2d", "direct3x3")
POPCOUNT_N = (16, 64, 256, 1024)
#: Place and route for popcount widths up to this; wider ones get Yosys counts only.
POPCOUNT_PNR_MAX_N = 256
#: How many of :data:`lowbit.boards.costmodel.CHECK_CONFIGS` the costmodel section measures:
#: the first seven take 6-20 s of Yosys each, the last two (39k and 49k LUTs) 2-4 minutes.
COSTMODEL_CHECKS = 7

#: ``--quick``: Yosys counts only, one board, a small case per section (under a minute).
QUICK_MATRIX_UNITS = ("mac", "lfsr")
QUICK_POPCOUNT_N = (16, 64)
#: The quick costmodel case: CHECK_CONFIGS[3], 1 x 128 x 1 (about 7 s of Yosys).
QUICK_COSTMODEL_CHECK = 3

#: BISMO, as docs/numbers.md cites it (Umuroglu et al., FPL 2018): 8 x 256 x 8 DPUs at 200 MHz
#: on a Zynq-7020, 6.5 binary TOPS at peak; its cost model 1.17 Dk + 44.1 LUT6 per DPU.
BISMO = {"dm": 8, "dk": 256, "dn": 8, "mhz": 200.0, "device": "Zynq-7020",
         "lut6_per_dpu_bit": 1.17, "source": "Umuroglu et al., FPL 2018"}


@dataclass
class Step:
    """One step of the run: what the progress line calls it, its time guessed, and what it
    does, given the progress line's ``say``. A step with a ``task`` (``(function, argument)``,
    picklable) has it run on a worker (:class:`lowbit.gen.executor.Workers`), and ``run``
    gets its future as well: ``run(say, future)``."""

    label: str
    estimate: float
    run: object  # callable(say), or callable(say, future) with a task
    task: tuple | None = None


def _board_dsp(unit, board):
    """Whether the matrix maps ``unit``'s multiplies to DSP blocks on ``board``: as
    ``lowbit synth`` does (:func:`lowbit.boards.sizes.board_dsp`: in LUTs where the device has
    too few DSPs)."""
    from ..boards.sizes import board_dsp

    return board_dsp(unit, board.name)


class Bench:
    """The plan (a list of steps) and the results they fill in."""

    def __init__(self, boards, sections, *, quick, pnr, scratch):
        from ..boards import get_board

        self.boards = [get_board(b) for b in boards]
        self.sections = sections
        self.quick = quick
        self.pnr = pnr and not quick
        self.measure = Measurer(scratch, pnr=self.pnr).measure
        self.results = {name: None for name in sections}

    # -- the time a step takes, guessed

    def _guess(self, unit, board, *, dsp=True, pnr=None, params=None):
        pnr = self.pnr if pnr is None else pnr
        if unit == "bitserial" and params is not None:
            from .fit import estimate_bitserial
            try:  # Yosys: about 300 LUTs a second (the cost model's recorded runs)
                yosys = 2 + estimate_bitserial(params, board.family)["lut"] / 300
            except (UsageError, ValueError):  # a family without a cost model
                yosys = 10
            return yosys * (5 if pnr else 1)
        # Prior guesses of a step's seconds (the unit's registry entry: UP5K, 2 cores, warm
        # YoWASP caches) scaled by the board, for the time left until the first steps have
        # run; after that the guesses are scaled by how fast the steps really went.
        with_dsp, in_luts = UNITS[unit].synth_seconds
        seconds = (with_dsp if dsp else in_luts) * board.synth_time_factor
        return seconds if pnr else max(1.5, seconds / 3)

    # -- the plan

    def plan(self):
        steps = []
        for section in self.sections:
            steps += getattr(self, f"_plan_{section}")()
        return steps

    def _plan_matrix(self):
        from ..boards.harness import default_harness
        from ..boards.sizes import board_params

        units = QUICK_MATRIX_UNITS if self.quick else [u for u in UNITS
                                                       if u not in MATRIX_EXCLUDE]
        self.results["matrix"] = {"pnr": self.pnr, "units": list(units), "entries": []}
        steps = []
        for board in self.boards:
            for unit in units:
                params = board_params(unit, board.name)
                dsp = _board_dsp(unit, board)

                harness = default_harness(unit, params)
                spec = {"unit": unit, "board": board.name, "params": params, "dsp": dsp,
                        "pnr": self.pnr, "harness": harness}

                def step(say, future, spec=spec):
                    try:
                        entry = future.result()
                    except Exception as exc:  # a lost worker: a result like a tool's failure
                        entry = lost_entry(spec["unit"], spec["board"], spec["params"],
                                           spec["dsp"], exc)
                    for line in entry.pop("log", None) or [f"{spec['unit']} on "
                                                            f"{spec['board']}: {entry['message']}"]:
                        say(line)  # the worker's progress lines, as they were
                    self.results["matrix"]["entries"].append(entry)
                steps.append(Step(f"{unit} on {board.name}", self._guess(
                    unit, board, params=params, dsp=dsp), step, (measure_point, spec)))
        return steps

    def _plan_precision(self):
        from ..boards.sizes import board_params

        self.results["precision"] = {"precisions": list(PRECISIONS), "bismo": BISMO,
                                     "boards": {}}
        steps = []
        for board in self.boards:
            params = board_params("bitserial", board.name)
            need_synth = self.pnr and ("matrix" not in self.sections
                                       or "bitserial" in MATRIX_EXCLUDE)

            def step(say, params=params, board=board):
                entry = None
                if "matrix" in self.sections:  # its Fmax: the same unit, params and board
                    entry = next((e for e in self.results["matrix"]["entries"]
                                  if e["unit"] == "bitserial" and e["board"] == board.name),
                                 None)
                if entry is None and self.pnr:
                    entry = self.measure("bitserial", params, board, say)
                say(f"precision on {board.name}: golden schedule cycles, wa = wb = "
                    f"{PRECISIONS[0]}..{min(PRECISIONS[-1], params.max_wa, params.max_wb)}")
                result = precision_result(params, board, entry)
                if not self.quick:
                    say(f"precision on {board.name}: sustained, {SUSTAINED_RUNS} back-to-back "
                        f"runs a precision in simulation")
                    result["sustained"] = sustained_rows(params)
                self.results["precision"]["boards"][board.name] = result
            guess = self._guess("bitserial", board, params=params) if need_synth else 0.1
            guess += 0 if self.quick else 120
            steps.append(Step(f"precision on {board.name}", guess, step))
        return steps

    def _plan_winograd(self):
        dsps = (True,) if self.quick else (True, False)
        self.results["winograd"] = {"pipeline": WINOGRAD_PIPELINE, "entries": []}
        steps = []
        for board in self.boards:
            for dsp in dsps:
                for unit in WINOGRAD_ENGINES:
                    # The engines as docs/numbers.md compares them (8-bit data and
                    # weights, C = 1), not at the board sizes: on the UP5K those are 4 x 3
                    # bits, whose multiplies Yosys keeps in LUTs even with DSPs allowed.
                    params = dataclasses.replace(UNITS[unit].defaults(),
                                                 pipeline=WINOGRAD_PIPELINE)

                    def step(say, unit=unit, params=params, board=board, dsp=dsp):
                        entry = self.measure(unit, params, board, say, dsp=dsp,
                                              tag=None if dsp else f"{unit} (--no-dsp)")
                        per_tile = 16 if unit == "winograd2d" else 36  # 2x2 outputs a tile
                        entry.update(engine=unit,
                                     multiplies=per_tile * params.channels,
                                     multiplies_per_output_pixel=per_tile * params.channels / 4)
                        self.results["winograd"]["entries"].append(entry)
                    label = f"{unit} on {board.name}" + ("" if dsp else " (--no-dsp)")
                    steps.append(Step(label, self._guess(unit, board, dsp=dsp), step))
        return steps

    def _plan_popcount(self):
        from ..golden.binary import PopcountParams

        widths = QUICK_POPCOUNT_N if self.quick else POPCOUNT_N
        self.results["popcount"] = {"n": list(widths), "pnr_max_n": POPCOUNT_PNR_MAX_N,
                                    "entries": []}
        steps = []
        for board in self.boards:
            for n in widths:
                for style in ("tree", "plain"):
                    params = PopcountParams(n=n, style=style)
                    pnr = self.pnr and n <= POPCOUNT_PNR_MAX_N

                    def step(say, params=params, board=board, pnr=pnr):
                        entry = self.measure("popcount", params, board, say, pnr=pnr,
                                              tag=f"popcount n={params.n} {params.style}")
                        entry.update(n=params.n, style=params.style)
                        self.results["popcount"]["entries"].append(entry)
                    guess = 5 + n / 20 if pnr else 1.5 + n / 150
                    steps.append(Step(f"popcount n={n} {style} on {board.name}", guess, step))
        return steps

    def _plan_costmodel(self):
        from ..boards.costmodel import CHECK_CONFIGS, load_model

        configs = ([CHECK_CONFIGS[QUICK_COSTMODEL_CHECK]] if self.quick
                   else CHECK_CONFIGS[:COSTMODEL_CHECKS])
        modelled = load_model()
        families = {}
        for board in self.boards:  # one board per family that has a cost model
            if board.family in modelled:
                families.setdefault(board.family, board)
        self.results["costmodel"] = {
            "configs": "held-out", "entries": [],
            "families_without_model": sorted({b.family for b in self.boards} - set(families))}
        steps = []
        for board in families.values():
            for params in configs:
                def step(say, params=params, board=board):
                    self.results["costmodel"]["entries"].append(
                        costmodel_entry(self.measure(
                            "bitserial", params, board, say, pnr=False,
                            tag=f"costmodel {params.dm}x{params.dk}x{params.dn}"),
                            params, board))
                steps.append(Step(
                    f"costmodel {params.dm}x{params.dk}x{params.dn} on {board.family}",
                    self._guess("bitserial", board, pnr=False, params=params), step))
        return steps

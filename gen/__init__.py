"""The ``lowbit`` command line: generate / test / synth / compare / bench, over the layers below.

Nothing imports this package but the console script: the unit registry lives in
:mod:`lowbit.hw.units`, generation in :mod:`lowbit.hw.build`.
"""

import os as _os
import signal as _signal
import sys as _sys


def _interrupted_early(signum, frame):
    # Until main() installs its own handlers (the command line's imports take a second or
    # two): nothing has started that needs cleaning up, so one line and out.
    _sys.stderr.write(f"lowbit: interrupted ({_signal.Signals(signum).name})\n")
    _os._exit(128 + signum)


# Only for the console script (``lowbit``) and ``python -m lowbit.gen.cli``, never for a
# program that imports lowbit.
if _os.path.basename(_sys.argv[0]) in ("lowbit", "-m") if _sys.argv else False:
    for _sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        _signal.signal(_sig, _interrupted_early)

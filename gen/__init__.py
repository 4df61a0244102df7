"""The ``lowbit`` command line: generate / test / synth / compare / bench, over the layers below.

Nothing imports this package but the console script: the unit registry lives in
:mod:`lowbit.hw.units`, generation in :mod:`lowbit.hw.build`.
"""

"""Imports run one way: golden -> hw -> host / boards -> sim -> gen (the CLI) -> tests.

Every import of every source file is read from its syntax tree, those inside functions
included, so a late import cannot hide an upward one.
"""

import ast
from pathlib import Path

import lowbit.golden
import pytest

ROOT = Path(lowbit.golden.__file__).resolve().parent.parent
#: A package may import its own rank and below; same-rank packages must not import each other.
RANK = {"golden": 0, "hw": 1, "host": 2, "boards": 2, "sim": 3, "gen": 4, "tests": 5}


def _imports(path, package):
    """``(line, imported lowbit package)`` for each import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module == "lowbit":  # from lowbit import sim
                names = [f"lowbit.{a.name}" for a in node.names]
            elif node.level == 0:
                names = [node.module or ""]
            elif node.level == 1:
                names = [f"lowbit.{package}"]
            else:  # from ..x import y: a sibling package (or lowbit itself with names)
                names = [f"lowbit.{node.module}"] if node.module else \
                    [f"lowbit.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "lowbit" and len(parts) > 1:
                yield node.lineno, parts[1]


def _edges():
    for package in RANK:
        for path in sorted((ROOT / package).glob("*.py")):
            for line, target in _imports(path, package):
                yield f"{package}/{path.name}:{line}", package, target


def test_every_package_is_ranked():
    found = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert found <= set(RANK), f"packages without a rank: {sorted(found - set(RANK))}"


def test_no_import_runs_upward():
    upward = [f"{where} imports lowbit.{target}" for where, package, target in _edges()
              if target in RANK and target != package and RANK[target] >= RANK[package]]
    assert not upward, "imports that run upward or sideways:\n" + "\n".join(upward)


def test_imports_are_read(tmp_path):
    # The reader itself: an upward import inside a function is seen.
    src = tmp_path / "x.py"
    src.write_text("def f():\n    from ..gen.cli import main\n    import lowbit.sim\n"
                   "    from lowbit import boards\n")
    assert [t for _, t in _imports(src, "hw")] == ["gen", "sim", "boards"]


@pytest.mark.parametrize("package", ["golden"])
def test_golden_knows_no_hdl(package):
    for path in sorted((ROOT / package).glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 \
                else []
            for mod in mods:
                assert not mod.startswith(("amaranth", "cocotb")), f"{path.name} imports {mod}"

"""The assignment's rule: p1.py imports only os, numpy and matplotlib (and their submodules)."""
import ast
import os

import p1

ALLOWED = {"os", "numpy", "matplotlib"}


def test_p1_imports_only_os_numpy_matplotlib():
    tree = ast.parse(open(p1.__file__).read())
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports are not allowed"
            modules.append(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            raise AssertionError("__import__ is not allowed")
    assert modules and {m.split(".")[0] for m in modules} <= ALLOWED, modules


def test_import_has_no_side_effects():
    # importing p1 (done above) must not train, read data or write files next to it
    here = os.path.dirname(p1.__file__)
    assert callable(p1.main)
    assert not any(name.endswith(".tmp") for name in os.listdir(here))

"""The assignment's rule: p1.py imports only os, numpy and matplotlib (and their submodules)."""
import ast
import os
import shutil
import subprocess
import sys

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


def test_import_has_no_side_effects(tmp_path):
    """Importing p1 must not train, read data or write files, beside it or in the working folder."""
    code, work = tmp_path / "code", tmp_path / "work"
    code.mkdir()
    work.mkdir()
    shutil.copy(p1.__file__, code)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(code), HOME=str(tmp_path / "home"))
    result = subprocess.run([sys.executable, "-c", "import p1; assert callable(p1.main)"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout == "", result.stderr
    assert os.listdir(code) == ["p1.py"] and os.listdir(work) == []

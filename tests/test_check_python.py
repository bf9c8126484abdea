"""tools/check_python.py, make install's first step: a Python the pins have wheels for, or which one to use."""
import ast
import glob
import os
import subprocess
import sys

import pytest

from tools import check_python
from test_requirements import PYTHONS


@pytest.mark.parametrize("version, system, machine, translated, expected", [
    ((3, 11, 7), "Linux", "x86_64", False, None),
    ((3, 10, 0), "Windows", "AMD64", False, None),
    ((3, 15, 2), "Darwin", "arm64", False, None),
    ((3, 12, 1), "Darwin", "x86_64", False, None),      # an Intel Mac's newest Python with PyTorch wheels
    ((3, 9, 6), "Darwin", "arm64", False, "HW1 needs Python 3.10 to 3.15; this is Python 3.9"),   # macOS's own
    ((3, 6, 8), "Linux", "x86_64", False, "HW1 needs Python 3.10 to 3.15; this is Python 3.6"),   # RHEL 8's
    ((3, 16, 0), "Linux", "x86_64", False, "HW1 needs Python 3.10 to 3.15; this is Python 3.16"),
    ((3, 13, 0), "Darwin", "x86_64", False, "on an Intel Mac HW1 needs Python 3.10 to 3.12"),   # Homebrew's
    ((3, 12, 1), "Darwin", "x86_64", True, "HW1 needs an Apple-silicon (arm64) Python; this is Python 3.12 for "
                                           "Intel Macs, run by Rosetta"),
])
def test_each_python_gets_its_verdict(version, system, machine, translated, expected):
    why = check_python.problem(version, system, machine, translated)
    assert why == expected if expected is None else why.startswith(expected)


def test_this_python_passes_in_one_quiet_run():
    result = subprocess.run([sys.executable, check_python.__file__], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_rosetta_is_asked_only_of_an_intel_python_on_a_mac(monkeypatch):
    monkeypatch.setattr(check_python.platform, "system", lambda: "Linux")
    monkeypatch.setattr(check_python.subprocess, "check_output", lambda *a, **k: pytest.fail("sysctl asked"))
    assert check_python.runs_under_rosetta() is False
    monkeypatch.setattr(check_python.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(check_python.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(check_python.subprocess, "check_output", lambda *a, **k: b"1\n")
    assert check_python.runs_under_rosetta() is True


def test_the_pythons_it_accepts_are_those_requirements_txt_pins_for():
    assert PYTHONS[0] == "%d.%d" % check_python.OLDEST and PYTHONS[-1] == "%d.%d" % check_python.NEWEST
    for python in PYTHONS:
        version = tuple(map(int, python.split(".")))
        assert check_python.problem(version, "Linux", "x86_64") is None
        assert (check_python.problem(version, "Darwin", "x86_64") is None) == (version <= (3, 12))


def test_its_syntax_is_old_enough_for_the_pythons_it_turns_away():
    """The test below runs it on old Pythons only where some are installed; this holds everywhere: no f-string
    (Python 3.6), no variable annotation (3.6), no := (3.8)."""
    with open(check_python.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    newer = [f"line {node.lineno}: {type(node).__name__}" for node in ast.walk(tree)
             if isinstance(node, (ast.JoinedStr, ast.AnnAssign, ast.NamedExpr))]
    assert newer == []


OLD_PYTHONS = sorted(set(glob.glob(os.path.expanduser("~/.pyenv/versions/[23].[0-9]*/bin/python"))
                         + glob.glob("/usr/bin/python[23].[0-9]")))


@pytest.mark.skipif(not OLD_PYTHONS, reason="no other Python installed here")
@pytest.mark.parametrize("python", OLD_PYTHONS)
def test_it_runs_on_every_python_found_here_however_old(python):
    result = subprocess.run([python, check_python.__file__], capture_output=True, text=True, timeout=60)
    version = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=60).stdout.strip()
    accepted = version in PYTHONS
    assert result.returncode == (0 if accepted else 1), result.stderr
    assert accepted or result.stderr.startswith(f"make install: HW1 needs Python 3.10 to 3.15; this is Python {version}")

"""Make the bundle's folders importable the way they run: p1 and p2 as plain script folders, theory and tools as
packages of the repository root."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P1_DIR = os.path.join(ROOT, "andrewID-HW1", "p1")
P2_DIR = os.path.join(ROOT, "andrewID-HW1", "p2")

for path in (ROOT, P1_DIR, P2_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402  (after the path set-up above)

# The settings the Makefile and the tools read from the environment: a student's exported values (say
# CIFAR10_DIR=data) must not change what the tests see.
# Under `make test VAR=...`, make also hands VAR to the Makefile tests' own make calls through MAKEFLAGS.
USER_SETTINGS = ("MNIST_DIR", "CIFAR10_DIR", "P2_ARGS", "ANDREW_ID", "ZIP", "P1_PRESET", "P1_OUT",
                 "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """Every test starts without the user's settings."""
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)

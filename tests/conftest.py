"""Make the bundle's folders importable the way they run: p1 and p2 as plain script folders, theory and tools as
packages of the repository root."""
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
P1_DIR = os.path.join(ROOT, "andrewID-HW1", "p1")
P2_DIR = os.path.join(ROOT, "andrewID-HW1", "p2")

for path in (ROOT, P1_DIR, P2_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("MPLBACKEND", "Agg")
# matplotlib's font cache goes to a folder of the tests' own, not the user's home; one per user, since a shared
# /tmp may hold another user's (unwritable: matplotlib would then warn on stderr, which tests read)
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(),
                                                   f"hw1-tests-matplotlib-{getattr(os, 'getuid', lambda: 0)()}"))
# pytest-xdist's workers are processes: their math libraries' threads together must not outnumber the cores, or the
# OpenMP threads spin waiting on each other (a 0.4 s training test took 18 s with 2 workers of 2 threads on 2 cores).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

import pytest  # noqa: E402  (after the path set-up above)

# The settings the Makefile and the tools read from the environment: a student's exported values (say
# CIFAR10_DIR=data) must not change what the tests see.
# Under `make test VAR=...`, make also hands VAR to the Makefile tests' own make calls through MAKEFLAGS.
USER_SETTINGS = ("MNIST_DIR", "CIFAR10_DIR", "P2_ARGS", "ANDREW_ID", "ZIP", "P1_PRESET", "P1_OUT",
                 "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch):
    """Every test starts without the user's settings, and p2 run inside the tests does not look at how much memory
    the machine has free (a laptop running the tests may have less than a CPU run wants; tests that need a figure
    set their own) nor find a Mac's GPU (on a Mac p2 would pick it; tests that need one fake it)."""
    for name in USER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    import cpu_memory
    monkeypatch.setattr(cpu_memory, "available_bytes", lambda: None)
    try:   # p1's and the theory's tests run without torch too
        import devices
    except ImportError:
        return
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    import torch   # p2.main turns cuDNN's kernel search on for the rest of the process: each test gets it back
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", torch.backends.cudnn.benchmark)

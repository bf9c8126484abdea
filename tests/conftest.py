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

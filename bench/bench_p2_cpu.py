"""`make bench-p2-cpu`: the CPU's default recipe (cpu) end to end, on already-decoded data; prints accuracy and
wall time.

Wall time covers the whole p2.py process: loading, training, evaluation with TTA and the report.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

if __name__ == "__main__":
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        sys.exit(print(__doc__.strip() + "\n\nArguments, if any, go to bench/p2_runs.py (default: --data-dir "
                       "data/cifar10)."))
    args = sys.argv[1:] or ["--data-dir", os.path.join(HERE, "..", "data", "cifar10")]
    runner = [sys.executable, os.path.join(HERE, "p2_runs.py"), *args, "--runs", "cpu:0"]
    sys.exit(subprocess.call([*runner, "--", "--device", "cpu"]))
